//! PostgreSQL pool options.

use std::str::FromStr as _;

use core_error::Result;
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::sql_pools::{bad_url, pool_options};
use crate::{Backend, DatabaseSettings};

/// A connected pool (holding `min_connections`) for `url`; `statement_timeout_ms` becomes the
/// session's `statement_timeout`, sent in the startup packet (no extra
/// round trip per connection).
pub(crate) async fn pool(url: &str, settings: &DatabaseSettings) -> Result<sqlx::Result<PgPool>> {
    // sqlx builds its TLS configuration with the process default provider.
    core_error::install_ring_provider();
    let mut options =
        PgConnectOptions::from_str(url).map_err(|_| bad_url(Backend::Postgres, url))?;
    if let Some(timeout) = settings.statement_timeout() {
        options = options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    Ok(pool_options(settings).connect_with(options).await)
}
