//! Migrations compiled into the binary, with one script per SQL engine
//! where the dialects differ.
//!
//! `sqlx::migrate!("./migrations")` embeds one directory, which suits a
//! service that runs on one engine. A service that switches among SQLite,
//! PostgreSQL and MySQL by configuration needs each migration written once
//! per dialect (auto-increment keys, JSON and timestamp types differ);
//! [`EmbeddedMigration`] holds the three, and
//! [`SqlDatabase::migrate_embedded`](crate::sql::SqlDatabase::migrate_embedded)
//! applies the one the connected engine speaks.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::Backend;
use core_error::{Error, Result};

/// One migration, as SQL for each engine.
///
/// ```
/// use core_db::sql::EmbeddedMigration;
///
/// const MIGRATIONS: &[EmbeddedMigration] = &[
///     // Portable SQL: one script for every engine.
///     EmbeddedMigration::portable(1, "users", "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"),
///     // Dialects differ: one script each.
///     EmbeddedMigration {
///         version: 2,
///         description: "events",
///         sqlite: "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)",
///         postgres: "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, body JSONB)",
///         mysql: "CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, body JSON)",
///     },
/// ];
/// # assert_eq!(MIGRATIONS.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedMigration {
    /// Orders the migrations and names them in the history table. Services
    /// sharing one database must use versions of their own.
    pub version: i64,
    /// A few words on what it does, stored beside the version.
    pub description: &'static str,
    /// The script for SQLite.
    pub sqlite: &'static str,
    /// The script for PostgreSQL.
    pub postgres: &'static str,
    /// The script for MySQL and MariaDB.
    pub mysql: &'static str,
}

impl EmbeddedMigration {
    /// A migration whose SQL every engine runs unchanged.
    pub const fn portable(
        version: i64,
        description: &'static str,
        sql: &'static str,
    ) -> EmbeddedMigration {
        EmbeddedMigration {
            version,
            description,
            sqlite: sql,
            postgres: sql,
            mysql: sql,
        }
    }

    fn script_for(&self, backend: Backend) -> Result<&'static str> {
        match backend {
            Backend::Sqlite => Ok(self.sqlite),
            Backend::Postgres => Ok(self.postgres),
            Backend::MySql => Ok(self.mysql),
            other => Err(Error::unsupported(format!(
                "SQL migrations do not apply to {}",
                other.name()
            ))
            .with_operation("db.migrate")
            .with_backend(other.name())),
        }
    }
}

/// The sqlx migrator for `migrations` in `backend`'s dialect.
pub(crate) fn migrator(backend: Backend, migrations: &[EmbeddedMigration]) -> Result<Migrator> {
    let resolved = migrations
        .iter()
        .map(|migration| {
            Ok(Migration::new(
                migration.version,
                Cow::Borrowed(migration.description),
                MigrationType::Simple,
                Cow::Borrowed(migration.script_for(backend)?),
                false,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Migrator {
        migrations: Cow::Owned(resolved),
        ..Migrator::DEFAULT
    })
}
