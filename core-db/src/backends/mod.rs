//! One module per engine: its `REGISTRATION` (URL schemes, feature,
//! [`Capabilities`](crate::Capabilities), how it is opened), always
//! compiled so a URL names it whatever the features, and its driver code
//! behind its cargo feature.
//!
//! | engine | feature | URL | module |
//! |---|---|---|---|
//! | PostgreSQL | `postgres` | `postgres://`, `postgresql://` | `postgres` |
//! | MySQL / MariaDB | `mysql` | `mysql://`, `mariadb://` | `mysql` |
//! | SQLite | `sqlite` | `sqlite://`, `sqlite::memory:` | `sqlite` |
//! | MongoDB | `mongodb` | `mongodb://`, `mongodb+srv://` | [`mongodb`] |
//!
//! The SQL engines are a closed set on purpose: `SqlPool`, a query's bound
//! arguments and `NativeTransaction` are enums with a variant per engine,
//! so every statement binds and decodes its engine's own sqlx types (JSON,
//! dates, UUIDs, arrays, anything with `Encode` and `Decode` for it). An
//! engine trait has to erase the values it carries: sqlx's own such trait,
//! its `Any` driver, knows booleans, integers, floats, text and bytes only.
//! Its speed is not the reason (docs/BENCHMARKS.md, `select_by_pk`,
//! `sqlx-any-driver` beside `raw-sqlx`). Adding an engine means a module
//! like these, its line in `REGISTRY`, and its variant in those enums
//! (docs/BACKENDS.md).

pub mod mongodb;
mod mysql;
mod postgres;
mod sqlite;

use crate::registration::Registration;
use crate::{Backend, Capabilities};

/// Every engine this crate knows, compiled in or not, one line each;
/// [`connect`](crate::connect) picks by URL scheme.
pub(crate) const REGISTRY: &[Registration] = &[
    postgres::REGISTRATION,
    mysql::REGISTRATION,
    sqlite::REGISTRATION,
    mongodb::REGISTRATION,
];

impl Backend {
    /// What this engine can do, as its module in `backends/` declares it
    /// (whether or not its feature is compiled in).
    ///
    /// ```
    /// use core_db::Backend;
    ///
    /// assert!(Backend::MySql.capabilities().isolation_levels);
    /// assert!(!Backend::MongoDb.capabilities().sql);
    /// ```
    pub fn capabilities(self) -> Capabilities {
        REGISTRY
            .iter()
            .find(|registration| registration.backend == self)
            .map(|registration| registration.capabilities)
            .expect("every Backend has a line in backends::REGISTRY")
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod sql_pools {
    use std::future::Future;

    use core_error::{Error, ErrorKind, Result};
    use futures::future::BoxFuture;

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

    /// An engine's `open`: its `pool` future for `url`, the outcome mapped
    /// by [`connected`] and the pool wrapped as a [`SqlPool`](crate::sql::SqlPool).
    pub(crate) fn opened<'a, P: 'a>(
        backend: Backend,
        url: &'a str,
        settings: &'a DatabaseSettings,
        pool: impl Future<Output = Result<sqlx::Result<P>>> + Send + 'a,
        variant: fn(P) -> crate::sql::SqlPool,
    ) -> BoxFuture<'a, Result<crate::sql::SqlPool>> {
        Box::pin(async move { connected(backend, url, settings, pool.await?).map(variant) })
    }

    /// Maps the outcome of connecting a new pool for `url`: a pool that
    /// timed out opening its first connection found no server, it was not
    /// exhausted.
    fn connected<P>(
        backend: Backend,
        url: &str,
        settings: &DatabaseSettings,
        pool: sqlx::Result<P>,
    ) -> Result<P> {
        pool.map_err(|err| {
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
