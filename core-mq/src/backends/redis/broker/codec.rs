//! A message as the fields of one stream entry.
//!
//! | field | holds |
//! |---|---|
//! | `id` | message id |
//! | `key`, `ct`, `corr`, `cause` | key, content type, correlation and causation ids, when set |
//! | `ts` | timestamp in ms |
//! | `h:<name>` | one header |
//! | `body` | the body bytes |

use std::collections::HashMap;

use redis::{FromRedisValue, Value};
use uuid::Uuid;

use crate::Message;

const HEADER_PREFIX: &str = "h:";

/// Appends the entry's field/value pairs to an `XADD` command.
///
/// The id is written on the stack and every `h:<name>` field into one
/// buffer: the command copies each argument, so a string per field would
/// only be made to be dropped.
pub(super) fn encode(message: &Message, command: &mut redis::Cmd) {
    let mut id = Uuid::encode_buffer();
    command
        .arg("id")
        .arg(&*message.id.hyphenated().encode_lower(&mut id));
    command.arg("ts").arg(message.timestamp_ms);
    let optional = [
        ("key", &message.key),
        ("ct", &message.content_type),
        ("corr", &message.correlation_id),
        ("cause", &message.causation_id),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            command.arg(field).arg(value);
        }
    }
    let mut field = String::new();
    for (name, value) in &message.headers {
        field.clear();
        field.push_str(HEADER_PREFIX);
        field.push_str(name);
        command.arg(&field).arg(value);
    }
    command.arg("body").arg(message.body.as_ref());
}

/// The message an entry's fields hold, or what is wrong with it. Takes the
/// values instead of copying them: the body is moved, not copied.
pub(super) fn decode(mut fields: HashMap<String, Value>, topic: &str) -> Result<Message, String> {
    let mut take = |field: &str| fields.remove(field);
    let id: String = take("id").and_then(owned).ok_or("no id field")?;
    let id = Uuid::parse_str(&id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    let body: Vec<u8> = take("body").and_then(owned).ok_or("no body field")?;
    let mut message = Message::received(id, topic, body);
    message.timestamp_ms = take("ts").and_then(owned).unwrap_or_default();
    message.key = take("key").and_then(owned);
    message.content_type = take("ct").and_then(owned);
    message.correlation_id = take("corr").and_then(owned);
    message.causation_id = take("cause").and_then(owned);
    for (field, value) in fields {
        if let Some(name) = field.strip_prefix(HEADER_PREFIX)
            && let Some(value) = owned(value)
        {
            message.headers.insert(name.to_string(), value);
        }
    }
    Ok(message)
}

fn owned<T: FromRedisValue>(value: Value) -> Option<T> {
    T::from_redis_value(value).ok()
}
