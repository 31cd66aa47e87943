//! MySQL and MariaDB pool options.

use std::str::FromStr as _;

use core_error::Result;
use sqlx::Executor as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool};

use super::sql_pools::{bad_url, pool_options};
use crate::{Backend, DatabaseSettings};

/// A connected pool (holding `min_connections`) for `url` (`mariadb://` is accepted as
/// `mysql://`); `statement_timeout_ms` is set on each new session.
pub(crate) async fn pool(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<sqlx::Result<MySqlPool>> {
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
