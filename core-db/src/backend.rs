//! The trait every database handle implements, whatever its data model.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use core_error::Result;

use crate::Capabilities;

/// Which database engine a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// Embedded SQLite.
    Sqlite,
    /// MongoDB or a server speaking its wire protocol.
    MongoDb,
}

impl Backend {
    /// The name used in errors, logs and metrics, such as `"postgres"`.
    ///
    /// ```
    /// use core_db::Backend;
    ///
    /// assert_eq!(Backend::MySql.name(), "mysql");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
            Backend::MongoDb => "mongodb",
        }
    }

    /// Whether this engine speaks SQL (and is reached through [`SqlDatabase`](crate::sql::SqlDatabase)).
    pub fn is_sql(self) -> bool {
        self.capabilities().sql
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a successful [`health`](DatabaseBase::health) check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// How long the round trip to the server took.
    pub latency: Duration,
}

/// A snapshot of a connection pool.
///
/// Fields the driver does not expose are `None` (the MongoDB driver keeps
/// its pool private).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections open now, idle or in use.
    pub size: Option<u32>,
    /// Open connections waiting for work.
    pub idle: Option<u32>,
    /// The most connections the pool opens.
    pub max: u32,
    /// The fewest connections the pool keeps open.
    pub min: u32,
}

/// What every database handle offers, SQL or document.
///
/// Services keep an `Arc<dyn DatabaseBase>` for lifecycle and monitoring
/// (readiness probes, dashboards, shutdown) and use the typed front door —
/// [`SqlDatabase`](crate::sql::SqlDatabase) or
/// [`DocumentStore`](crate::document::DocumentStore) — for data.
#[async_trait]
pub trait DatabaseBase: Send + Sync + fmt::Debug {
    /// The engine behind this handle.
    fn backend(&self) -> Backend;

    /// What the engine behind this handle can do.
    fn capabilities(&self) -> Capabilities {
        self.backend().capabilities()
    }

    /// The server's version string, as the server reports it.
    async fn server_version(&self) -> Result<String>;

    /// Runs one trivial round trip and reports how long it took.
    ///
    /// # Errors
    ///
    /// [`Timeout`](core_error::ErrorKind::Timeout) when no answer came within
    /// `timeout`; the driver's error mapped into the shared kinds otherwise.
    async fn health(&self, timeout: Duration) -> Result<Health>;

    /// The connection pool's current state.
    fn pool_stats(&self) -> PoolStats;

    /// Closes every connection; later calls fail with
    /// [`Unavailable`](core_error::ErrorKind::Unavailable).
    async fn close(&self);
}

/// Runs `check` under `timeout`, measuring its latency.
#[allow(dead_code, reason = "unused when no backend is compiled in")]
pub(crate) async fn timed_health<F>(backend: Backend, timeout: Duration, check: F) -> Result<Health>
where
    F: std::future::Future<Output = Result<()>>,
{
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(())) => Ok(Health {
            latency: started.elapsed(),
        }),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(core_error::Error::timeout(format!(
            "the database did not answer the health check within {timeout:?}"
        ))
        .with_operation("db.health")
        .with_backend(backend.name())),
    }
}
