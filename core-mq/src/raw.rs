//! The parts a backend is built from, public so a backend can live in
//! another crate and share everything the backends here share: the
//! consumer engine ([`spawn`]) behind a [`Source`] of messages, each with an
//! [`Ack`]; a [`LagProbe`] for [`Consumer::lag`](crate::Consumer::lag); and
//! the argument checks every backend makes, so each refuses bad input alike.
//!
//! A backend implements [`MessageQueueBase`](crate::MessageQueueBase); its
//! `consume` checks the arguments, subscribes, and returns
//! `raw::spawn(...)` on its source. The crate's own backends are built this
//! way, from this module alone (docs/BACKENDS.md walks through one).

use core_error::{Error, Result};

pub use crate::consumer::{Ack, Inbound, LagProbe, Source, lane_of, spawn};
use crate::{ConsumeOptions, Message, validate_name};

/// `future` within `timeout`, or a temporary [`Timeout`](core_error::ErrorKind::Timeout)
/// error naming the backend: the common end of every backend's health check.
pub async fn health_within(
    backend: &'static str,
    timeout: std::time::Duration,
    future: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(
                Error::timeout(format!("the broker did not answer within {timeout:?}"))
                    .with_operation("mq.health")
                    .with_backend(backend),
            )
        })
}

/// Checks a message before it is sent: a valid topic, and no larger than `limit`.
pub fn check_outgoing(backend: &'static str, message: &Message, limit: usize) -> Result<()> {
    validate_name("topic", &message.topic).map_err(|err| err.with_backend(backend))?;
    let size = message.encoded_len();
    if size > limit {
        return Err(Error::invalid_input(format!(
            "the message is {size} bytes, over the limit of {limit} bytes"
        ))
        .with_operation("mq.publish")
        .with_backend(backend)
        .with_key(message.topic.clone())
        .with_context("message_id", message.id));
    }
    Ok(())
}

/// Checks every message of a batch before any is sent.
pub fn check_batch(backend: &'static str, messages: &[Message], limit: usize) -> Result<()> {
    messages
        .iter()
        .try_for_each(|message| check_outgoing(backend, message, limit))
}

/// Checks the arguments of `consume`.
pub fn check_consume(
    backend: &'static str,
    topic: &str,
    group: &str,
    options: &ConsumeOptions,
) -> Result<()> {
    validate_name("topic", topic)
        .and_then(|()| validate_name("group", group))
        .and_then(|()| options.validate())
        .and_then(|()| validate_name("dead-letter topic", &options.dead_letter_topic_for(topic)))
        .map_err(|err| err.with_backend(backend))
}
