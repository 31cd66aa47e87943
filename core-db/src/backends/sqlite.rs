//! SQLite pool options.

use std::str::FromStr as _;

use core_error::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use super::sql_pools::{bad_url, pool_options};
use crate::{Backend, DatabaseSettings};

/// A connected pool (holding `min_connections`) for `url`; a missing database file is created.
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
    Ok(pool_options(settings).connect_with(options).await)
}
