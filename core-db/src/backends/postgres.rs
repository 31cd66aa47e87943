//! PostgreSQL: its URL schemes, what it can do, and its pool options.

use crate::registration::{Registration, when_feature};
use crate::{Backend, Capabilities};

pub(crate) const REGISTRATION: Registration = Registration {
    backend: Backend::Postgres,
    schemes: &["postgres", "postgresql"],
    feature: "postgres",
    capabilities: Capabilities::ALL,
    open: when_feature!("postgres", crate::registration::Open::Sql(open)),
};

#[cfg(feature = "postgres")]
fn open<'a>(
    url: &'a str,
    settings: &'a crate::DatabaseSettings,
) -> futures::future::BoxFuture<'a, core_error::Result<crate::sql::SqlPool>> {
    super::sql_pools::opened(
        Backend::Postgres,
        url,
        settings,
        pool(url, settings),
        crate::sql::SqlPool::Postgres,
    )
}

/// A connected pool (holding `min_connections`) for `url`; `statement_timeout_ms` becomes the
/// session's `statement_timeout`, sent in the startup packet (no extra
/// round trip per connection).
#[cfg(feature = "postgres")]
async fn pool(
    url: &str,
    settings: &crate::DatabaseSettings,
) -> core_error::Result<sqlx::Result<sqlx::PgPool>> {
    use std::str::FromStr as _;

    // sqlx builds its TLS configuration with the process default provider.
    core_error::install_ring_provider();
    let mut options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|_| super::sql_pools::bad_url(Backend::Postgres, url))?;
    if let Some(timeout) = settings.statement_timeout() {
        options = options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    Ok(super::sql_pools::pool_options(settings)
        .connect_with(options)
        .await)
}
