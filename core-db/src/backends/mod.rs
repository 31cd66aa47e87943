//! One module per engine, each compiled only under its cargo feature: how
//! the settings become that driver's pool options.
//!
//! | engine | feature | module |
//! |---|---|---|
//! | PostgreSQL | `postgres` | `postgres` |
//! | MySQL / MariaDB | `mysql` | `mysql` |
//! | SQLite | `sqlite` | `sqlite` |
//! | MongoDB | `mongodb` | [`mongodb`] |

#[cfg(feature = "mongodb")]
pub mod mongodb;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) use sql_pools::connect_sql;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod sql_pools {
    use core_error::{Error, ErrorKind, Result};

    use crate::sql::SqlPool;
    use crate::sql::error::{self, Site};
    use crate::{Backend, DatabaseSettings};

    /// The pool options every sqlx engine shares, from the settings.
    pub(crate) fn pool_options<DB: sqlx::Database>(
        settings: &DatabaseSettings,
    ) -> sqlx::pool::PoolOptions<DB> {
        sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(settings.max_connections)
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout())
            .idle_timeout(settings.idle_timeout())
            .max_lifetime(settings.max_lifetime())
            .test_before_acquire(settings.test_before_acquire)
    }

    /// Builds the pool for `url`, opening `min_connections` (at least one,
    /// proving the server answers) within `acquire_timeout_ms`.
    pub(crate) async fn connect_sql(
        backend: Backend,
        url: &str,
        settings: &DatabaseSettings,
    ) -> Result<SqlPool> {
        let connected = match backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => super::postgres::pool(url, settings)
                .await?
                .map(SqlPool::Postgres),
            #[cfg(feature = "mysql")]
            Backend::MySql => super::mysql::pool(url, settings).await?.map(SqlPool::MySql),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => super::sqlite::pool(url, settings)
                .await?
                .map(SqlPool::Sqlite),
            other => return Err(crate::settings::feature_off(other)),
        };
        connected.map_err(|err| {
            let site = Site {
                backend,
                operation: "db.connect",
                statement: None,
                pool: None,
            };
            let mapped = error::map(err, &site).with_endpoint(url);
            if mapped.kind() == ErrorKind::Timeout {
                // A new pool has no busy connections: timing out here means
                // no connection could be opened at all.
                Error::unavailable(format!(
                    "no connection to {backend} could be opened within {:?}",
                    settings.acquire_timeout()
                ))
                .with_operation("db.connect")
                .with_backend(backend.name())
                .with_endpoint(url)
                .with_source(mapped)
            } else {
                mapped
            }
        })
    }

    /// The error for a URL the driver cannot parse. The driver's message is
    /// left out of the text: it may quote the URL, password included.
    pub(crate) fn bad_url(backend: Backend, url: &str) -> Error {
        Error::invalid_input(format!("database.url is not a valid {backend} URL"))
            .with_operation("db.connect")
            .with_backend(backend.name())
            .with_key("database.url")
            .with_endpoint(url)
    }
}
