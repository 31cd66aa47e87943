//! Connecting whichever engine the settings name.

use std::sync::Arc;

use core_error::{Error, Result};

use crate::{Backend, DatabaseBase, DatabaseSettings};

/// A connected database of either data model, as [`connect`] returns it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Database {
    /// PostgreSQL, MySQL/MariaDB or SQLite.
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    Sql(crate::sql::SqlDatabase),
    /// MongoDB.
    #[cfg(feature = "mongodb")]
    Document(crate::document::DocumentStore),
}

impl Database {
    /// The SQL front door.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the
    /// settings named a document database.
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    pub fn sql(&self) -> Result<&crate::sql::SqlDatabase> {
        match self {
            Database::Sql(db) => Ok(db),
            #[allow(unreachable_patterns)]
            other => Err(wrong_model(other.base().backend(), "SQL")),
        }
    }

    /// The document front door.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the
    /// settings named a SQL database.
    #[cfg(feature = "mongodb")]
    pub fn document(&self) -> Result<&crate::document::DocumentStore> {
        match self {
            Database::Document(store) => Ok(store),
            #[allow(unreachable_patterns)]
            other => Err(wrong_model(other.base().backend(), "document")),
        }
    }

    /// The lifecycle and monitoring view shared by both models.
    pub fn base(&self) -> &dyn DatabaseBase {
        match *self {
            #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
            Database::Sql(ref db) => db,
            #[cfg(feature = "mongodb")]
            Database::Document(ref store) => store,
        }
    }

    /// The same view, shareable.
    pub fn into_base(self) -> Arc<dyn DatabaseBase> {
        match self {
            #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
            Database::Sql(db) => Arc::new(db),
            #[cfg(feature = "mongodb")]
            Database::Document(store) => Arc::new(store),
        }
    }
}

#[allow(dead_code, reason = "unused when only one data model is compiled in")]
fn wrong_model(backend: Backend, wanted: &str) -> Error {
    Error::invalid_input(format!(
        "database.url names a {backend} database, which has no {wanted} API"
    ))
    .with_operation("db.connect")
    .with_key("database.url")
}

/// Connects the engine `settings.url` names.
///
/// ```
/// use core_db::{DatabaseSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
/// let db = connect(&DatabaseSettings::from_url("sqlite::memory:")).await?;
/// assert_eq!(db.base().backend().name(), "sqlite");
/// let (two,): (i64,) = db.sql()?.query("SELECT 1 + 1").fetch_one().await?;
/// assert_eq!(two, 2);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the bad
/// key; [`Unsupported`](core_error::ErrorKind::Unsupported) for an engine
/// whose cargo feature is off; the engine's connection errors.
pub async fn connect(settings: &DatabaseSettings) -> Result<Database> {
    settings.validate()?;
    match crate::settings::registration(settings)?.open()? {
        #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
        crate::registration::Open::Sql(_) => Ok(Database::Sql(
            crate::sql::SqlDatabase::connect(settings).await?,
        )),
        #[cfg(feature = "mongodb")]
        crate::registration::Open::Document(open) => Ok(Database::Document(open(settings).await?)),
    }
}
