//! Order notifications: one per order event, exactly once by effect.
//!
//! The effect is a row in `notifications` (a customer's inbox), and its
//! unique `message_id` is the dedup store: an event delivered twice — the
//! relay republished it, or a worker died after the insert but before the
//! acknowledgement — hits the unique key and is acknowledged without a
//! second notification. The dedup and the effect are one statement, so no
//! crash can separate them. (core-mq's cache-backed idempotency helper
//! claims an id *before* the work runs; a worker killed between the claim
//! and the work would leave the id claimed and the notification never
//! written, so it is not used here.)
//!
//! A message that is not an order event is dead-lettered at once; a
//! temporary failure (database unreachable) is retried with the consumer's
//! backoff, then dead-lettered after `max_attempts`. Each notification
//! written adds one line to the audit trail (`notification.sent`).
//!
//! This module is the worker's; the order service includes the same file to
//! run the worker in-process on embedded backends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use core_sdk::db::sql::SqlDatabase;
use core_sdk::error::{ErrorKind, Result};
use core_sdk::log::{AuditEvent, AuditOutcome};
use core_sdk::mq::{
    Backoff, ConsumeOptions, Consumer, Delivery, Handler, MessageQueueBase, Outcome,
};
use serde::Deserialize;

use crate::events::{EVENT_TYPES, ORDER_CREATED, OrderEvent};
use core_sdk::db::sql::EmbeddedMigration;

/// The schema this module needs (versions 2_000_000_000+ are the worker's).
pub(crate) const MIGRATIONS: &[EmbeddedMigration] = &[EmbeddedMigration {
    version: 2_000_000_001,
    description: "notifications",
    sqlite: include_str!("migrations/sqlite/0001_notifications.sql"),
    postgres: include_str!("migrations/postgres/0001_notifications.sql"),
    mysql: include_str!("migrations/mysql/0001_notifications.sql"),
}];

/// The `notifications` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NotificationSettings {
    /// The order service only: run this consumer in its own process. Unset,
    /// it does when the queue is in-memory (no other process could reach
    /// it) and does not otherwise.
    pub(crate) embedded_worker: Option<bool>,
    /// The topic order events arrive on. Default `orders.events`.
    pub(crate) topic: String,
    /// The consumer group every worker instance joins. Default `notifications`.
    pub(crate) group: String,
    /// Events handled at once (one order's events keep their order). Default 4.
    pub(crate) concurrency: usize,
    /// Attempts in all before a failing event is dead-lettered. Default 5.
    pub(crate) max_attempts: u32,
    /// Pause before the second attempt, doubling up to `backoff_max_ms`. Default 200 ms.
    pub(crate) backoff_first_ms: u64,
    /// Longest pause between attempts. Default 10 000 ms.
    pub(crate) backoff_max_ms: u64,
    /// Where dead letters go; default `<topic>.dead-letter`.
    pub(crate) dead_letter_topic: Option<String>,
    /// In-flight events get this long to finish at shutdown. Default 10 000 ms.
    pub(crate) shutdown_timeout_ms: u64,
}

impl Default for NotificationSettings {
    fn default() -> NotificationSettings {
        NotificationSettings {
            embedded_worker: None,
            topic: "orders.events".to_string(),
            group: "notifications".to_string(),
            concurrency: 4,
            max_attempts: 5,
            backoff_first_ms: 200,
            backoff_max_ms: 10_000,
            dead_letter_topic: None,
            shutdown_timeout_ms: 10_000,
        }
    }
}

impl NotificationSettings {
    fn consume_options(&self) -> ConsumeOptions {
        ConsumeOptions {
            concurrency: self.concurrency.max(1),
            max_attempts: self.max_attempts.max(1),
            backoff: Backoff {
                first: Duration::from_millis(self.backoff_first_ms),
                max: Duration::from_millis(self.backoff_max_ms.max(self.backoff_first_ms)),
            },
            dead_letter_topic: self.dead_letter_topic.clone(),
            ..ConsumeOptions::default()
        }
    }

    /// How long shutdown waits for the events in hand.
    pub(crate) fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}

/// Joins the group and handles order events until the consumer is shut down.
pub(crate) async fn start(
    queue: &dyn MessageQueueBase,
    db: SqlDatabase,
    settings: &NotificationSettings,
) -> Result<Consumer> {
    let handler = Arc::new(Notifier { db });
    let consumer = queue
        .consume(
            &settings.topic,
            &settings.group,
            handler,
            settings.consume_options(),
        )
        .await?;
    tracing::info!(
        topic = settings.topic,
        group = settings.group,
        queue = queue.name(),
        "notifications: consuming order events"
    );
    Ok(consumer)
}

#[derive(Debug)]
struct Notifier {
    db: SqlDatabase,
}

#[async_trait]
impl Handler for Notifier {
    async fn handle(&self, delivery: Delivery) -> Result<Outcome> {
        let message = &delivery.message;
        let event: OrderEvent = match message.decode_json() {
            Ok(event) => event,
            Err(err) => {
                metrics::counter!("notifications_total", "result" => "rejected").increment(1);
                return Ok(Outcome::DeadLetter(format!(
                    "not an order event: {}",
                    err.message()
                )));
            }
        };
        if !EVENT_TYPES.contains(&event.event_type.as_str()) {
            metrics::counter!("notifications_total", "result" => "rejected").increment(1);
            return Ok(Outcome::DeadLetter(format!(
                "unknown order event type {:?}",
                event.event_type
            )));
        }
        let message_id = message.id.to_string();
        let inserted = self
            .db
            .query(
                "INSERT INTO notifications (message_id, order_id, user_id, event_type, body, \
                 created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(message_id.as_str())
            .bind(event.order_id.as_str())
            .bind(event.user_id.as_str())
            .bind(event.event_type.as_str())
            .bind(text_of(&event))
            .bind(chrono::Utc::now().timestamp_millis())
            .execute()
            .await;
        match inserted {
            Ok(_) => {
                let resource = format!("order:{}/message:{message_id}", event.order_id);
                AuditEvent::new(&event.user_id, "notification.sent", AuditOutcome::Success)
                    .resource(&resource)
                    .record();
                metrics::counter!("notifications_total", "result" => "sent").increment(1);
                Ok(Outcome::Ack)
            }
            // The unique message id: this event was notified already.
            Err(err) if err.kind() == ErrorKind::Conflict && !err.is_temporary() => {
                tracing::debug!(message_id, "notifications: duplicate event skipped");
                metrics::counter!("notifications_total", "result" => "duplicate").increment(1);
                Ok(Outcome::Ack)
            }
            // Temporary errors are retried with backoff, others dead-lettered.
            Err(err) => Err(err),
        }
    }
}

/// What the customer reads.
fn text_of(event: &OrderEvent) -> String {
    let amount = format!(
        "{}.{:02} {}",
        event.total_cents / 100,
        event.total_cents % 100,
        event.currency
    );
    if event.event_type == ORDER_CREATED {
        format!(
            "Thank you: order {} for {amount} is placed.",
            event.order_id
        )
    } else {
        format!(
            "Order {} is now {} (was {}).",
            event.order_id,
            event.to_status,
            event.from_status.as_deref().unwrap_or("new")
        )
    }
}
