//! [`OutboxRelay`]: takes committed rows from the outbox table, publishes
//! them, and marks them published.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_error::{Error, Result};
use core_mq::{Message, MessageQueueBase};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Outbox, now_ms};
use crate::Backend;
use crate::DatabaseBase as _;
use crate::sql::{IsolationLevel, Query, SqlDatabase, TxOptions};

/// How a relay keeps a batch to itself while it publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Row locks, skipped by the other relays, held by the transaction that
    /// marks the batch published (PostgreSQL, MySQL, MariaDB).
    RowLocks,
    /// A lease written in a short transaction, so the database's single
    /// write lock is not held while the queue confirms (SQLite).
    Lease,
}

/// One outbox row on its way to the queue.
type Row = (
    i64,            // seq
    String,         // id
    String,         // topic
    Option<String>, // message_key
    String,         // headers
    Option<String>, // content_type
    Option<String>, // correlation_id
    Option<String>, // causation_id
    Vec<u8>,        // body
    i64,            // created_at_ms
);

/// Marks a batch published (the time is bound first, then the rows).
const MARK_PUBLISHED: &str = "UPDATE {table} SET published_at_ms = ?, lease_until_ms = NULL";

/// `query` with the `seq` of each of `rows` bound, for [`OutboxRelay::for_rows`].
fn bind_seqs<'q>(query: Query<'q>, rows: &[Row]) -> Query<'q> {
    rows.iter().fold(query, |query, row| query.bind(row.0))
}

const COLUMNS: &str = "o.seq, o.id, o.topic, o.message_key, o.headers, o.content_type, \
                       o.correlation_id, o.causation_id, o.body, o.created_at_ms";

/// Publishes an outbox's committed rows through a queue, oldest first.
///
/// Made by [`Outbox::relay`]; [`spawn`](OutboxRelay::spawn) runs it in the
/// background, [`publish_pending`](OutboxRelay::publish_pending) publishes
/// one batch in the caller's task. Any number of relays may run on one
/// table, in one process or in several.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    outbox: Outbox,
    db: SqlDatabase,
    queue: Arc<dyn MessageQueueBase>,
    claim: Claim,
    /// Statements built once: the table name is part of them.
    select_pending: String,
}

impl OutboxRelay {
    pub(super) fn new(
        outbox: Outbox,
        db: SqlDatabase,
        queue: Arc<dyn MessageQueueBase>,
    ) -> OutboxRelay {
        let claim = match db.backend() {
            Backend::Postgres | Backend::MySql => Claim::RowLocks,
            Backend::Sqlite | Backend::MongoDb => Claim::Lease,
        };
        let settings = outbox.settings();
        let table = settings.table.as_str();
        // A row is eligible when no older row with its key is pending; a key
        // is NULL for unordered messages, and NULL = NULL is never true.
        let (lease_free, lock) = match claim {
            Claim::RowLocks => ("", " FOR UPDATE SKIP LOCKED"),
            Claim::Lease => (
                " AND (o.lease_until_ms IS NULL OR o.lease_until_ms < ?)",
                "",
            ),
        };
        let select_pending = format!(
            "SELECT {COLUMNS} FROM {table} o \
             WHERE o.published_at_ms IS NULL{lease_free} \
               AND NOT EXISTS (SELECT 1 FROM {table} e WHERE e.published_at_ms IS NULL \
                               AND e.message_key = o.message_key AND e.seq < o.seq) \
             ORDER BY o.seq LIMIT {}{lock}",
            settings.batch_size
        );
        OutboxRelay {
            outbox,
            db,
            queue,
            claim,
            select_pending,
        }
    }

    /// Publishes one batch of pending rows and returns how many it
    /// published (0: nothing was pending, or every pending row is claimed
    /// by another relay or waits behind one).
    ///
    /// # Errors
    ///
    /// What the database or the queue reports, or
    /// [`Timeout`](core_error::ErrorKind::Timeout) when the queue did not
    /// confirm within `publish_timeout_ms`; the batch stays pending.
    pub async fn publish_pending(&self) -> Result<usize> {
        let published = match self.claim {
            Claim::RowLocks => self.publish_locked().await,
            Claim::Lease => self.publish_leased().await,
        }
        .map_err(|err| err.with_operation("outbox.relay"))?;
        if published > 0 {
            metrics::counter!("outbox_published_total", "table" => self.table_label())
                .increment(published as u64);
        }
        Ok(published)
    }

    async fn publish_locked(&self) -> Result<usize> {
        let options = TxOptions::default().isolation(IsolationLevel::ReadCommitted);
        let mut tx = self.db.begin_with(&options).await?;
        let rows: Vec<Row> = tx.query(&self.select_pending).fetch_all().await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        // An error drops `tx`: the locks go, the rows stay pending.
        self.publish(&rows).await?;
        let update = self.for_rows(MARK_PUBLISHED, rows.len());
        bind_seqs(tx.query(&update).bind(now_ms()), &rows)
            .execute()
            .await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    async fn publish_leased(&self) -> Result<usize> {
        let now = now_ms();
        let lease = i64::try_from(self.outbox.settings().lease_ms).unwrap_or(i64::MAX);
        // Any isolation level means BEGIN IMMEDIATE on SQLite: the claim is
        // read and written under the database's write lock.
        let options = TxOptions::default().isolation(IsolationLevel::Serializable);
        let mut tx = self.db.begin_with(&options).await?;
        let rows: Vec<Row> = tx.query(&self.select_pending).bind(now).fetch_all().await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let update = self.for_rows("UPDATE {table} SET lease_until_ms = ?", rows.len());
        bind_seqs(tx.query(&update).bind(now.saturating_add(lease)), &rows)
            .execute()
            .await?;
        tx.commit().await?;

        if let Err(err) = self.publish(&rows).await {
            // Given back at once rather than when the lease runs out.
            let release = self.for_rows("UPDATE {table} SET lease_until_ms = NULL", rows.len());
            if let Err(release_err) = bind_seqs(self.db.query(&release), &rows).execute().await {
                tracing::warn!(error = %release_err, "outbox: a failed batch's lease was not released; it expires");
            }
            return Err(err);
        }
        let update = self.for_rows(MARK_PUBLISHED, rows.len());
        bind_seqs(self.db.query(&update).bind(now_ms()), &rows)
            .execute()
            .await?;
        Ok(rows.len())
    }

    /// Sends `rows` in order and waits for the queue's confirmation.
    async fn publish(&self, rows: &[Row]) -> Result<()> {
        let messages = rows.iter().map(message_of).collect::<Result<Vec<_>>>()?;
        let limit = Duration::from_millis(self.outbox.settings().publish_timeout_ms);
        match tokio::time::timeout(limit, self.queue.publish_batch(messages)).await {
            Ok(confirmed) => confirmed,
            Err(_) => Err(Error::timeout(format!(
                "the queue did not confirm a batch of {} outbox messages within {} ms",
                rows.len(),
                limit.as_millis()
            ))
            .with_backend(self.queue.name())),
        }
    }

    /// `statement` on this table, for the rows whose `seq` is bound next.
    fn for_rows(&self, statement: &str, count: usize) -> String {
        let placeholders = vec!["?"; count].join(", ");
        format!(
            "{} WHERE seq IN ({placeholders})",
            statement.replace("{table}", &self.outbox.settings().table)
        )
    }

    fn table_label(&self) -> String {
        self.outbox.settings().table.clone()
    }

    /// Runs the relay in a task of its own until the handle is shut down or
    /// dropped.
    pub fn spawn(self) -> RelayHandle {
        let (stop, stopped) = watch::channel(false);
        RelayHandle {
            stop,
            task: Some(tokio::spawn(self.run(stopped))),
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        if !self.queue.capabilities().durable
            && let Err(err) = self.replay_recent().await
        {
            tracing::error!(error = %err, "outbox: replaying recent messages failed");
        }
        let settings = self.outbox.settings().clone();
        let poll = Duration::from_millis(settings.poll_interval_ms);
        let mut failures = 0_u32;
        let mut housekeeping = Housekeeping::default();
        while !*stop.borrow() {
            let pause = match self.publish_pending().await {
                // More is probably waiting, perhaps behind what just went.
                Ok(published) if published > 0 => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    housekeeping.run(&self).await;
                    poll
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    metrics::counter!("outbox_publish_failures_total", "table" => self.table_label())
                        .increment(1);
                    tracing::warn!(error = %err, failures, "outbox: publishing failed; will retry");
                    housekeeping.run(&self).await;
                    // 1, 2, 4 … polls, at most 30 s.
                    poll.saturating_mul(1 << failures.min(6))
                        .min(Duration::from_secs(30).max(poll))
                }
            };
            if pause.is_zero() {
                continue;
            }
            tokio::select! {
                () = self.outbox.shared.written.notified() => {}
                () = tokio::time::sleep(pause) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
        // What the last requests committed goes out before the process does.
        while let Ok(published) = self.publish_pending().await
            && published > 0
        {}
        housekeeping.report(&self).await;
    }

    async fn replay_recent(&self) -> Result<()> {
        let window = i64::try_from(
            self.outbox
                .settings()
                .replay_window_secs
                .saturating_mul(1_000),
        )
        .unwrap_or(i64::MAX);
        let update = format!(
            "UPDATE {} SET published_at_ms = NULL WHERE published_at_ms >= ?",
            self.outbox.settings().table
        );
        let replayed = self
            .db
            .query(&update)
            .bind(now_ms().saturating_sub(window))
            .execute()
            .await?;
        if replayed > 0 {
            tracing::info!(
                replayed,
                queue = self.queue.name(),
                "outbox: the queue keeps nothing across restarts; recent messages go again"
            );
        }
        Ok(())
    }

    /// Deletes published rows past the retention (and past the replay
    /// window on a queue that forgets).
    async fn delete_expired(&self) -> Result<u64> {
        let settings = self.outbox.settings();
        let mut keep_secs = settings.retention_secs;
        if !self.queue.capabilities().durable {
            keep_secs = keep_secs.max(settings.replay_window_secs);
        }
        let keep = i64::try_from(keep_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let delete = format!(
            "DELETE FROM {} WHERE published_at_ms IS NOT NULL AND published_at_ms < ?",
            settings.table
        );
        self.db
            .query(&delete)
            .bind(now_ms().saturating_sub(keep))
            .execute()
            .await
    }
}

/// What a relay does when it has nothing to publish: the backlog gauges
/// (at most once a second) and the retention (at most once a minute).
#[derive(Debug, Default)]
struct Housekeeping {
    reported: Option<Instant>,
    cleaned: Option<Instant>,
}

impl Housekeeping {
    async fn run(&mut self, relay: &OutboxRelay) {
        if self
            .reported
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            self.report(relay).await;
        }
        let every = Duration::from_secs(relay.outbox.settings().retention_secs.clamp(1, 60));
        if self.cleaned.is_none_or(|at| at.elapsed() >= every) {
            self.cleaned = Some(Instant::now());
            match relay.delete_expired().await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::debug!(deleted, "outbox: published rows past retention deleted")
                }
                Err(err) => tracing::warn!(error = %err, "outbox: deleting published rows failed"),
            }
        }
    }

    async fn report(&mut self, relay: &OutboxRelay) {
        self.reported = Some(Instant::now());
        match relay.outbox.backlog(&relay.db).await {
            Ok(backlog) => {
                let table = relay.table_label();
                #[allow(clippy::cast_precision_loss, reason = "a gauge")]
                metrics::gauge!("outbox_pending", "table" => table.clone())
                    .set(backlog.pending as f64);
                metrics::gauge!("outbox_oldest_pending_age_seconds", "table" => table)
                    .set(backlog.oldest_age.map_or(0.0, |age| age.as_secs_f64()));
            }
            Err(err) => tracing::debug!(error = %err, "outbox: the backlog could not be read"),
        }
    }
}

/// A running relay; [`shutdown`](RelayHandle::shutdown) stops it after it
/// has published what is pending. Dropping the handle stops it too, after
/// the batch in hand.
#[derive(Debug)]
pub struct RelayHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RelayHandle {
    /// Stops the relay: it publishes what is pending (each batch it can
    /// claim), then returns. Call it after the HTTP server has drained, so
    /// what the last requests committed goes out.
    ///
    /// # Errors
    ///
    /// [`Timeout`](core_error::ErrorKind::Timeout) when it had not finished
    /// within `deadline` (the relay is then cancelled; what it had not
    /// marked published stays pending for the next start).
    pub async fn shutdown(mut self, deadline: Duration) -> Result<()> {
        let _ = self.stop.send(true);
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(deadline, &mut task).await {
            Ok(_) => Ok(()),
            Err(_) => {
                task.abort();
                Err(Error::timeout(format!(
                    "the outbox relay did not finish within {} ms",
                    deadline.as_millis()
                ))
                .with_operation("outbox.shutdown"))
            }
        }
    }

    /// Cancels the relay where it stands, as a crash would; what it had not
    /// marked published stays pending (and, on SQLite, leased until the
    /// lease runs out).
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn message_of(row: &Row) -> Result<Message> {
    let (seq, id, topic, key, headers, content_type, correlation_id, causation_id, body, created) =
        row;
    let malformed = |what: &'static str| {
        Error::internal(format!("an outbox row has a malformed {what}"))
            .with_operation("outbox.relay")
            .with_context("seq", seq)
    };
    let mut message = Message::new(topic.clone(), body.clone());
    message.id = Uuid::parse_str(id).map_err(|err| malformed("id").with_source(err))?;
    message.key.clone_from(key);
    message.headers = serde_json::from_str::<BTreeMap<String, String>>(headers)
        .map_err(|err| malformed("headers").with_source(err))?;
    message.content_type.clone_from(content_type);
    message.correlation_id.clone_from(correlation_id);
    message.causation_id.clone_from(causation_id);
    message.timestamp_ms = u64::try_from(*created).unwrap_or_default();
    Ok(message)
}
