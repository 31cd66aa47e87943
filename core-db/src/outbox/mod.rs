//! The transactional outbox: a message is written in the same SQL
//! transaction as the change it announces, and a relay publishes it through
//! any [`MessageQueueBase`](core_mq::MessageQueueBase) once that transaction
//! has committed (feature `outbox`).
//!
//! - **Never lost**: the row commits with the change and stays pending until
//!   the queue has confirmed the message; a broker that is down only delays it.
//! - **Never for a rolled-back change**: the row rolls back with it.
//! - **At least once**: a relay that dies between the broker's confirmation
//!   and its own commit publishes the row again with the same message id
//!   (consumers dedupe by it, for example with `core_mq::idempotency`).
//! - **In order per key**: a row waits while an older row with the same
//!   message key is pending, so one key's messages leave in the order they
//!   were written, whichever relay takes them. Messages without a key have
//!   no order among them.
//! - **Several instances**: PostgreSQL, MySQL 8 and MariaDB 10.6 claim each
//!   batch with `SELECT … FOR UPDATE SKIP LOCKED` in the transaction that
//!   marks it published; SQLite, which has no row locks, claims a batch with
//!   a lease (`lease_ms`) written under its database lock, so a relay that
//!   died leaves its batch to the others once the lease runs out.
//! - **Queues that forget**: an in-process queue loses what it held when the
//!   process stops, so on such a queue a relay publishes the messages of the
//!   last `replay_window_secs` again when it starts.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use core_db::outbox::{Outbox, OutboxSettings};
//! use core_db::{DatabaseSettings, sql::SqlDatabase};
//! use core_mq::{Message, MessageQueueBase, MqSettings};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
//! let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
//! let queue: Arc<dyn MessageQueueBase> = core_mq::connect(&MqSettings::default()).await?;
//! let outbox = Outbox::new(OutboxSettings::default())?;
//! outbox.install(&db).await?;
//! let relay = outbox.relay(db.clone(), Arc::clone(&queue)).spawn();
//!
//! db.query("CREATE TABLE orders (id TEXT PRIMARY KEY)").execute().await?;
//! let mut tx = db.begin().await?;
//! tx.query("INSERT INTO orders (id) VALUES (?)").bind("o-1").execute().await?;
//! let event = Message::json("orders.events", &serde_json::json!({"order": "o-1"}))?.with_key("o-1");
//! outbox.enqueue(&mut tx, &event).await?;
//! tx.commit().await?;
//! outbox.committed(); // wakes this process's relay at once
//!
//! relay.shutdown(Duration::from_secs(5)).await?; // publishes what is pending, then stops
//! assert_eq!(outbox.backlog(&db).await?.pending, 0);
//! # Ok(()) }
//! ```

mod relay;
mod schema;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_error::{Error, Result};
use core_mq::{Message, MessageQueueBase};
use serde::Deserialize;
use tokio::sync::Notify;

pub use relay::{OutboxRelay, RelayHandle};

use crate::DatabaseBase as _;
use crate::sql::{SqlDatabase, Transaction};

/// The `outbox` settings.
///
/// ```
/// use core_db::outbox::OutboxSettings;
///
/// let settings: OutboxSettings = serde_json::from_value(serde_json::json!({
///     "table": "orders_outbox", "batch_size": 200
/// })).unwrap();
/// assert_eq!(settings.poll_interval_ms, 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// The table, optionally behind a schema name (`events.outbox`).
    /// Default `core_outbox`.
    pub table: String,
    /// Messages published per batch, in one transaction. Default 100.
    pub batch_size: u32,
    /// How often a relay looks for rows written by other instances; rows
    /// written in its own process wake it at once
    /// ([`Outbox::committed`]). Default 500 ms.
    pub poll_interval_ms: u64,
    /// How long one batch may take to be confirmed by the queue before the
    /// relay gives up on it and tries again. Default 10 000 ms.
    pub publish_timeout_ms: u64,
    /// SQLite: how long a claimed batch stays with its relay; a relay that
    /// died leaves it to the others after this. Longer than
    /// `publish_timeout_ms`. Default 30 000 ms.
    pub lease_ms: u64,
    /// On a queue that keeps nothing across restarts (in-process), messages
    /// published this recently are published again when a relay starts.
    /// Default 3 600 s.
    pub replay_window_secs: u64,
    /// Published rows older than this are deleted by the relay. Rows needed
    /// for a replay are kept whatever this says. Default 7 days.
    pub retention_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> OutboxSettings {
        OutboxSettings {
            table: "core_outbox".to_owned(),
            batch_size: 100,
            poll_interval_ms: 500,
            publish_timeout_ms: 10_000,
            lease_ms: 30_000,
            replay_window_secs: 3_600,
            retention_secs: 7 * 24 * 3_600,
        }
    }
}

impl OutboxSettings {
    /// Checks the settings; the error names the offending key.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the key.
    pub fn validate(&self) -> Result<()> {
        schema::validate_table(&self.table)?;
        let refuse = |key: &'static str, why: &str| {
            Err(Error::invalid_input(format!("{key} {why}")).with_key(key))
        };
        if !(1..=1_000).contains(&self.batch_size) {
            return refuse("outbox.batch_size", "must be between 1 and 1000");
        }
        if self.poll_interval_ms < 10 {
            return refuse("outbox.poll_interval_ms", "must be at least 10");
        }
        if self.publish_timeout_ms == 0 {
            return refuse("outbox.publish_timeout_ms", "must be above 0");
        }
        if self.lease_ms <= self.publish_timeout_ms {
            return refuse(
                "outbox.lease_ms",
                "must be longer than outbox.publish_timeout_ms",
            );
        }
        Ok(())
    }
}

/// How much is waiting to be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Rows not yet published.
    pub pending: u64,
    /// How long the oldest of them has waited; `None` when none is pending.
    pub oldest_age: Option<Duration>,
}

/// Writes messages into the outbox table inside the caller's transaction,
/// and makes the relays that publish them.
///
/// Cheap to clone; clones share the wake-up of this process's relay.
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    settings: OutboxSettings,
    written: Notify,
}

impl Outbox {
    /// An outbox with `settings`, checked first.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the key.
    pub fn new(settings: OutboxSettings) -> Result<Outbox> {
        settings.validate()?;
        Ok(Outbox {
            shared: Arc::new(Shared {
                settings,
                written: Notify::new(),
            }),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &OutboxSettings {
        &self.shared.settings
    }

    /// Creates the table and its index on `db` unless they exist; safe to
    /// call at every start and from several instances.
    ///
    /// # Errors
    ///
    /// What the database reports.
    pub async fn install(&self, db: &SqlDatabase) -> Result<()> {
        for statement in schema::create(db.backend(), &self.shared.settings.table) {
            db.query(&statement).execute().await?;
        }
        Ok(())
    }

    /// Adds `message` to `tx`: it is published once `tx` commits, and never
    /// if it rolls back. Call [`committed`](Outbox::committed) after the
    /// commit to have this process's relay publish it at once.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a topic no
    /// queue accepts; what the database reports.
    pub async fn enqueue(&self, tx: &mut Transaction<'_>, message: &Message) -> Result<()> {
        // A message the queue would refuse must be refused here, while the
        // caller can still roll back: once committed it would stay pending
        // and hold back every later message with its key.
        core_mq::validate_name("topic", &message.topic)
            .map_err(|err| err.with_operation("outbox.enqueue"))?;
        let headers = serde_json::to_string(&message.headers).map_err(|err| {
            Error::internal("the message headers could not be encoded")
                .with_operation("outbox.enqueue")
                .with_source(err)
        })?;
        let insert = format!(
            "INSERT INTO {} (id, topic, message_key, headers, content_type, correlation_id, \
             causation_id, body, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.shared.settings.table
        );
        tx.query(&insert)
            .bind(message.id.to_string())
            .bind(message.topic.as_str())
            .bind(message.key.as_deref())
            .bind(headers)
            .bind(message.content_type.as_deref())
            .bind(message.correlation_id.as_deref())
            .bind(message.causation_id.as_deref())
            .bind(message.body.to_vec())
            .bind(now_ms())
            .execute()
            .await
            .map_err(|err| err.with_operation("outbox.enqueue"))?;
        Ok(())
    }

    /// Tells this process's relay that a transaction with messages has
    /// committed, so it publishes them now rather than at its next poll.
    pub fn committed(&self) {
        self.shared.written.notify_one();
    }

    /// A relay publishing this outbox's rows from `db` through `queue`;
    /// [`OutboxRelay::spawn`] runs it.
    pub fn relay(&self, db: SqlDatabase, queue: Arc<dyn MessageQueueBase>) -> OutboxRelay {
        OutboxRelay::new(self.clone(), db, queue)
    }

    /// How many rows wait to be published, and since when.
    ///
    /// # Errors
    ///
    /// What the database reports.
    pub async fn backlog(&self, db: &SqlDatabase) -> Result<Backlog> {
        let select = format!(
            "SELECT COUNT(*), MIN(created_at_ms) FROM {} WHERE published_at_ms IS NULL",
            self.shared.settings.table
        );
        let (pending, oldest): (i64, Option<i64>) = db
            .query(&select)
            .on_primary()
            .fetch_one()
            .await
            .map_err(|err| err.with_operation("outbox.backlog"))?;
        Ok(Backlog {
            pending: u64::try_from(pending).unwrap_or_default(),
            oldest_age: oldest.map(|created| {
                Duration::from_millis(u64::try_from(now_ms() - created).unwrap_or_default())
            }),
        })
    }
}

/// Milliseconds since the Unix epoch, as the table stores them.
fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
