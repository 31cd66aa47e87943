//! SQLite pool options.

use std::str::FromStr as _;

use core_error::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::sql_pools::{bad_url, pool_options};
use crate::{Backend, DatabaseSettings};

/// A connected pool (holding `min_connections`) for `url`; a missing
/// database file is created, and its folder with it.
///
/// `sqlite::memory:` is one database shared by the pool's connections; it
/// lives while at least one connection is open, so keep
/// `min_connections` at 1 or more for a long-lived in-memory database.
pub(crate) async fn pool(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<sqlx::Result<SqlitePool>> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| bad_url(Backend::Sqlite, url))?
        .create_if_missing(true);
    create_folder(&options)?;
    Ok(pool_options(settings).connect_with(options).await)
}

/// Creates the folder of a file database (`sqlite://data/app.db`), as a
/// fresh checkout or container has none; sqlx creates only the file.
fn create_folder(options: &SqliteConnectOptions) -> Result<()> {
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
