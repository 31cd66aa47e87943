//! The `database` section of a service's settings, and connecting from it.

use std::fmt;
use std::time::Duration;

use core_error::{Error, Result};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::Backend;

/// Settings for one database, as a service's configuration file holds them.
///
/// The engine is picked by the scheme of `url`, so moving from SQLite to
/// PostgreSQL is a configuration change for portable SQL:
///
/// | `url` | engine | feature |
/// |---|---|---|
/// | `postgres://user:pw@host:5432/db`, `postgresql://…` | PostgreSQL | `postgres` |
/// | `mysql://user:pw@host:3306/db`, `mariadb://…` | MySQL / MariaDB | `mysql` |
/// | `sqlite://path/to/file.db`, `sqlite::memory:` | SQLite | `sqlite` |
/// | `mongodb://host:27017/db`, `mongodb+srv://…` | MongoDB | `mongodb` |
///
/// ```
/// use core_db::DatabaseSettings;
///
/// let settings: DatabaseSettings = serde_json::from_str(r#"{
///     "url": "postgres://app:s3cret@db.internal:5432/orders",
///     "replica_urls": ["postgres://app:s3cret@replica.internal:5432/orders"],
///     "max_connections": 20,
///     "statement_timeout_ms": 5000
/// }"#).unwrap();
/// settings.validate().unwrap();
/// assert_eq!(settings.max_connections, 20);
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Which engine and where; may carry a password. Default `sqlite::memory:`.
    pub url: SecretString,
    /// Read replicas of the same engine; reads go to them in turn, writes
    /// and transactions to `url`. Default none.
    pub replica_urls: Vec<SecretString>,
    /// The database to use on a MongoDB server; default the URL's path.
    pub database_name: Option<String>,
    /// The most connections per pool. Default 10.
    pub max_connections: u32,
    /// Connections kept open even when idle. Default 0.
    pub min_connections: u32,
    /// How long a caller waits for a free connection before a
    /// [`Timeout`](core_error::ErrorKind::Timeout). Default 5 000 ms.
    pub acquire_timeout_ms: u64,
    /// Idle connections above `min_connections` close after this long;
    /// `null` keeps them. Default 600 000 ms.
    pub idle_timeout_ms: Option<u64>,
    /// Connections are replaced after this long; `null` keeps them.
    /// Default 1 800 000 ms.
    pub max_lifetime_ms: Option<u64>,
    /// Ping a pooled connection before handing it out, so a connection the
    /// server dropped is replaced instead of failing a query. Default true.
    pub test_before_acquire: bool,
    /// The server cancels statements running longer than this (PostgreSQL
    /// `statement_timeout`, MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`, MongoDB `maxTimeMS` on reads). SQLite has no
    /// such limit and refuses the setting. Default none.
    pub statement_timeout_ms: Option<u64>,
    /// The caller stops waiting for a statement after this long (each
    /// attempt of a retried read has its own), with a
    /// [`Timeout`](core_error::ErrorKind::Timeout). The server may still be
    /// running it: set `statement_timeout_ms` too. Default none.
    pub query_timeout_ms: Option<u64>,
    /// Attempts in all for a read (a statement starting with `SELECT`, or
    /// one marked [`idempotent`](crate::sql::Query::idempotent)) outside a
    /// transaction that lost its connection or could not get one; 1 turns
    /// retries off. Default 3.
    pub read_attempts: u32,
    /// Statements slower than this are logged (without their parameters)
    /// and counted in `db_slow_queries_total`. Default 1 000 ms; `null`
    /// disables.
    pub slow_query_ms: Option<u64>,
    /// Attempts in all for a transaction that fails with a serialization
    /// failure or deadlock, through the closure helpers. Default 3.
    pub transaction_attempts: u32,
}

impl Default for DatabaseSettings {
    fn default() -> DatabaseSettings {
        DatabaseSettings {
            url: SecretString::from("sqlite::memory:"),
            replica_urls: Vec::new(),
            database_name: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_ms: 5_000,
            idle_timeout_ms: Some(600_000),
            max_lifetime_ms: Some(1_800_000),
            test_before_acquire: true,
            statement_timeout_ms: None,
            query_timeout_ms: None,
            read_attempts: 3,
            slow_query_ms: Some(1_000),
            transaction_attempts: 3,
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let replicas: Vec<String> = self
            .replica_urls
            .iter()
            .map(|url| core_error::redact_endpoint(url.expose_secret()))
            .collect();
        f.debug_struct("DatabaseSettings")
            .field(
                "url",
                &core_error::redact_endpoint(self.url.expose_secret()),
            )
            .field("replica_urls", &replicas)
            .field("database_name", &self.database_name)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("idle_timeout_ms", &self.idle_timeout_ms)
            .field("max_lifetime_ms", &self.max_lifetime_ms)
            .field("test_before_acquire", &self.test_before_acquire)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("query_timeout_ms", &self.query_timeout_ms)
            .field("read_attempts", &self.read_attempts)
            .field("slow_query_ms", &self.slow_query_ms)
            .field("transaction_attempts", &self.transaction_attempts)
            .finish()
    }
}

impl DatabaseSettings {
    /// Settings for `url` with every other value at its default.
    pub fn from_url(url: impl Into<String>) -> DatabaseSettings {
        DatabaseSettings {
            url: SecretString::from(url.into()),
            ..DatabaseSettings::default()
        }
    }

    /// The engine `url` names.
    ///
    /// ```
    /// use core_db::{Backend, DatabaseSettings};
    ///
    /// let settings = DatabaseSettings::from_url("mariadb://root@127.0.0.1/test");
    /// assert_eq!(settings.backend().unwrap(), Backend::MySql);
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the
    /// scheme when it is not one of the table above.
    pub fn backend(&self) -> Result<Backend> {
        backend_of(self.url.expose_secret(), "database.url")
    }

    /// Checks the values against each other, naming the first bad key.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the key.
    pub fn validate(&self) -> Result<()> {
        let backend = self.backend()?;
        for (index, replica) in self.replica_urls.iter().enumerate() {
            let key = format!("database.replica_urls[{index}]");
            let replica_backend = backend_of(replica.expose_secret(), &key)?;
            if replica_backend != backend {
                return Err(invalid(
                    &key,
                    format!("a {replica_backend} replica cannot serve a {backend} primary"),
                ));
            }
        }
        if self.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.min_connections > self.max_connections {
            return Err(invalid(
                "database.min_connections",
                format!(
                    "{} exceeds max_connections ({})",
                    self.min_connections, self.max_connections
                ),
            ));
        }
        if self.acquire_timeout_ms == 0 {
            return Err(invalid("database.acquire_timeout_ms", "must be above 0"));
        }
        if self.statement_timeout_ms == Some(0) {
            return Err(invalid(
                "database.statement_timeout_ms",
                "must be above 0, or null for no limit",
            ));
        }
        if self.query_timeout_ms == Some(0) {
            return Err(invalid(
                "database.query_timeout_ms",
                "must be above 0, or null for no limit",
            ));
        }
        if self.read_attempts == 0 {
            return Err(invalid(
                "database.read_attempts",
                "must be at least 1 (1 turns retries off)",
            ));
        }
        let capabilities = backend.capabilities();
        if self.statement_timeout_ms.is_some() && !capabilities.statement_timeout {
            return Err(invalid(
                "database.statement_timeout_ms",
                format!("{backend} cannot cancel a running statement; remove the setting"),
            ));
        }
        if !self.replica_urls.is_empty() && !capabilities.read_replicas {
            return Err(invalid(
                "database.replica_urls",
                format!(
                    "{backend} finds its replicas itself; list every host in database.url \
                     instead"
                ),
            ));
        }
        if self.transaction_attempts == 0 {
            return Err(invalid(
                "database.transaction_attempts",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// `acquire_timeout_ms` as a duration.
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    /// `idle_timeout_ms` as a duration.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout_ms.map(Duration::from_millis)
    }

    /// `max_lifetime_ms` as a duration.
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.max_lifetime_ms.map(Duration::from_millis)
    }

    /// `statement_timeout_ms` as a duration.
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout_ms.map(Duration::from_millis)
    }

    /// `query_timeout_ms` as a duration.
    pub fn query_timeout(&self) -> Option<Duration> {
        self.query_timeout_ms.map(Duration::from_millis)
    }

    /// `slow_query_ms` as a duration.
    pub fn slow_query_threshold(&self) -> Option<Duration> {
        self.slow_query_ms.map(Duration::from_millis)
    }
}

fn invalid(key: &str, reason: impl fmt::Display) -> Error {
    Error::invalid_input(format!("{key}: {reason}"))
        .with_operation("db.connect")
        .with_key(key)
}

fn backend_of(url: &str, key: &str) -> Result<Backend> {
    crate::registration::find(crate::backends::REGISTRY, url, key)
        .map(|registration| registration.backend)
}

/// The registration of the engine `settings.url` names.
pub(crate) fn registration(
    settings: &DatabaseSettings,
) -> Result<&'static crate::registration::Registration> {
    crate::registration::find(
        crate::backends::REGISTRY,
        settings.url.expose_secret(),
        "database.url",
    )
}
