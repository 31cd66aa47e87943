//! A message as AMQP properties and headers.
//!
//! The message id goes in `message_id`; everything else in headers as long
//! strings (`x-core-key`, `x-core-ts`, `x-core-ct`, `x-core-corr`,
//! `x-core-cause`, and the application headers under their own names),
//! because AMQP short strings stop at 255 bytes and a value that long must
//! not make publishing fail. Content type and correlation id are also set
//! as properties when they fit, for other AMQP tools.
//!
//! A retry carries its attempt number in `x-core-attempt` and its delay as
//! the per-message `expiration`. The headers RabbitMQ adds when a message is
//! dead-lettered out of a retry queue (`x-death`, `x-first-death-*`,
//! `x-last-death-*`) are the broker's bookkeeping, not the application's,
//! and are dropped on decoding.

use core_error::{Error, Result};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use uuid::Uuid;

use crate::Message;

const KEY: &str = "x-core-key";
const TIMESTAMP: &str = "x-core-ts";
const CONTENT_TYPE: &str = "x-core-ct";
const CORRELATION: &str = "x-core-corr";
const CAUSATION: &str = "x-core-cause";
const ATTEMPT: &str = "x-core-attempt";

/// Persistent: written to disk by durable queues, so it survives a broker restart.
const PERSISTENT: u8 = 2;

/// The properties carrying `message`.
pub(super) fn encode(message: &Message) -> Result<BasicProperties> {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        let name = ShortString::try_new(name.as_str()).map_err(|_| {
            Error::invalid_input("a header name is longer than 255 bytes")
                .with_operation("mq.publish")
                .with_backend(super::BACKEND)
                .with_key(message.topic.clone())
        })?;
        headers.insert(name, long(value));
    }
    headers.insert(TIMESTAMP.into(), long(&message.timestamp_ms.to_string()));
    let optional = [
        (KEY, &message.key),
        (CONTENT_TYPE, &message.content_type),
        (CORRELATION, &message.correlation_id),
        (CAUSATION, &message.causation_id),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            headers.insert(name.into(), long(value));
        }
    }
    let mut properties = BasicProperties::default()
        .with_message_id(message.id.to_string().into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(message.timestamp_ms / 1000)
        .with_headers(headers);
    if let Some(value) = short(&message.content_type) {
        properties = properties.with_content_type(value);
    }
    if let Some(value) = short(&message.correlation_id) {
        properties = properties.with_correlation_id(value);
    }
    Ok(properties)
}

/// The properties carrying `message` as attempt `attempt`, expiring (and
/// so leaving its retry queue) after `delay_ms`.
pub(super) fn encode_retry(
    message: &Message,
    attempt: u32,
    delay_ms: u64,
) -> Result<BasicProperties> {
    let properties = encode(message)?;
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPT.into(), long(&attempt.to_string()));
    Ok(properties
        .with_headers(headers)
        .with_expiration(delay_ms.to_string().into()))
}

/// Which attempt a delivery is, as its retry header says (1 without one).
pub(super) fn attempt(properties: &BasicProperties) -> u32 {
    properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(ATTEMPT))
        .and_then(text)
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

/// Headers RabbitMQ itself writes when it dead-letters a message.
fn is_broker_bookkeeping(name: &str) -> bool {
    name == "x-death" || name.starts_with("x-first-death-") || name.starts_with("x-last-death-")
}

fn long(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

fn short(value: &Option<String>) -> Option<ShortString> {
    value
        .as_deref()
        .and_then(|value| ShortString::try_new(value).ok())
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.as_str().to_string()),
        _ => None,
    }
}

/// The message a delivery carries, or what is wrong with it.
pub(super) fn decode(
    topic: &str,
    properties: &BasicProperties,
    body: Vec<u8>,
) -> std::result::Result<Message, String> {
    let id = properties
        .message_id()
        .as_ref()
        .ok_or("no message_id property")?;
    let id =
        Uuid::parse_str(id.as_str()).map_err(|_| format!("the message_id {id} is not a UUID"))?;
    let mut message = Message::received(id, topic, body);
    // The AMQP timestamp (seconds) of a message another client published;
    // ours carry the milliseconds in a header, read below.
    message.timestamp_ms = properties
        .timestamp()
        .map_or(0, |seconds| seconds.saturating_mul(1000));
    if let Some(headers) = properties.headers() {
        for (name, value) in headers {
            let Some(value) = text(value) else { continue };
            match name.as_str() {
                KEY => message.key = Some(value),
                TIMESTAMP => message.timestamp_ms = value.parse().unwrap_or_default(),
                CONTENT_TYPE => message.content_type = Some(value),
                CORRELATION => message.correlation_id = Some(value),
                CAUSATION => message.causation_id = Some(value),
                ATTEMPT => {}
                other if is_broker_bookkeeping(other) => {}
                other => {
                    message.headers.insert(other.to_string(), value);
                }
            }
        }
    }
    Ok(message)
}
