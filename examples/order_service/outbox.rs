//! The transactional outbox: events are rows written in the transaction of
//! the change they describe, and a relay publishes them afterwards.
//!
//! - **Never lost**: the row commits with the change, and stays unpublished
//!   until the queue has confirmed the message.
//! - **Never for a rolled-back change**: the row rolls back with it.
//! - **At least once**: a relay that dies between the broker's confirm and
//!   its own commit publishes the row again; the message id is the row id
//!   (a UUID v7), so consumers drop the copy.
//! - **Several relays**: each batch is selected `FOR UPDATE SKIP LOCKED`
//!   (PostgreSQL, MySQL 8, MariaDB 10.6) inside the transaction that marks
//!   it published, so two relays never take the same rows; SQLite takes the
//!   database's write lock for the batch instead (`BEGIN IMMEDIATE`), which
//!   serialises relays sharing one file. Only the oldest unpublished event
//!   of each order is eligible, so one order's events leave in order
//!   whichever relay takes them.
//! - **Queues that forget**: an in-memory queue loses what it held when the
//!   process dies, so on such a queue the relay publishes the events of the
//!   last `replay_window_secs` again at start; consumers dedupe them.

use std::sync::Arc;
use std::time::Duration;

use core_sdk::db::Backend;
use core_sdk::db::sql::{IsolationLevel, SqlDatabase, Transaction, TxOptions};
use core_sdk::error::Result;
use core_sdk::mq::{JSON_CONTENT_TYPE, Message, MessageQueueBase};
use serde::Deserialize;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::events::OrderEvent;
use crate::orders::now_millis;

/// The `orders.outbox` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RelaySettings {
    /// Whether this instance runs a relay. Default true.
    pub(crate) enabled: bool,
    /// Rows published per transaction. Default 100.
    pub(crate) batch_size: u32,
    /// How often the relay looks for rows written by other instances; rows
    /// written here wake it at once. Default 500 ms.
    pub(crate) poll_interval_ms: u64,
    /// On a queue that keeps nothing across restarts (in-memory), events
    /// published this recently are published again at start. Default 3 600 s.
    pub(crate) replay_window_secs: u64,
}

impl Default for RelaySettings {
    fn default() -> RelaySettings {
        RelaySettings {
            enabled: true,
            batch_size: 100,
            poll_interval_ms: 500,
            replay_window_secs: 3_600,
        }
    }
}

/// Writes events into the outbox inside the caller's transaction.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    topic: String,
    written: Arc<Notify>,
}

impl Outbox {
    /// An outbox whose events go to `topic`.
    pub(crate) fn new(topic: impl Into<String>) -> Outbox {
        Outbox {
            topic: topic.into(),
            written: Arc::new(Notify::new()),
        }
    }

    /// Adds `event` to the transaction; it is published once `tx` commits.
    /// Returns the event's message id.
    pub(crate) async fn enqueue(
        &self,
        tx: &mut Transaction<'_>,
        event: &OrderEvent,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let payload = serde_json::to_string(event).map_err(|err| {
            core_sdk::error::Error::internal("an order event could not be encoded")
                .with_operation("outbox.enqueue")
                .with_source(err)
        })?;
        let id_text = id.to_string();
        tx.query(
            "INSERT INTO outbox (id, topic, message_key, event_type, payload, created_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id_text.as_str())
        .bind(self.topic.as_str())
        .bind(event.order_id.as_str())
        .bind(event.event_type.as_str())
        .bind(payload.as_str())
        .bind(now_millis())
        .execute()
        .await?;
        Ok(id)
    }

    /// Tells this instance's relay that a transaction with events committed.
    pub(crate) fn committed(&self) {
        self.written.notify_one();
    }
}

/// One outbox row on its way to the queue.
#[derive(Debug, Deserialize)]
struct PendingRow {
    seq: i64,
    id: String,
    topic: String,
    message_key: String,
    event_type: String,
    payload: String,
    created_at_ms: i64,
}

/// Publishes committed outbox rows through the queue, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    db: SqlDatabase,
    queue: Arc<dyn MessageQueueBase>,
    settings: RelaySettings,
    written: Arc<Notify>,
}

impl Relay {
    /// A relay publishing `outbox`'s rows from `db` to `queue`; it wakes
    /// when this process writes to the outbox, and polls for rows written
    /// by other instances.
    pub(crate) fn new(
        db: SqlDatabase,
        queue: Arc<dyn MessageQueueBase>,
        outbox: &Outbox,
        settings: RelaySettings,
    ) -> Relay {
        Relay {
            db,
            queue,
            settings,
            written: Arc::clone(&outbox.written),
        }
    }

    /// Runs until `stop` turns true, then returns after the batch in hand.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        if !self.queue.capabilities().durable
            && let Err(err) = self.replay_recent().await
        {
            tracing::error!(error = %err, "outbox: replaying recent events failed");
        }
        let poll = Duration::from_millis(self.settings.poll_interval_ms.max(10));
        let mut failures = 0_u32;
        while !*stop.borrow() {
            let pause = match self.publish_batch().await {
                // A full batch: more are probably waiting.
                Ok(published) if published >= self.settings.batch_size as usize => continue,
                Ok(_) => {
                    failures = 0;
                    poll
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %err, failures, "outbox: publishing failed; will retry");
                    poll.saturating_mul(failures.min(20))
                }
            };
            tokio::select! {
                () = self.written.notified() => {}
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        // What the last requests committed goes out before the process does.
        while let Ok(published) = self.publish_batch().await
            && published > 0
        {}
    }

    /// Publishes up to one batch; returns how many rows it published.
    async fn publish_batch(&self) -> Result<usize> {
        // Read committed everywhere; on SQLite any level means BEGIN
        // IMMEDIATE, the write lock that keeps two relays apart.
        let options = TxOptions::default().isolation(IsolationLevel::ReadCommitted);
        let mut tx = self.db.begin_with(&options).await?;
        let lock = match tx.backend() {
            Backend::Postgres | Backend::MySql => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let select = format!(
            "SELECT o.seq, o.id, o.topic, o.message_key, o.event_type, o.payload, o.created_at_ms \
             FROM outbox o \
             WHERE o.published_at_ms IS NULL \
               AND NOT EXISTS (SELECT 1 FROM outbox e \
                               WHERE e.message_key = o.message_key \
                                 AND e.published_at_ms IS NULL AND e.seq < o.seq) \
             ORDER BY o.seq LIMIT {}{lock}",
            self.settings.batch_size.max(1)
        );
        let rows: Vec<PendingRow> = tx.query(&select).fetch_all_as().await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let messages = rows.iter().map(message_of).collect::<Result<Vec<_>>>()?;
        // Returns once the broker confirmed every message; an error rolls
        // the marks back, and the rows go again (consumers dedupe by id).
        self.queue.publish_batch(messages).await?;
        let placeholders = vec!["?"; rows.len()].join(", ");
        let update = format!("UPDATE outbox SET published_at_ms = ? WHERE seq IN ({placeholders})");
        let mut query = tx.query(&update).bind(now_millis());
        for row in &rows {
            query = query.bind(row.seq);
        }
        query.execute().await?;
        tx.commit().await?;
        metrics::counter!("outbox_published_total").increment(rows.len() as u64);
        tracing::debug!(published = rows.len(), "outbox: batch published");
        Ok(rows.len())
    }

    async fn replay_recent(&self) -> Result<()> {
        let window = i64::try_from(self.settings.replay_window_secs.saturating_mul(1_000))
            .unwrap_or(i64::MAX);
        let since = now_millis().saturating_sub(window);
        let replayed = self
            .db
            .query("UPDATE outbox SET published_at_ms = NULL WHERE published_at_ms >= ?")
            .bind(since)
            .execute()
            .await?;
        if replayed > 0 {
            tracing::info!(
                replayed,
                queue = self.queue.name(),
                "outbox: the queue keeps nothing across restarts; recent events go again"
            );
        }
        Ok(())
    }
}

fn message_of(row: &PendingRow) -> Result<Message> {
    let id = Uuid::parse_str(&row.id).map_err(|err| {
        core_sdk::error::Error::internal("an outbox row has a malformed id")
            .with_operation("outbox.relay")
            .with_key(row.id.clone())
            .with_source(err)
    })?;
    let mut message = Message::new(row.topic.clone(), row.payload.clone().into_bytes())
        .with_key(row.message_key.clone())
        .with_content_type(JSON_CONTENT_TYPE)
        .with_header("event-type", row.event_type.clone());
    // The row id, so a republished event is recognisably the same message.
    message.id = id;
    message.timestamp_ms = u64::try_from(row.created_at_ms).unwrap_or_default();
    Ok(message)
}
