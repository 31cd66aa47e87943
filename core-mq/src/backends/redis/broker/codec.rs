//! A message as the fields of one stream entry.
//!
//! | field | holds |
//! |---|---|
//! | `id` | message id |
//! | `key`, `ct`, `corr`, `cause` | key, content type, correlation and causation ids, when set |
//! | `ts` | timestamp in ms |
//! | `h:<name>` | one header |
//! | `body` | the body bytes |

use redis::streams::StreamId;
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

/// The message an entry holds, or what is wrong with it.
pub(super) fn decode(entry: &StreamId) -> Result<Message, String> {
    let id: String = entry.get("id").ok_or("no id field")?;
    let id = Uuid::parse_str(&id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    let body: Vec<u8> = entry.get("body").ok_or("no body field")?;
    let mut message = Message::new(String::new(), body);
    message.id = id;
    message.timestamp_ms = entry.get("ts").unwrap_or_default();
    message.key = entry.get("key");
    message.content_type = entry.get("ct");
    message.correlation_id = entry.get("corr");
    message.causation_id = entry.get("cause");
    for field in entry.map.keys() {
        if let Some(name) = field.strip_prefix(HEADER_PREFIX)
            && let Some(value) = entry.get::<String>(field)
        {
            message.headers.insert(name.to_string(), value);
        }
    }
    Ok(message)
}
