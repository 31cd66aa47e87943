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
    use core_error::{Error, Result};

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

    /// Builds the pool for `url` and proves the server answers by taking
    /// one connection from it.
    pub(crate) async fn connect_sql(
        backend: Backend,
        url: &str,
        settings: &DatabaseSettings,
    ) -> Result<SqlPool> {
        let pool = match backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => SqlPool::Postgres(super::postgres::pool(url, settings)?),
            #[cfg(feature = "mysql")]
            Backend::MySql => SqlPool::MySql(super::mysql::pool(url, settings)?),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => SqlPool::Sqlite(super::sqlite::pool(url, settings)?),
            other => return Err(crate::settings::feature_off(other)),
        };
        let checked = crate::sql::with_pool!(&pool, native => native.acquire().await.map(drop));
        match checked {
            Ok(()) => Ok(pool),
            Err(err) => {
                let site = Site {
                    backend,
                    operation: "db.connect",
                    statement: None,
                    pool: Some(&pool),
                };
                let mapped = error::map(err, &site).with_endpoint(url);
                pool.close().await;
                Err(mapped)
            }
        }
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
