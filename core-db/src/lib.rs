//! `DatabaseBase`: one API over PostgreSQL, MySQL/MariaDB, SQLite and
//! MongoDB, chosen at run time from configuration, without hiding the
//! driver underneath.
//!
//! - [`DatabaseBase`] is what every handle offers: backend name, server
//!   version, health check with a timeout, pool statistics, close.
//! - [`sql::SqlDatabase`] is the SQL front door shared by PostgreSQL, MySQL
//!   and SQLite: parameterised queries, typed and streaming fetches,
//!   transactions with savepoints, isolation levels and retry, read
//!   replicas, migrations, a slow-query log, and the native sqlx pool.
//! - [`document::DocumentStore`] is the MongoDB front door: typed
//!   collections, filters, sort/limit/skip, aggregation, declared indexes
//!   and transactions, and the native `mongodb::Database`.
//! - [`connect`] builds either from a [`DatabaseSettings`] section; each
//!   engine declares its URL schemes and [`Capabilities`] in its module
//!   under [`backends`].
//! - Every SQL statement runs under one stack of layers: a deadline
//!   (`query_timeout_ms`), retries of reads after a lost connection
//!   (`read_attempts`), the slow-query log, metrics
//!   (`db_queries_total`, `db_query_duration_seconds`) and a `db` tracing
//!   span.
//! - `outbox` (feature `outbox`): the transactional outbox, messages written
//!   in a SQL transaction and published through any core-mq queue.
//!
//! Errors are [`core_error::Error`]: a unique violation is `Conflict`, no
//! row is `NotFound`, an exhausted pool is `Timeout`, a lost server is
//! `Unavailable` (temporary), a serialization failure or deadlock is a
//! temporary `Conflict`.
//!
//! ```
//! use core_db::{DatabaseBase as _, DatabaseSettings, connect};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
//! // `sqlite::memory:` here; `postgres://…` or `mysql://…` in production.
//! let db = connect(&DatabaseSettings::from_url("sqlite::memory:")).await?;
//! let sql = db.sql()?;
//! sql.query("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)").execute().await?;
//! sql.query("INSERT INTO kv VALUES (?, ?)").bind("greeting").bind("héllo").execute().await?;
//! let v: Option<(String,)> = sql.query("SELECT v FROM kv WHERE k = ?").bind("greeting").fetch_optional().await?;
//! assert_eq!(v.unwrap().0, "héllo");
//! assert!(sql.health(std::time::Duration::from_secs(1)).await.is_ok());
//! # Ok(()) }
//! ```
//!
//! # Driver versions
//!
//! `core_db::sqlx` and `core_db::mongodb` re-export the drivers this crate
//! is built on. A driver's breaking version (sqlx 0.8 → 0.9, mongodb 3 → 4)
//! changes only with a minor version of this SDK, named in its release
//! notes; an SDK patch release never changes it. Use the drivers through
//! these re-exports rather than as direct dependencies, and the two can
//! never drift apart.
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod backends;
mod capability;
mod connect;
#[allow(dead_code, reason = "unused when no backend is compiled in")]
mod layers;
mod registration;
mod settings;

#[cfg(feature = "mongodb")]
pub use backends::mongodb as document;
#[cfg(all(
    feature = "outbox",
    any(feature = "postgres", feature = "mysql", feature = "sqlite")
))]
pub mod outbox;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub mod sql;

pub use backend::{Backend, DatabaseBase, Health, PoolStats};
pub use capability::Capabilities;
pub use connect::{Database, connect};
pub use core_error::{Error, ErrorKind, Result};
/// The MongoDB driver this crate is built on (3.x), for its types
/// (`bson`, options) in your code without a second version of it. Its
/// major version moves only with this SDK's minor version (see the crate
/// docs, "Driver versions").
#[cfg(feature = "mongodb")]
pub use mongodb;
pub use settings::DatabaseSettings;
/// The sqlx this crate is built on (0.8), for its types (`FromRow`,
/// `Row`, `PgPool`) without a second version of it. Its breaking version
/// moves only with this SDK's minor version (see the crate docs, "Driver
/// versions").
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use sqlx;
