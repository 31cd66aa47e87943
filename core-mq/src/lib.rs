//! `MessageQueueBase`: one at-least-once API over in-memory queues, Redis
//! Streams, RabbitMQ, Kafka and NATS JetStream, chosen at run time from
//! configuration.
//!
//! - [`Message`] is what travels: a UUID v7 id, topic, key, headers,
//!   timestamp, content type, correlation and causation ids, body bytes,
//!   with typed JSON helpers.
//! - [`MessageQueueBase`] is the trait each backend implements:
//!   [`publish`](MessageQueueBase::publish) returns once the broker confirmed,
//!   [`consume`](MessageQueueBase::consume) runs a [`Handler`] in a consumer
//!   group and returns a [`Consumer`] to shut down gracefully.
//! - A handler answers [`Outcome::Ack`], [`Outcome::Retry`] or
//!   [`Outcome::DeadLetter`]; a temporary error or a panic means retry, up to
//!   [`ConsumeOptions::max_attempts`], then the dead-letter topic.
//!   Where the broker can hold a retry ([`Capabilities::broker_retries`]:
//!   RabbitMQ retry queues, Kafka retry topics) the wait happens there, so
//!   it survives the consumer; elsewhere the consumer waits.
//! - [`Consumer::lag`] asks the broker how far a group is behind (Kafka,
//!   Redis Streams, RabbitMQ); the metrics layer reports it as the gauge
//!   `mq_consumer_lag`.
//! - [`backends`] holds one module per backend, each behind its feature;
//!   [`layers`] adds metrics and tracing; [`connect`] builds it all from
//!   [`MqSettings`].
//! - [`idempotency`] (feature `idempotency`) lets a handler act once per
//!   message id, absorbing the duplicates at-least-once delivery allows.
//!
//! ```
//! use std::time::Duration;
//! use core_mq::{ConsumeOptions, Message, MqSettings, Outcome, connect, handler_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
//! // `memory://` here; `amqp://…`, `redis://…` or `kafka://…` in production, same code.
//! let queue = connect(&MqSettings::from_url("memory://")).await?;
//! let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
//! let consumer = queue
//!     .consume("emails", "sender", handler_fn(move |delivery| {
//!         let done = done.clone();
//!         async move {
//!             let to: String = delivery.message.decode_json()?;
//!             let _ = done.send(to);
//!             Ok(Outcome::Ack)
//!         }
//!     }), ConsumeOptions::default())
//!     .await?;
//! queue.publish(Message::json("emails", "ada@example.com")?).await?;
//! assert_eq!(finished.recv().await.unwrap(), "ada@example.com");
//! consumer.shutdown(Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod backends;
mod capability;
mod connect;
mod consumer;
mod handler;
#[cfg(feature = "idempotency")]
pub mod idempotency;
pub mod layers;
mod message;
mod options;
pub mod raw;
mod registration;
mod settings;

pub use backend::{DEFAULT_MAX_MESSAGE_BYTES, MAX_NAME_LEN, MessageQueueBase, validate_name};
pub use backends::kafka::{KafkaProtocol, KafkaSecurity, SaslMechanism};
pub use capability::Capabilities;
pub use connect::{connect, connect_backend};
pub use consumer::{
    ATTEMPTS_HEADER, Consumer, ConsumerStats, DEAD_LETTER_GROUP_HEADER, DEAD_LETTER_REASON_HEADER,
    ORIGINAL_TOPIC_HEADER,
};
pub use core_error::{Error, ErrorKind, Result};
pub use handler::{ConsumerEvent, Delivery, Handler, Outcome, SharedHandler, handler_fn};
pub use message::{JSON_CONTENT_TYPE, Message};
pub use options::{Backoff, ConsumeOptions, StartPosition};
pub use settings::MqSettings;
