//! Migrating a database that several example services share.

use core_sdk::db::sql::{EmbeddedMigration, SqlDatabase};
use core_sdk::error::Result;

/// Applies `migrations` (one script per engine, compiled in) that the
/// database has not seen yet.
///
/// The history table is shared: with embedded backends the order service
/// and its in-process notification worker use one SQLite file, and in a
/// deployment the services may share one database. Each service keeps its
/// own version range, so versions another service applied are not an error.
pub(crate) async fn migrate(db: &SqlDatabase, migrations: &[EmbeddedMigration]) -> Result<()> {
    let mut migrator = db.embedded_migrator(migrations)?;
    migrator.set_ignore_missing(true);
    db.migrate(&migrator).await
}
