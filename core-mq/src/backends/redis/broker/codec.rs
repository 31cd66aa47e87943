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

use bytes::Bytes;
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

/// The message an entry's fields hold, or what is wrong with it. One pass
/// over the fields, taking their values instead of copying them: the body
/// is moved, not copied, and a header's name is its field's, prefix cut.
pub(super) fn decode(fields: HashMap<String, Value>, topic: &str) -> Result<Message, String> {
    let mut message = Message::received(Uuid::nil(), topic, Bytes::new());
    let (mut id, mut body) = (None, None);
    for (mut field, value) in fields {
        match field.as_str() {
            "id" => id = convert::<String>(value),
            "body" => body = convert::<Vec<u8>>(value),
            "ts" => message.timestamp_ms = convert(value).unwrap_or_default(),
            "key" => message.key = convert(value),
            "ct" => message.content_type = convert(value),
            "corr" => message.correlation_id = convert(value),
            "cause" => message.causation_id = convert(value),
            name if name.starts_with(HEADER_PREFIX) => {
                if let Some(value) = convert(value) {
                    field.drain(..HEADER_PREFIX.len());
                    message.headers.insert(field, value);
                }
            }
            _ => {}
        }
    }
    let id = id.ok_or("no id field")?;
    message.id = Uuid::parse_str(&id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    message.body = body.ok_or("no body field")?.into();
    Ok(message)
}

fn convert<T: FromRedisValue>(value: Value) -> Option<T> {
    T::from_redis_value(value).ok()
}
