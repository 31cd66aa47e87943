//! Opening and migrating the SQL database the example services use.

use core_sdk::db::sql::{EmbeddedMigration, SqlDatabase};
use core_sdk::db::{Database, DatabaseSettings};
use core_sdk::error::Result;
use secrecy::ExposeSecret as _;

/// Connects to the SQL database `settings` name (creating an embedded
/// SQLite file's folder first) and returns it both as the `Database` the
/// readiness probe checks and as the SQL handle the service queries.
pub(crate) async fn connect_sql(settings: &DatabaseSettings) -> Result<(Database, SqlDatabase)> {
    core_sdk::web::prepare_sqlite_dir(settings.url.expose_secret())?;
    let database = core_sdk::db::connect(settings).await?;
    let sql = database.sql()?.clone();
    Ok((database, sql))
}

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
