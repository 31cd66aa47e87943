//! [`DocumentStore`]: one pooled client, its database, lifecycle.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use mongodb::bson::{Document, doc};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, IndexModel};
use secrecy::ExposeSecret as _;

use super::{Collection, DocumentTransaction, error, transaction};
use crate::layers::slow::SlowQueryLog;
use crate::{Backend, DatabaseBase, DatabaseSettings, Health, PoolStats};

/// An index a collection must have, declared in code and created at start
/// by [`DocumentStore::ensure_indexes`].
///
/// ```
/// use core_db::document::{IndexSpec, bson::doc};
///
/// let unique_email = IndexSpec::new("users", doc! { "email": 1 }).unique();
/// assert!(unique_email.unique);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// The collection the index belongs to.
    pub collection: String,
    /// The indexed fields and their order, such as `{ "email": 1 }`.
    pub keys: Document,
    /// Whether two documents may not share the indexed values.
    pub unique: bool,
    /// The index name; the server derives one from the keys when `None`.
    pub name: Option<String>,
}

impl IndexSpec {
    /// A non-unique index on `keys` of `collection`.
    pub fn new(collection: impl Into<String>, keys: Document) -> IndexSpec {
        IndexSpec {
            collection: collection.into(),
            keys,
            unique: false,
            name: None,
        }
    }

    /// Makes the index unique.
    pub fn unique(mut self) -> IndexSpec {
        self.unique = true;
        self
    }

    /// Names the index.
    pub fn named(mut self, name: impl Into<String>) -> IndexSpec {
        self.name = Some(name.into());
        self
    }
}

/// A MongoDB database: typed collections over one pooled client.
///
/// Cheap to clone; clones share the client.
///
/// ```no_run
/// use core_db::DatabaseSettings;
/// use core_db::document::{DocumentStore, Find, bson::doc};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct User { _id: i64, email: String }
///
/// # async fn example() -> core_db::Result<()> {
/// let store = DocumentStore::connect(&DatabaseSettings::from_url("mongodb://127.0.0.1:27017/app")).await?;
/// let users = store.collection::<User>("users");
/// users.insert_one(&User { _id: 1, email: "ada@example.com".into() }).await?;
/// let found = users.find(doc! { "email": "ada@example.com" }, Find::default().limit(10)).await?;
/// assert_eq!(found.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DocumentStore {
    pub(super) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    client: Client,
    database: mongodb::Database,
    endpoint: String,
    pub(crate) slow: SlowQueryLog,
    pub(crate) read_time_limit: Option<Duration>,
    max_connections: u32,
    min_connections: u32,
    transaction_attempts: u32,
}

impl fmt::Debug for DocumentStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentStore")
            .field("endpoint", &self.inner.endpoint)
            .field("database", &self.inner.database.name())
            .finish()
    }
}

impl DocumentStore {
    /// Connects to the server `settings.url` names and checks that it answers.
    ///
    /// Pool keys map onto the driver's options: `max_connections` →
    /// `maxPoolSize`, `min_connections` → `minPoolSize`, `idle_timeout_ms` →
    /// `maxIdleTimeMS`, `acquire_timeout_ms` → server selection and connect
    /// timeouts, `statement_timeout_ms` → `maxTimeMS` on reads.
    /// `max_lifetime_ms` and `test_before_acquire` have no driver
    /// equivalent (the driver checks server health itself).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a malformed
    /// URL or no database name; [`Unavailable`](core_error::ErrorKind::Unavailable)
    /// when no server answers within `acquire_timeout_ms`.
    pub async fn connect(settings: &DatabaseSettings) -> Result<DocumentStore> {
        let options = client_options(settings).await?;
        let endpoint = core_error::redact_endpoint(settings.url.expose_secret());
        let name = settings
            .database_name
            .clone()
            .or_else(|| options.default_database.clone())
            .ok_or_else(|| {
                Error::invalid_input(
                    "no MongoDB database named: set database.database_name or put it in the URL path",
                )
                .with_operation("db.connect")
                .with_key("database.database_name")
            })?;
        let client = Client::with_options(options)
            .map_err(|err| error::map(err, "db.connect", "").with_endpoint(&endpoint))?;
        let database = client.database(&name);
        let store = DocumentStore {
            inner: Arc::new(Inner {
                client,
                database,
                endpoint,
                slow: SlowQueryLog::new(Backend::MongoDb, settings.slow_query_threshold()),
                read_time_limit: settings.statement_timeout(),
                max_connections: settings.max_connections,
                min_connections: settings.min_connections,
                transaction_attempts: settings.transaction_attempts.max(1),
            }),
        };
        store.ping("db.connect").await?;
        Ok(store)
    }

    /// The collection `name`, holding documents of type `T`.
    pub fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        Collection::new(
            self.inner.database.collection::<T>(name),
            Arc::clone(&self.inner),
        )
    }

    /// Creates every declared index that does not exist yet; safe to call
    /// at every start.
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when a unique index
    /// cannot be built because documents already share a key; the
    /// server's errors otherwise.
    pub async fn ensure_indexes(&self, indexes: &[IndexSpec]) -> Result<()> {
        for spec in indexes {
            let options = IndexOptions::builder()
                .unique(spec.unique.then_some(true))
                .name(spec.name.clone())
                .build();
            let model = IndexModel::builder()
                .keys(spec.keys.clone())
                .options(options)
                .build();
            self.inner
                .database
                .collection::<Document>(&spec.collection)
                .create_index(model)
                .await
                .map_err(|err| self.map(err, "db.ensure_indexes", &spec.collection))?;
        }
        Ok(())
    }

    /// Runs `work` in a multi-document transaction: commits on `Ok`, aborts
    /// on `Err` or panic (the panic then continues), and runs it again —
    /// up to `transaction_attempts` times in all — after a transient
    /// transaction error such as a write conflict.
    ///
    /// Needs a replica set or sharded cluster, as MongoDB transactions do.
    ///
    /// # Errors
    ///
    /// The error `work` returned, or the one that ended the last attempt.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut DocumentTransaction) -> BoxFuture<'t, Result<T>> + Send,
    {
        transaction::run(self, self.inner.transaction_attempts, work).await
    }

    /// The native driver database, for what this API does not cover.
    pub fn database(&self) -> &mongodb::Database {
        &self.inner.database
    }

    /// The native driver client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// How many operations were slower than `slow_query_ms` so far.
    pub fn slow_query_count(&self) -> u64 {
        self.inner.slow.count()
    }

    async fn ping(&self, operation: &'static str) -> Result<()> {
        self.inner
            .database
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(|err| self.map(err, operation, ""))
    }

    pub(crate) fn map(
        &self,
        err: mongodb::error::Error,
        operation: &'static str,
        collection: &str,
    ) -> Error {
        error::map(err, operation, collection).with_endpoint(&self.inner.endpoint)
    }
}

/// The driver options `settings` become, as [`DocumentStore::connect`]
/// uses them (exposed so the mapping of each key can be checked).
///
/// ```
/// use core_db::DatabaseSettings;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
/// let mut settings = DatabaseSettings::from_url("mongodb://127.0.0.1:27017/app");
/// settings.max_connections = 32;
/// let options = core_db::document::client_options(&settings).await?;
/// assert_eq!(options.max_pool_size, Some(32));
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for invalid
/// settings or a malformed URL.
pub async fn client_options(settings: &DatabaseSettings) -> Result<ClientOptions> {
    settings.validate()?;
    let url = settings.url.expose_secret();
    let mut options = ClientOptions::parse(url).await.map_err(|err| {
        Error::invalid_input("database.url is not a valid MongoDB URL")
            .with_operation("db.connect")
            .with_backend(Backend::MongoDb.name())
            .with_key("database.url")
            .with_endpoint(url)
            .with_source(err)
    })?;
    options.max_pool_size = Some(settings.max_connections);
    options.min_pool_size = Some(settings.min_connections);
    options.max_idle_time = settings.idle_timeout();
    options.server_selection_timeout = Some(settings.acquire_timeout());
    options.connect_timeout = Some(settings.acquire_timeout());
    Ok(options)
}

#[async_trait]
impl DatabaseBase for DocumentStore {
    fn backend(&self) -> Backend {
        Backend::MongoDb
    }

    async fn server_version(&self) -> Result<String> {
        let info = self
            .inner
            .database
            .run_command(doc! { "buildInfo": 1 })
            .await
            .map_err(|err| self.map(err, "db.server_version", ""))?;
        info.get_str("version").map(str::to_string).map_err(|_| {
            Error::internal("the server's buildInfo answer has no version")
                .with_operation("db.server_version")
                .with_backend(Backend::MongoDb.name())
        })
    }

    async fn health(&self, timeout: Duration) -> Result<Health> {
        crate::backend::timed_health(Backend::MongoDb, timeout, self.ping("db.health")).await
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: None,
            idle: None,
            max: self.inner.max_connections,
            min: self.inner.min_connections,
        }
    }

    async fn close(&self) {
        self.inner.client.clone().shutdown().await;
    }
}
