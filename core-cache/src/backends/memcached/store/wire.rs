//! Memcached's meta protocol replies, read from their header lines.
//!
//! Only the meta commands (`mg`, `ms`, `md`, `ma`, `mn`) are spoken: each
//! answers with a two-letter code and flags on one line, a value (`VA`)
//! followed by its data block.

use std::fmt;

use bytes::Bytes;

/// The longest command line: a key, and the command with its flags (the
/// longest, `ma` with a 19-digit initial value and delta, takes under 64).
const LINE_BYTES: usize = crate::MAX_KEY_BYTES + 64;

/// One command line, written on the stack.
pub(super) struct CommandLine {
    bytes: [u8; LINE_BYTES],
    len: usize,
}

impl CommandLine {
    /// The line `args` formats; `None` when it does not fit.
    pub(super) fn new(args: fmt::Arguments<'_>) -> Option<CommandLine> {
        let mut line = CommandLine {
            bytes: [0; LINE_BYTES],
            len: 0,
        };
        fmt::Write::write_fmt(&mut line, args).ok()?;
        Some(line)
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Write for CommandLine {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let free = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        free.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// One reply to a meta command.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// `VA`: a value, with the flags asked for.
    Value(Bytes, Returned),
    /// `HD`: done — stored, deleted, or found without its value.
    Done(Returned),
    /// `EN`: a meta get found no item.
    Miss,
    /// `NF`: the item to delete, count or compare was not found.
    NotFound,
    /// `NS`: not stored (an add on a key that exists).
    NotStored,
    /// `EX`: the item changed since its CAS token was read.
    Exists,
    /// `MN`: the end of a pipeline (`mn`).
    NoOp,
}

impl Reply {
    /// The reply's two-letter code, for messages (a value's data is not).
    pub(super) fn code(&self) -> &'static str {
        match self {
            Reply::Value(..) => "VA",
            Reply::Done(_) => "HD",
            Reply::Miss => "EN",
            Reply::NotFound => "NF",
            Reply::NotStored => "NS",
            Reply::Exists => "EX",
            Reply::NoOp => "MN",
        }
    }
}

/// The flags a reply returns that the backend reads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Returned {
    /// `c`: the item's CAS token.
    pub(super) cas: Option<u64>,
    /// `t`: seconds left to live, `-1` for none.
    pub(super) ttl: Option<i64>,
}

/// A reply line the server sent instead of a meta reply, or one that could
/// not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `CLIENT_ERROR …`: the request was malformed (say, counting a value
    /// that is not a number).
    Client(String),
    /// `SERVER_ERROR …`: the server could not do it (say, a value beyond its
    /// item size limit).
    Server(String),
    /// `ERROR`, or a line that is no meta reply: the connection is out of
    /// step. The line is not kept: it may be part of a cached value.
    Unexpected,
}

/// What a header line says: a reply, or a value whose data block of the
/// given length follows.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Header {
    Reply(Reply),
    Value { len: usize, returned: Returned },
}

/// Reads one header line (without its `\r\n`).
pub(super) fn header(line: &[u8]) -> Result<Header, Refusal> {
    let text = std::str::from_utf8(line).map_err(|_| Refusal::Unexpected)?;
    if let Some(detail) = text.strip_prefix("CLIENT_ERROR") {
        return Err(Refusal::Client(detail.trim().to_string()));
    }
    if let Some(detail) = text.strip_prefix("SERVER_ERROR") {
        return Err(Refusal::Server(detail.trim().to_string()));
    }
    let unexpected = || Refusal::Unexpected;
    let mut tokens = text.split(' ');
    let code = tokens.next().unwrap_or_default();
    if code == "VA" {
        let len = tokens
            .next()
            .and_then(|len| len.parse().ok())
            .ok_or_else(unexpected)?;
        return Ok(Header::Value {
            len,
            returned: returned(tokens).ok_or_else(unexpected)?,
        });
    }
    let reply = match code {
        "HD" => Reply::Done(returned(tokens).ok_or_else(unexpected)?),
        "EN" => Reply::Miss,
        "NF" => Reply::NotFound,
        "NS" => Reply::NotStored,
        "EX" => Reply::Exists,
        "MN" => Reply::NoOp,
        _ => return Err(unexpected()),
    };
    Ok(Header::Reply(reply))
}

/// The `c` and `t` flags among `tokens`; `None` when one does not parse.
fn returned<'a>(tokens: impl Iterator<Item = &'a str>) -> Option<Returned> {
    let mut returned = Returned::default();
    for token in tokens.filter(|token| !token.is_empty()) {
        match token.as_bytes()[0] {
            b'c' => returned.cas = Some(token[1..].parse().ok()?),
            b't' => returned.ttl = Some(token[1..].parse().ok()?),
            _ => {}
        }
    }
    Some(returned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_written_until_it_would_not_fit() {
        let key = "k".repeat(250);
        let line = CommandLine::new(format_args!("ms {key} 10 T60 ME")).unwrap();
        assert_eq!(line.as_bytes(), format!("ms {key} 10 T60 ME").as_bytes());
        assert!(CommandLine::new(format_args!("mg {} v", "k".repeat(400))).is_none());
    }

    #[test]
    fn replies_and_their_flags_are_read() {
        assert_eq!(
            header(b"VA 5 c42 t-1"),
            Ok(Header::Value {
                len: 5,
                returned: Returned {
                    cas: Some(42),
                    ttl: Some(-1)
                }
            })
        );
        assert_eq!(
            header(b"HD t30"),
            Ok(Header::Reply(Reply::Done(Returned {
                cas: None,
                ttl: Some(30)
            })))
        );
        assert_eq!(
            header(b"HD"),
            Ok(Header::Reply(Reply::Done(Returned::default())))
        );
        assert_eq!(header(b"EN"), Ok(Header::Reply(Reply::Miss)));
        assert_eq!(header(b"NS"), Ok(Header::Reply(Reply::NotStored)));
        assert_eq!(header(b"EX"), Ok(Header::Reply(Reply::Exists)));
        assert_eq!(header(b"NF"), Ok(Header::Reply(Reply::NotFound)));
        assert_eq!(header(b"MN"), Ok(Header::Reply(Reply::NoOp)));
    }

    #[test]
    fn refusals_and_lines_out_of_step_are_told_apart() {
        assert_eq!(
            header(b"CLIENT_ERROR cannot increment or decrement non-numeric value"),
            Err(Refusal::Client(
                "cannot increment or decrement non-numeric value".to_string()
            ))
        );
        assert_eq!(
            header(b"SERVER_ERROR object too large for cache"),
            Err(Refusal::Server("object too large for cache".to_string()))
        );
        assert_eq!(header(b"ERROR"), Err(Refusal::Unexpected));
        assert_eq!(header(b"VA x"), Err(Refusal::Unexpected));
        assert_eq!(header(b"HD cnot-a-number"), Err(Refusal::Unexpected));
    }
}
