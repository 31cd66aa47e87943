//! A message as a NATS message's headers and payload.
//!
//! | header | holds |
//! |---|---|
//! | `Core-Id` | message id |
//! | `Nats-Msg-Id` | `<topic>/<message id>`: the server drops a second publish of it, and a dead letter (same id, another topic) is not taken for one |
//! | `Core-Ts` | timestamp in ms |
//! | `Core-Key`, `Core-Ct`, `Core-Corr`, `Core-Cause` | key, content type, correlation and causation ids, when set |
//! | `Core-H-<name>` | one header |
//!
//! NATS header names are printable ASCII without `:`, and values hold no
//! line breaks: whatever else a name or value holds is written as `%XX`
//! (and `%` itself as `%25`), and read back.

use async_nats::HeaderMap;
use uuid::Uuid;

use crate::Message;

const ID: &str = "Core-Id";
const DEDUP_ID: &str = "Nats-Msg-Id";
const TIMESTAMP: &str = "Core-Ts";
const HEADER_PREFIX: &str = "Core-H-";
const OPTIONAL: [&str; 4] = ["Core-Key", "Core-Ct", "Core-Corr", "Core-Cause"];

/// The headers carrying `message`'s fields (the body is the payload).
pub(super) fn encode(message: &Message) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ID, message.id.to_string().as_str());
    let dedup_id = format!("{}/{}", message.topic, message.id);
    headers.insert(DEDUP_ID, dedup_id.as_str());
    headers.insert(TIMESTAMP, message.timestamp_ms.to_string().as_str());
    let optional = [
        &message.key,
        &message.content_type,
        &message.correlation_id,
        &message.causation_id,
    ];
    for (name, value) in OPTIONAL.into_iter().zip(optional) {
        if let Some(value) = value {
            headers.insert(name, escape(value, false).as_str());
        }
    }
    for (name, value) in &message.headers {
        let name = format!("{HEADER_PREFIX}{}", escape(name, true));
        headers.insert(name.as_str(), escape(value, false).as_str());
    }
    headers
}

/// The message a NATS message carries, or what is wrong with it.
pub(super) fn decode(
    topic: &str,
    headers: Option<&HeaderMap>,
    payload: bytes::Bytes,
) -> Result<Message, String> {
    let headers = headers.ok_or("no headers")?;
    let text = |name: &str| headers.get(name).map(|value| unescape(value.as_str()));
    let id = text(ID).ok_or("no Core-Id header")?;
    let id = Uuid::parse_str(&id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    let mut message = Message::received(id, topic, payload);
    message.timestamp_ms = text(TIMESTAMP)
        .and_then(|ts| ts.parse().ok())
        .unwrap_or_default();
    let [key, content_type, correlation, causation] = OPTIONAL.map(text);
    message.key = key;
    message.content_type = content_type;
    message.correlation_id = correlation;
    message.causation_id = causation;
    for (name, values) in headers.iter() {
        if let Some(name) = AsRef::<str>::as_ref(name).strip_prefix(HEADER_PREFIX)
            && let Some(value) = values.first()
        {
            message
                .headers
                .insert(unescape(name), unescape(value.as_str()));
        }
    }
    Ok(message)
}

fn escape(text: &str, name: bool) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        let bad =
            c == '%' || c == '\r' || c == '\n' || (name && (c == ':' || !c.is_ascii_graphic()));
        if bad {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                escaped.push_str(&format!("%{byte:02X}"));
            }
        } else {
            escaped.push(c);
        }
    }
    escaped
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_survives_names_and_values_nats_cannot_carry() {
        let mut message = Message::new("orders", "body").with_key("k:1 %");
        message.correlation_id = Some("line\r\nbreak".into());
        message
            .headers
            .insert("x-core-dead-letter-reason".into(), "gave up:\nwhy".into());
        message.headers.insert("odd name: ü".into(), "50%".into());
        let back = decode("orders", Some(&encode(&message)), message.body.clone()).unwrap();
        assert_eq!(back, message);
    }
}
