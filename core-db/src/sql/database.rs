//! [`SqlDatabase`]: pools, routing, lifecycle.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use secrecy::ExposeSecret as _;

use super::error::{self, Site};
use super::transaction::{self, TxOptions};
use super::{EmbeddedMigration, Query, Shared, SqlPool, Transaction, with_pool};
use crate::layers::Layers;
use crate::{Backend, DatabaseBase, DatabaseSettings, Health, PoolStats};

/// A SQL database: a primary pool, optional read replicas, and the portable
/// query API over them. Cheap to clone; clones share the pools.
///
/// ```
/// use core_db::DatabaseSettings;
/// use core_db::sql::SqlDatabase;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
/// // `sqlite::memory:` here; `postgres://…` in production, same code.
/// let db = SqlDatabase::connect(&DatabaseSettings::from_url("sqlite::memory:")).await?;
/// db.query("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").execute().await?;
/// db.query("INSERT INTO users (id, name) VALUES (?, ?)").bind(1_i64).bind("Ada").execute().await?;
///
/// #[derive(sqlx::FromRow)]
/// struct User { id: i64, name: String }
/// let user: User = db.query("SELECT id, name FROM users WHERE id = ?").bind(1_i64).fetch_one().await?;
/// assert_eq!((user.id, user.name.as_str()), (1, "Ada"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlDatabase {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    primary: SqlPool,
    replicas: Vec<SqlPool>,
    next_replica: AtomicUsize,
}

impl SqlDatabase {
    /// Opens the pools `settings` describe and checks that the primary answers.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the bad
    /// key; [`Unsupported`](core_error::ErrorKind::Unsupported) for an engine
    /// whose feature is off or a MongoDB URL;
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) when the server
    /// cannot be reached within `acquire_timeout_ms`.
    pub async fn connect(settings: &DatabaseSettings) -> Result<SqlDatabase> {
        settings.validate()?;
        let registration = crate::settings::registration(settings)?;
        #[allow(unreachable_patterns, reason = "without mongodb, every engine is SQL")]
        let open = match registration.open()? {
            crate::registration::Open::Sql(open) => open,
            _ => {
                return Err(Error::invalid_input(format!(
                    "database.url names a {} server, which has no SQL API; use DocumentStore",
                    registration.backend
                ))
                .with_operation("db.connect")
                .with_key("database.url"));
            }
        };
        let primary = open(settings.url.expose_secret(), settings).await?;
        let mut replicas = Vec::with_capacity(settings.replica_urls.len());
        for replica in &settings.replica_urls {
            replicas.push(open(replica.expose_secret(), settings).await?);
        }
        Ok(SqlDatabase::from_pools(primary, replicas, settings))
    }

    /// Wraps pools built elsewhere (for options these settings do not
    /// cover); `settings` supplies the slow-query threshold and retry count.
    /// Replicas of another engine than the primary are left out.
    pub fn from_pools(
        primary: SqlPool,
        replicas: Vec<SqlPool>,
        settings: &DatabaseSettings,
    ) -> SqlDatabase {
        let backend = primary.backend();
        let replicas = replicas
            .into_iter()
            .filter(|replica| replica.backend() == backend)
            .collect();
        SqlDatabase {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    backend,
                    endpoint: core_error::redact_endpoint(settings.url.expose_secret()),
                    layers: Layers::new(backend, settings),
                    transaction_attempts: settings.transaction_attempts.max(1),
                }),
                primary,
                replicas,
                next_replica: AtomicUsize::new(0),
            }),
        }
    }

    /// A statement with `?` placeholders, to [`bind`](Query::bind) and run.
    ///
    /// A statement starting with `SELECT` runs on a read replica when any
    /// are configured ([`on_primary`](Query::on_primary) overrides); every
    /// other statement runs on the primary.
    pub fn query<'q>(&'q self, sql: &'q str) -> Query<'q> {
        let primary = &self.inner.primary;
        let read = is_read(sql);
        let pool = if read { self.read_pool() } else { primary };
        Query::on_pool(&self.inner.shared, sql, pool, primary, read)
    }

    /// Starts a transaction on the primary; it rolls back if dropped
    /// without [`commit`](Transaction::commit).
    ///
    /// # Errors
    ///
    /// As for a query: [`Timeout`](core_error::ErrorKind::Timeout) when the
    /// pool stays exhausted, [`Unavailable`](core_error::ErrorKind::Unavailable)
    /// when the server is down.
    pub async fn begin(&self) -> Result<Transaction<'static>> {
        self.begin_with(&TxOptions::default()).await
    }

    /// [`begin`](Self::begin) with an isolation level.
    ///
    /// # Errors
    ///
    /// As for [`begin`](Self::begin).
    pub async fn begin_with(&self, options: &TxOptions) -> Result<Transaction<'static>> {
        transaction::begin(&self.inner.primary, &self.inner.shared, options).await
    }

    /// Runs `work` in a transaction: commits when it returns `Ok`, rolls
    /// back when it returns `Err` or panics (the panic then continues), and
    /// runs it again from the start — up to `transaction_attempts` times in
    /// all — when the engine reports a serialization failure or deadlock.
    ///
    /// ```
    /// use core_db::DatabaseSettings;
    /// use core_db::sql::SqlDatabase;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
    /// db.query("CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT)").execute().await?;
    /// db.query("INSERT INTO accounts VALUES (1, 100), (2, 0)").execute().await?;
    /// db.transaction(|tx| Box::pin(async move {
    ///     tx.query("UPDATE accounts SET balance = balance - ? WHERE id = ?").bind(30_i64).bind(1).execute().await?;
    ///     tx.query("UPDATE accounts SET balance = balance + ? WHERE id = ?").bind(30_i64).bind(2).execute().await?;
    ///     Ok(())
    /// })).await?;
    /// let (balance,): (i64,) = db.query("SELECT balance FROM accounts WHERE id = 2").fetch_one().await?;
    /// assert_eq!(balance, 30);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The error `work` returned, or the one that ended the last attempt.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Transaction<'static>) -> BoxFuture<'t, Result<T>> + Send,
    {
        self.transaction_with(&TxOptions::default(), work).await
    }

    /// [`transaction`](Self::transaction) with an isolation level and,
    /// optionally, another attempt count.
    ///
    /// # Errors
    ///
    /// As for [`transaction`](Self::transaction).
    pub async fn transaction_with<T, F>(&self, options: &TxOptions, work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Transaction<'static>) -> BoxFuture<'t, Result<T>> + Send,
    {
        transaction::run(&self.inner.primary, &self.inner.shared, options, work).await
    }

    /// Applies `migrations` in the dialect of the connected engine that the
    /// primary has not seen yet; safe to call at every start.
    ///
    /// ```
    /// use core_db::sql::{EmbeddedMigration, SqlDatabase};
    ///
    /// const MIGRATIONS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(
    ///     1,
    ///     "notes",
    ///     "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)",
    /// )];
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// let db = SqlDatabase::connect(&core_db::DatabaseSettings::default()).await?;
    /// db.migrate_embedded(MIGRATIONS).await?;
    /// db.migrate_embedded(MIGRATIONS).await?; // nothing left to apply
    /// # Ok(()) }
    /// ```
    ///
    /// Services sharing one database share its history table
    /// (`_sqlx_migrations`): each gives its migrations a version range of
    /// its own (the user service 1_000_000_000+, the order service
    /// 2_000_000_000+, ...), and versions another service applied are left
    /// alone rather than refused.
    ///
    /// # Errors
    ///
    /// As for [`migrate`](Self::migrate): an applied migration of this
    /// service that was edited is a `Conflict`.
    pub async fn migrate_embedded(&self, migrations: &[EmbeddedMigration]) -> Result<()> {
        let mut migrator = self.embedded_migrator(migrations)?;
        migrator.set_ignore_missing(true);
        self.migrate(&migrator).await
    }

    /// The sqlx [`Migrator`](sqlx::migrate::Migrator) for `migrations` in the
    /// connected engine's dialect, for sqlx's own options before
    /// [`migrate`](Self::migrate).
    ///
    /// ```
    /// # use core_db::sql::{EmbeddedMigration, SqlDatabase};
    /// # const ORDERS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(100, "orders", "CREATE TABLE orders (id BIGINT PRIMARY KEY)")];
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// # let db = SqlDatabase::connect(&core_db::DatabaseSettings::default()).await?;
    /// let mut migrator = db.embedded_migrator(ORDERS)?;
    /// // Other services keep their own versions in this database's history.
    /// migrator.set_ignore_missing(true);
    /// db.migrate(&migrator).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) when the engine
    /// is not one of SQLite, PostgreSQL and MySQL.
    pub fn embedded_migrator(
        &self,
        migrations: &[EmbeddedMigration],
    ) -> Result<sqlx::migrate::Migrator> {
        super::embedded_migrations::migrator(self.inner.shared.backend, migrations)
    }

    /// Applies the migrations `migrator` embeds (from `sqlx::migrate!()`)
    /// that the primary has not seen yet; safe to call at every start.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// # let db = core_db::sql::SqlDatabase::connect(&core_db::DatabaseSettings::default()).await?;
    /// // In a service: static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
    /// let migrator = sqlx::migrate::Migrator::new(std::path::Path::new("tests/migrations"))
    ///     .await
    ///     .unwrap();
    /// db.migrate(&migrator).await?;
    /// db.migrate(&migrator).await?; // nothing left to apply
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when the database's
    /// migration history disagrees with `migrator` (an applied migration
    /// was edited or removed); a failing migration's own error otherwise.
    pub async fn migrate(&self, migrator: &sqlx::migrate::Migrator) -> Result<()> {
        let outcome = with_pool!(&self.inner.primary, pool => async {
            let mut conn = pool.acquire().await.map_err(sqlx::migrate::MigrateError::Execute)?;
            conn.quiet_notices(true).await;
            let outcome = migrator.run_direct(&mut *conn).await;
            conn.quiet_notices(false).await;
            if outcome.is_err() {
                // sqlx returns early without releasing its session-level
                // lock (PostgreSQL advisory lock, MySQL GET_LOCK): back in
                // the pool, that connection would make the next migration
                // wait forever. Closing it ends the session and the lock.
                let _ = conn.close().await;
            }
            outcome
        }
        .await);
        outcome.map_err(|err| self.migrate_error(err))
    }

    fn migrate_error(&self, err: sqlx::migrate::MigrateError) -> Error {
        use sqlx::migrate::MigrateError as M;
        let site = self.site("db.migrate", None);
        match err {
            M::Execute(inner) | M::ExecuteMigration(inner, _) => error::map(inner, &site),
            M::VersionMissing(_)
            | M::VersionMismatch(_)
            | M::VersionNotPresent(_)
            | M::VersionTooOld(_, _)
            | M::VersionTooNew(_, _)
            | M::Dirty(_) => Error::conflict(
                "the database's migration history does not match the embedded migrations",
            )
            .with_operation("db.migrate")
            .with_backend(self.backend().name())
            .with_source(err),
            other => Error::internal("running the migrations failed")
                .with_operation("db.migrate")
                .with_backend(self.backend().name())
                .with_source(other),
        }
    }

    /// The primary's native sqlx pool.
    pub fn pool(&self) -> &SqlPool {
        &self.inner.primary
    }

    /// The replicas' native pools, possibly none.
    pub fn replica_pools(&self) -> &[SqlPool] {
        &self.inner.replicas
    }

    /// How many statements were slower than `slow_query_ms` so far.
    pub fn slow_query_count(&self) -> u64 {
        self.inner.shared.layers.slow.count()
    }

    /// The pool reads go to: the next replica, or the primary when none.
    fn read_pool(&self) -> &SqlPool {
        let replicas = &self.inner.replicas;
        if replicas.is_empty() {
            return &self.inner.primary;
        }
        let next = self.inner.next_replica.fetch_add(1, Ordering::Relaxed);
        &replicas[next % replicas.len()]
    }

    fn site<'a>(&'a self, operation: &'static str, statement: Option<&'a str>) -> Site<'a> {
        Site {
            backend: self.inner.shared.backend,
            operation,
            statement,
            pool: Some(&self.inner.primary),
        }
    }

    fn map_err(&self, err: sqlx::Error, operation: &'static str, statement: &str) -> Error {
        error::map(err, &self.site(operation, Some(statement)))
            .with_endpoint(&self.inner.shared.endpoint)
    }
}

/// Whether a statement only reads: it starts with `SELECT`.
fn is_read(sql: &str) -> bool {
    let head = sql.trim_start().as_bytes();
    head.len() >= 6 && head[..6].eq_ignore_ascii_case(b"select")
}

fn version_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT sqlite_version()",
        Backend::Postgres => "SHOW server_version",
        _ => "SELECT VERSION()",
    }
}

#[async_trait]
impl DatabaseBase for SqlDatabase {
    fn backend(&self) -> Backend {
        self.inner.shared.backend
    }

    async fn server_version(&self) -> Result<String> {
        let statement = version_statement(self.backend());
        let version = with_pool!(&self.inner.primary, pool =>
            sqlx::query_scalar::<_, String>(statement).fetch_one(pool).await);
        version.map_err(|err| self.map_err(err, "db.server_version", statement))
    }

    async fn health(&self, timeout: Duration) -> Result<Health> {
        crate::backend::timed_health(self.backend(), timeout, async {
            let outcome = with_pool!(&self.inner.primary, pool =>
                sqlx::query("SELECT 1").execute(pool).await.map(drop));
            outcome.map_err(|err| self.map_err(err, "db.health", "SELECT 1"))
        })
        .await
    }

    fn pool_stats(&self) -> PoolStats {
        self.inner.primary.stats()
    }

    async fn close(&self) {
        self.inner.primary.close().await;
        for replica in &self.inner.replicas {
            replica.close().await;
        }
    }
}

/// Turns PostgreSQL's notices off for the migration (or back on after it):
/// sqlx's `CREATE TABLE IF NOT EXISTS _sqlx_migrations` draws a "relation
/// already exists, skipping" notice that sqlx logs at INFO on every start.
/// Other engines send no such notice. One impl per engine's connection
/// (not a generic function, whose future would not be `Send`).
trait QuietNotices {
    fn quiet_notices(&mut self, quiet: bool) -> futures::future::BoxFuture<'_, ()>;
}

#[cfg(feature = "postgres")]
impl QuietNotices for sqlx::pool::PoolConnection<sqlx::Postgres> {
    fn quiet_notices(&mut self, quiet: bool) -> futures::future::BoxFuture<'_, ()> {
        let statement = if quiet {
            "SET client_min_messages = warning"
        } else {
            "RESET client_min_messages"
        };
        Box::pin(async move {
            let connection: &mut sqlx::PgConnection = self;
            if let Err(err) = sqlx::Executor::execute(connection, statement).await {
                tracing::debug!(error = %err, statement, "db.migrate: notice level not changed");
            }
        })
    }
}

#[cfg(feature = "mysql")]
impl QuietNotices for sqlx::pool::PoolConnection<sqlx::MySql> {
    fn quiet_notices(&mut self, _quiet: bool) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(feature = "sqlite")]
impl QuietNotices for sqlx::pool::PoolConnection<sqlx::Sqlite> {
    fn quiet_notices(&mut self, _quiet: bool) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::is_read;

    #[test]
    fn only_selects_are_reads() {
        assert!(is_read("  select * from t"));
        assert!(is_read("SELECT 1"));
        assert!(!is_read("INSERT INTO t SELECT * FROM u"));
        assert!(!is_read(
            "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"
        ));
        assert!(!is_read("sel"));
    }
}
