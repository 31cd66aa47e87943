//! A message as a Kafka record: key, payload, create time and headers.
//!
//! Reserved headers: `x-core-id`, `x-core-ct`, `x-core-corr`,
//! `x-core-cause`, and on a retry topic `x-core-attempt` and
//! `x-core-not-before` (milliseconds since the Unix epoch); every other
//! header is an application header.

use rdkafka::Message as _;
use rdkafka::message::{BorrowedMessage, Header, Headers as _, OwnedHeaders};
use uuid::Uuid;

use crate::Message;

const ID: &str = "x-core-id";
const CONTENT_TYPE: &str = "x-core-ct";
const CORRELATION: &str = "x-core-corr";
const CAUSATION: &str = "x-core-cause";
const ATTEMPT: &str = "x-core-attempt";
const NOT_BEFORE: &str = "x-core-not-before";

/// What a retry record says about its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RetryMark {
    /// Which attempt the record is (1 on the topic itself).
    pub(super) attempt: u32,
    /// When it may be handled, in milliseconds since the Unix epoch.
    pub(super) not_before_ms: u64,
}

impl Default for RetryMark {
    fn default() -> RetryMark {
        RetryMark {
            attempt: 1,
            not_before_ms: 0,
        }
    }
}

/// The headers of `message` as a retry record marked with `mark`.
pub(super) fn retry_headers(message: &Message, mark: RetryMark) -> OwnedHeaders {
    let attempt = mark.attempt.to_string();
    let not_before = mark.not_before_ms.to_string();
    headers(message)
        .insert(Header {
            key: ATTEMPT,
            value: Some(attempt.as_str()),
        })
        .insert(Header {
            key: NOT_BEFORE,
            value: Some(not_before.as_str()),
        })
}

/// The record headers carrying `message`'s metadata.
pub(super) fn headers(message: &Message) -> OwnedHeaders {
    let id = message.id.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(message.headers.len() + 4).insert(Header {
        key: ID,
        value: Some(id.as_str()),
    });
    let optional = [
        (CONTENT_TYPE, &message.content_type),
        (CORRELATION, &message.correlation_id),
        (CAUSATION, &message.causation_id),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_str()),
            });
        }
    }
    for (key, value) in &message.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
    headers
}

/// The message a record carries and its retry mark, or what is wrong with it.
pub(super) fn decode(record: &BorrowedMessage<'_>) -> Result<(Message, RetryMark), String> {
    let mut message = Message::received(
        Uuid::nil(),
        record.topic(),
        record.payload().unwrap_or_default().to_vec(),
    );
    message.key = record
        .key()
        .map(|key| String::from_utf8_lossy(key).into_owned());
    message.timestamp_ms = record
        .timestamp()
        .to_millis()
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or_default();
    let mut id = None;
    let mut mark = RetryMark::default();
    if let Some(headers) = record.headers() {
        for header in headers.iter() {
            let value = String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned();
            match header.key {
                ID => id = Some(value),
                CONTENT_TYPE => message.content_type = Some(value),
                CORRELATION => message.correlation_id = Some(value),
                CAUSATION => message.causation_id = Some(value),
                ATTEMPT => mark.attempt = value.parse().unwrap_or(1),
                NOT_BEFORE => mark.not_before_ms = value.parse().unwrap_or(0),
                other => {
                    message.headers.insert(other.to_string(), value);
                }
            }
        }
    }
    let id = id.ok_or("no x-core-id header")?;
    message.id = Uuid::parse_str(&id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    Ok((message, mark))
}
