//! MySQL and MariaDB: their URL schemes, what they can do, and the pool
//! options.

use crate::registration::{Registration, when_feature};
use crate::{Backend, Capabilities};

pub(crate) const REGISTRATION: Registration = Registration {
    backend: Backend::MySql,
    schemes: &["mysql", "mariadb"],
    feature: "mysql",
    capabilities: Capabilities::ALL,
    open: when_feature!("mysql", crate::registration::Open::Sql(open)),
};

#[cfg(feature = "mysql")]
fn open<'a>(
    url: &'a str,
    settings: &'a crate::DatabaseSettings,
) -> futures::future::BoxFuture<'a, core_error::Result<crate::sql::SqlPool>> {
    super::sql_pools::opened(
        Backend::MySql,
        url,
        settings,
        pool(url, settings),
        crate::sql::SqlPool::MySql,
    )
}

/// A connected pool (holding `min_connections`) for `url` (`mariadb://` is accepted as
/// `mysql://`); `statement_timeout_ms` is set on each new session.
#[cfg(feature = "mysql")]
async fn pool(
    url: &str,
    settings: &crate::DatabaseSettings,
) -> core_error::Result<sqlx::Result<sqlx::MySqlPool>> {
    use std::str::FromStr as _;

    use sqlx::Executor as _;
    use sqlx::mysql::MySqlConnectOptions;

    use super::sql_pools::{bad_url, pool_options};

    // sqlx builds its TLS configuration with the process default provider.
    core_error::install_ring_provider();
    let normalized = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_string(),
    };
    let options =
        MySqlConnectOptions::from_str(&normalized).map_err(|_| bad_url(Backend::MySql, url))?;
    let timeout_ms = settings
        .statement_timeout()
        .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    let pool = match timeout_ms {
        None => pool_options(settings),
        Some(ms) => pool_options::<sqlx::MySql>(settings).after_connect(move |conn, _| {
            Box::pin(async move {
                // MariaDB counts seconds (any statement); MySQL counts
                // milliseconds (SELECT only) under another name.
                let mariadb = format!("SET SESSION max_statement_time = {}", ms as f64 / 1000.0);
                if conn.execute(mariadb.as_str()).await.is_err() {
                    let mysql = format!("SET SESSION max_execution_time = {ms}");
                    conn.execute(mysql.as_str()).await?;
                }
                Ok(())
            })
        }),
    };
    Ok(pool.connect_with(options).await)
}
