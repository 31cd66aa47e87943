//! The native sqlx pool behind a [`SqlDatabase`](super::SqlDatabase).

use crate::{Backend, PoolStats};

/// The sqlx pool of one engine: the escape hatch to everything the portable
/// API does not cover (`COPY`, `LISTEN`, engine-specific types, macros).
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn example(db: &core_db::sql::SqlDatabase) -> Result<(), sqlx::Error> {
/// if let core_db::sql::SqlPool::Sqlite(pool) = db.pool() {
///     sqlx::query("PRAGMA optimize").execute(pool).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlPool {
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL or MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// An SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// Evaluates `$body` with `$pool` bound to the concrete sqlx pool.
macro_rules! with_pool {
    ($value:expr, $pool:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "postgres")]
            $crate::sql::SqlPool::Postgres($pool) => $body,
            #[cfg(feature = "mysql")]
            $crate::sql::SqlPool::MySql($pool) => $body,
            #[cfg(feature = "sqlite")]
            $crate::sql::SqlPool::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl SqlPool {
    /// The engine of this pool.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            SqlPool::MySql(_) => Backend::MySql,
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The pool's current size against its limits.
    pub fn stats(&self) -> PoolStats {
        with_pool!(self, pool => PoolStats {
            size: Some(pool.size()),
            idle: Some(u32::try_from(pool.num_idle()).unwrap_or(u32::MAX)),
            max: pool.options().get_max_connections(),
            min: pool.options().get_min_connections(),
        })
    }

    /// Whether every connection the pool may open is open: a caller that
    /// timed out waiting then met exhaustion, not an unreachable server.
    pub(crate) fn is_saturated(&self) -> bool {
        with_pool!(self, pool => pool.size() >= pool.options().get_max_connections())
    }

    /// Closes every connection and refuses new acquisitions.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
