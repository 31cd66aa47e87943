//! The message every backend carries, and its typed JSON helpers.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use core_error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The content type [`Message::json`] sets.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// One message: what a publisher sends and a handler receives.
///
/// Every field survives the trip through every backend: the id, the topic,
/// the key (which decides partition and ordering), the headers, the
/// timestamp, the content type, the correlation and causation ids and the
/// body bytes.
///
/// ```
/// use core_mq::Message;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct OrderPlaced { order: u64 }
///
/// let message = Message::json("orders", &OrderPlaced { order: 7 })?
///     .with_key("customer-42")
///     .with_header("tenant", "acme");
/// assert_eq!(message.id.get_version_num(), 7);
/// assert_eq!(message.decode_json::<OrderPlaced>()?, OrderPlaced { order: 7 });
/// # Ok::<(), core_error::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Unique, time-ordered id (UUID v7); the idempotency helper keys on it.
    pub id: Uuid,
    /// Where the message goes.
    pub topic: String,
    /// Messages with the same key are handled in the order they were published.
    pub key: Option<String>,
    /// Application headers. Names starting with `x-core-` are reserved.
    pub headers: BTreeMap<String, String>,
    /// When the message was created, in milliseconds since the Unix epoch
    /// (0 for a delivered message whose publisher did not say).
    pub timestamp_ms: u64,
    /// The body's media type, such as `application/json`.
    pub content_type: Option<String>,
    /// The id shared by every message of one conversation or request.
    pub correlation_id: Option<String>,
    /// The id of the message that caused this one.
    pub causation_id: Option<String>,
    /// The payload.
    pub body: Bytes,
}

impl Message {
    /// A message to `topic` with `body`, a fresh id and the current time.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Message {
        Message {
            id: Uuid::now_v7(),
            topic: topic.into(),
            key: None,
            headers: BTreeMap::new(),
            timestamp_ms: now_ms(),
            content_type: None,
            correlation_id: None,
            causation_id: None,
            body: body.into(),
        }
    }

    /// A message as a broker delivered it, before its codec fills in the
    /// rest: id and fields come from the broker, so no id is drawn and no
    /// clock read for it (the timestamp is 0 until the codec sets it).
    #[cfg_attr(
        not(any(
            feature = "redis-streams",
            feature = "rabbitmq",
            feature = "kafka",
            feature = "nats"
        )),
        allow(dead_code)
    )]
    pub(crate) fn received(id: Uuid, topic: impl Into<String>, body: impl Into<Bytes>) -> Message {
        Message {
            id,
            topic: topic.into(),
            key: None,
            headers: BTreeMap::new(),
            timestamp_ms: 0,
            content_type: None,
            correlation_id: None,
            causation_id: None,
            body: body.into(),
        }
    }

    /// A message whose body is `value` as JSON.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when `value`
    /// cannot be serialized.
    pub fn json<T: Serialize + ?Sized>(topic: impl Into<String>, value: &T) -> Result<Message> {
        let topic = topic.into();
        let body = serde_json::to_vec(value).map_err(|err| {
            Error::invalid_input("the payload cannot be serialized as JSON")
                .with_operation("mq.encode")
                .with_key(topic.clone())
                .with_source(err)
        })?;
        let mut message = Message::new(topic, body);
        message.content_type = Some(JSON_CONTENT_TYPE.to_string());
        Ok(message)
    }

    /// The body decoded from JSON.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the topic
    /// and message id when the body is not the expected JSON; not temporary,
    /// so a handler that returns it dead-letters the message.
    pub fn decode_json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|err| {
            Error::invalid_input("the message body is not the expected JSON")
                .with_operation("mq.decode")
                .with_key(self.topic.clone())
                .with_context("message_id", self.id)
                .with_source(err)
        })
    }

    /// Sets the key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Message {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Message {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the content type.
    #[must_use]
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Message {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the correlation id.
    #[must_use]
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Message {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    #[must_use]
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Message {
        self.causation_id = Some(id.into());
        self
    }

    /// A new message to `topic` caused by this one: it keeps the correlation
    /// id (or starts one from this message's id) and names this message as
    /// its cause.
    ///
    /// ```
    /// use core_mq::Message;
    ///
    /// let order = Message::new("orders", "o-1");
    /// let invoice = order.reply("invoices", "i-1");
    /// assert_eq!(invoice.causation_id, Some(order.id.to_string()));
    /// assert_eq!(invoice.correlation_id, Some(order.id.to_string()));
    /// ```
    pub fn reply(&self, topic: impl Into<String>, body: impl Into<Bytes>) -> Message {
        let mut message = Message::new(topic, body);
        message.correlation_id = Some(
            self.correlation_id
                .clone()
                .unwrap_or_else(|| self.id.to_string()),
        );
        message.causation_id = Some(self.id.to_string());
        message
    }

    /// The bytes this message takes on the wire, roughly: body, key and
    /// headers. Used for the size limit.
    pub fn encoded_len(&self) -> usize {
        self.body.len()
            + self.key.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_and_bad_json_is_invalid_input() {
        let message = Message::json("t", &vec![1, 2, 3]).unwrap();
        assert_eq!(message.content_type.as_deref(), Some(JSON_CONTENT_TYPE));
        assert_eq!(message.decode_json::<Vec<i32>>().unwrap(), vec![1, 2, 3]);
        let err = message.decode_json::<String>().unwrap_err();
        assert_eq!(err.kind(), core_error::ErrorKind::InvalidInput);
        assert_eq!(err.context_value("key"), Some("t"));
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let first = Message::new("t", "a");
        let second = Message::new("t", "b");
        assert!(first.id < second.id);
    }
}
