//! Migrations compiled into the binary, one SQL script per engine, so a
//! service migrates its own schema at start with nothing on disk.
//!
//! Used by the order service and the notification worker (this file is
//! theirs; the shared plumbing lives in the other `common/` files).

use core_sdk::db::Backend;
use core_sdk::db::sql::SqlDatabase;
use core_sdk::db::sqlx::error::BoxDynError;
use core_sdk::db::sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use core_sdk::error::{Error, Result};
use futures::future::BoxFuture;

/// One migration, written once per engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedMigration {
    /// Unique across every migrator sharing a database (the history table
    /// is shared): the order service and the notification worker use
    /// different ranges.
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) sqlite: &'static str,
    pub(crate) postgres: &'static str,
    pub(crate) mysql: &'static str,
}

#[derive(Debug)]
struct Source(Vec<Migration>);

impl MigrationSource<'static> for Source {
    fn resolve(self) -> BoxFuture<'static, std::result::Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

/// Applies `migrations` in the dialect of `db` that it has not seen yet.
///
/// Versions applied by another service's migrator in the same database are
/// ignored rather than reported as missing: with embedded backends the
/// order service and its in-process notification worker share one file.
pub(crate) async fn migrate(db: &SqlDatabase, migrations: &[EmbeddedMigration]) -> Result<()> {
    let backend = db.pool().backend();
    let resolved = migrations
        .iter()
        .map(|migration| {
            let sql = match backend {
                Backend::Sqlite => migration.sqlite,
                Backend::Postgres => migration.postgres,
                Backend::MySql => migration.mysql,
                other => {
                    return Err(Error::unsupported(format!(
                        "no migrations for {}: use PostgreSQL, MySQL or SQLite",
                        other.name()
                    ))
                    .with_key("database.url")
                    .with_operation("db.migrate"));
                }
            };
            Ok(Migration::new(
                migration.version,
                migration.description.into(),
                MigrationType::Simple,
                sql.into(),
                false,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut migrator = Migrator::new(Source(resolved)).await.map_err(|err| {
        Error::internal("the embedded migrations could not be read")
            .with_operation("db.migrate")
            .with_source(err)
    })?;
    migrator.set_ignore_missing(true);
    db.migrate(&migrator).await
}
