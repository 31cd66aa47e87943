//! The trait every message-queue backend implements.

use std::fmt;

use async_trait::async_trait;
use core_error::{Error, Result};

use crate::{Capabilities, ConsumeOptions, Consumer, Message, SharedHandler};

/// The largest message accepted unless configured otherwise: 1 MiB, the
/// default limit of Kafka brokers.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The longest topic or group name accepted (Kafka allows 249 characters;
/// the RabbitMQ queue name `<topic>.<group>` must stay under 255 bytes).
pub const MAX_NAME_LEN: usize = 120;

/// A message broker with one at-least-once contract.
///
/// - [`publish`](MessageQueueBase::publish) returns once the broker has
///   confirmed the message (publisher confirms on RabbitMQ, `acks=all` with
///   idempotence on Kafka, the `XADD` reply on Redis).
/// - [`consume`](MessageQueueBase::consume) runs a [`Handler`](crate::Handler)
///   for each message of a topic in a consumer group: consumers in one
///   group share the work, and each group receives every message. A message
///   is acknowledged only after its handler finished, so a crash means
///   redelivery, never loss.
///
/// Services hold an `Arc<dyn MessageQueueBase>` from [`connect`](crate::connect)
/// and never name a backend type.
///
/// ```
/// use std::time::Duration;
/// use core_mq::{ConsumeOptions, Message, MqSettings, Outcome, connect, handler_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let queue = connect(&MqSettings::from_url("memory://")).await?;
/// let (seen, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let consumer = queue
///     .consume("orders", "billing", handler_fn(move |delivery| {
///         let seen = seen.clone();
///         async move {
///             let _ = seen.send(delivery.message.body.clone());
///             Ok(Outcome::Ack)
///         }
///     }), ConsumeOptions::default())
///     .await?;
/// queue.publish(Message::new("orders", "order 7")).await?;
/// assert_eq!(received.recv().await.unwrap(), "order 7");
/// consumer.shutdown(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[async_trait]
pub trait MessageQueueBase: Send + Sync + fmt::Debug {
    /// The backend's name, such as `"kafka"`, used in errors and metrics.
    fn name(&self) -> &'static str;

    /// What this backend offers beyond the common contract.
    fn capabilities(&self) -> Capabilities;

    /// Sends `message` and returns once the broker has confirmed it.
    async fn publish(&self, message: Message) -> Result<()>;

    /// Sends every message and returns once the broker has confirmed all of
    /// them. Not atomic: on error, some may have been sent.
    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        for message in messages {
            self.publish(message).await?;
        }
        Ok(())
    }

    /// Starts a consumer of `topic` in `group` running `handler`; the group
    /// exists on the broker when this returns.
    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer>;

    /// Whether the broker answers, within `timeout`, without leaving
    /// anything on it: a ping or a metadata request, never a message (what a
    /// readiness probe asks, as often as it likes).
    ///
    /// The default, for a backend defined outside this crate that has none,
    /// is [`Unsupported`](core_error::ErrorKind::Unsupported).
    async fn health(&self, timeout: std::time::Duration) -> Result<()> {
        let _ = timeout;
        Err(Error::unsupported("this backend has no health check")
            .with_operation("mq.health")
            .with_backend(self.name()))
    }

    /// Closes the backend's connections. Consumers should be shut down first.
    async fn close(&self) -> Result<()>;
}

/// Checks a topic or group name: 1 to [`MAX_NAME_LEN`] ASCII letters,
/// digits, `.`, `_` or `-`, which every broker accepts.
///
/// ```
/// use core_mq::validate_name;
///
/// assert!(validate_name("topic", "orders.v1").is_ok());
/// assert!(validate_name("topic", "orders/*").is_err());
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming `what` and the reason.
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let bad_char = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    let problem = if name.is_empty() {
        Some("is empty".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!("is longer than {MAX_NAME_LEN} bytes"))
    } else {
        bad_char.map(|bad| format!("contains {bad:?}; use ASCII letters, digits, '.', '_' or '-'"))
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_input(format!("the {what} name {problem}"))
            .with_operation("mq.validate")
            .with_key(name.chars().take(MAX_NAME_LEN).collect::<String>())),
    }
}
