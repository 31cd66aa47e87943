//! SQLite: its URL scheme, what it can do, and the pool options.

#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqliteConnectOptions;

use crate::registration::{Registration, when_feature};
use crate::{Backend, Capabilities};

pub(crate) const REGISTRATION: Registration = Registration {
    backend: Backend::Sqlite,
    schemes: &["sqlite"],
    feature: "sqlite",
    capabilities: Capabilities {
        isolation_levels: false,
        statement_timeout: false,
        concurrent_writes: false,
        ..Capabilities::ALL
    },
    open: when_feature!("sqlite", crate::registration::Open::Sql(open)),
};

#[cfg(feature = "sqlite")]
fn open<'a>(
    url: &'a str,
    settings: &'a crate::DatabaseSettings,
) -> futures::future::BoxFuture<'a, core_error::Result<crate::sql::SqlPool>> {
    super::sql_pools::opened(
        Backend::Sqlite,
        url,
        settings,
        pool(url, settings),
        crate::sql::SqlPool::Sqlite,
    )
}

/// A connected pool (holding `min_connections`) for `url`; a missing
/// database file is created, and its folder with it.
///
/// `sqlite::memory:` is one database shared by the pool's connections; it
/// lives while at least one connection is open, so keep
/// `min_connections` at 1 or more for a long-lived in-memory database.
#[cfg(feature = "sqlite")]
async fn pool(
    url: &str,
    settings: &crate::DatabaseSettings,
) -> core_error::Result<sqlx::Result<sqlx::SqlitePool>> {
    use std::str::FromStr as _;

    use super::sql_pools::{bad_url, pool_options};

    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| bad_url(Backend::Sqlite, url))?
        .create_if_missing(true);
    create_folder(&options)?;
    Ok(pool_options(settings).connect_with(options).await)
}

/// Creates the folder of a file database (`sqlite://data/app.db`), as a
/// fresh checkout or container has none; sqlx creates only the file.
#[cfg(feature = "sqlite")]
fn create_folder(options: &SqliteConnectOptions) -> core_error::Result<()> {
    let file = options.get_filename();
    let Some(folder) = file
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    else {
        return Ok(());
    };
    if folder.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(folder).map_err(|err| {
        core_error::Error::unavailable(format!(
            "cannot create the SQLite database's folder {}",
            folder.display()
        ))
        .with_key("database.url")
        .with_operation("db.connect")
        .with_backend(Backend::Sqlite.name())
        .with_source(err)
    })
}
