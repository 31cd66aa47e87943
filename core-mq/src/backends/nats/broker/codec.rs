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

use std::fmt::Write as _;

use async_nats::HeaderMap;
use uuid::Uuid;

use crate::Message;

const ID: &str = "Core-Id";
const DEDUP_ID: &str = "Nats-Msg-Id";
const TIMESTAMP: &str = "Core-Ts";
const HEADER_PREFIX: &str = "Core-H-";
const KEY: &str = "Core-Key";
const CONTENT_TYPE: &str = "Core-Ct";
const CORRELATION: &str = "Core-Corr";
const CAUSATION: &str = "Core-Cause";
const OPTIONAL: [&str; 4] = [KEY, CONTENT_TYPE, CORRELATION, CAUSATION];

/// The headers carrying `message`'s fields (the body is the payload).
pub(super) fn encode(message: &Message) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ID, message.id.to_string());
    headers.insert(DEDUP_ID, format!("{}/{}", message.topic, message.id));
    headers.insert(TIMESTAMP, message.timestamp_ms.to_string());
    let optional = [
        &message.key,
        &message.content_type,
        &message.correlation_id,
        &message.causation_id,
    ];
    for (name, value) in OPTIONAL.into_iter().zip(optional) {
        if let Some(value) = value {
            headers.insert(name, escape(value, false));
        }
    }
    for (name, value) in &message.headers {
        let name = format!("{HEADER_PREFIX}{}", escape(name, true));
        headers.insert(name.as_str(), escape(value, false));
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
    // Written by `encode` as they are (a UUID and a number need no escaping).
    let id = headers.get(ID).ok_or("no Core-Id header")?.as_str();
    let id = Uuid::parse_str(id).map_err(|_| format!("the id {id:?} is not a UUID"))?;
    let mut message = Message::received(id, topic, payload);
    // One pass over the headers instead of a lookup per field.
    for (name, values) in headers.iter() {
        let Some(value) = values.first().map(|value| value.as_str()) else {
            continue;
        };
        let field = match AsRef::<str>::as_ref(name) {
            TIMESTAMP => {
                message.timestamp_ms = value.parse().unwrap_or_default();
                continue;
            }
            KEY => &mut message.key,
            CONTENT_TYPE => &mut message.content_type,
            CORRELATION => &mut message.correlation_id,
            CAUSATION => &mut message.causation_id,
            name => {
                if let Some(name) = name.strip_prefix(HEADER_PREFIX) {
                    message.headers.insert(unescape(name), unescape(value));
                }
                continue;
            }
        };
        *field = Some(unescape(value));
    }
    Ok(message)
}

fn escape(text: &str, name: bool) -> String {
    let bad = |c: char| {
        c == '%' || c == '\r' || c == '\n' || (name && (c == ':' || !c.is_ascii_graphic()))
    };
    // Most names and values need nothing escaped: copy them as they are.
    if !text.contains(bad) {
        return text.to_owned();
    }
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if bad(c) {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                let _ = write!(escaped, "%{byte:02X}");
            }
        } else {
            escaped.push(c);
        }
    }
    escaped
}

fn unescape(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some(&[b'%', high, low]) => hex_digit(high).zip(hex_digit(low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                out.push(high * 16 + low);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
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

    #[test]
    fn a_percent_sign_not_followed_by_two_hex_digits_is_kept() {
        // Written by another producer, not escaped by `encode`.
        for text in ["100%+1", "50%", "%zz", "a%-Fb", "%4"] {
            assert_eq!(unescape(text), text);
        }
        assert_eq!(unescape("%41%e2%82%ac"), "A€");
    }
}
