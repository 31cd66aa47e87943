//! JSON lines: one object per event, with the enclosing spans' fields.
//!
//! Written by hand rather than with `tracing-subscriber`'s `json` feature so
//! that every field passes the [`Masks`] and span fields are stored as ready
//! JSON text: the stock formatter parses each span's fields back into a
//! `serde_json::Value` on every event.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::mask::{MASK, Masks};

/// Formats span fields as the inside of a JSON object: `"a":1,"b":"x"`.
#[derive(Debug, Clone)]
pub(crate) struct JsonFields {
    masks: Masks,
}

impl JsonFields {
    pub(crate) fn new(masks: Masks) -> JsonFields {
        JsonFields { masks }
    }
}

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = FieldWriter::new(&mut writer, &self.masks, true);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut visitor = FieldWriter::new(&mut writer, &self.masks, first);
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Formats each event as one JSON object on its own line:
///
/// `{"timestamp":..,"level":..,"target":..,"message":..,"fields":{..},"span":..,"context":{..}}`
///
/// `span` is the innermost span's name and `context` holds the fields bound
/// by [`LogContext`](crate::LogContext), then those of every enclosing span,
/// outermost first, each name once: where nested spans (or a field recorded
/// twice) give a name several values, the innermost, latest one wins. Both
/// are left out outside scopes and spans.
#[derive(Debug, Clone)]
pub(crate) struct JsonLines {
    masks: Masks,
}

impl JsonLines {
    pub(crate) fn new(masks: Masks) -> JsonLines {
        JsonLines { masks }
    }
}

#[derive(Default)]
struct Scratch {
    message: String,
    fields: String,
    /// The bound fields, then the enclosing spans' fields, outermost first,
    /// as written.
    context: String,
    /// Where each `"name":value` pair of `context` lies.
    entries: Vec<Entry>,
}

/// One `"name":value` pair inside [`Scratch::context`].
struct Entry {
    /// The quoted name.
    name: std::ops::Range<usize>,
    /// The whole pair.
    pair: std::ops::Range<usize>,
}

thread_local! {
    // Reused per thread so formatting an event allocates nothing once warm.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.write_event(ctx, &mut writer, event, &mut scratch),
            // Only reached if formatting re-enters on this thread.
            Err(_) => self.write_event(ctx, &mut writer, event, &mut Scratch::default()),
        })
    }
}

impl JsonLines {
    fn write_event<S>(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        writer: &mut Writer<'_>,
        event: &Event<'_>,
        scratch: &mut Scratch,
    ) -> fmt::Result
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        scratch.message.clear();
        scratch.fields.clear();
        let mut visitor = EventWriter {
            message: &mut scratch.message,
            fields: FieldWriter::new(&mut scratch.fields, &self.masks, true),
        };
        event.record(&mut visitor);
        visitor.fields.result?;

        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());

        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_str("\",\"target\":\"")?;
        JsonEscaped(writer).write_str(meta.target())?;
        writer.write_str("\",\"message\":\"")?;
        writer.write_str(&scratch.message)?;
        writer.write_str("\",\"fields\":{")?;
        writer.write_str(&scratch.fields)?;
        writer.write_char('}')?;

        scratch.context.clear();
        scratch.entries.clear();
        let mut bound_fields = FieldWriter::new(&mut scratch.context, &self.masks, true);
        let bound = crate::context::for_each_bound(|name, value| bound_fields.string(name, value));
        bound_fields.result?;
        split_pairs(&scratch.context, 0, &mut scratch.entries);
        let scope = ctx.event_scope();
        if bound || scope.is_some() {
            let mut leaf = None;
            for span in scope.into_iter().flat_map(|scope| scope.from_root()) {
                if let Some(fields) = span.extensions().get::<FormattedFields<JsonFields>>()
                    && !fields.fields.is_empty()
                {
                    let start = scratch.context.len();
                    if start > 0 {
                        scratch.context.push(',');
                    }
                    scratch.context.push_str(&fields.fields);
                    split_pairs(&scratch.context, start, &mut scratch.entries);
                }
                leaf = Some(span.name());
            }
            writer.write_str(",\"context\":{")?;
            let mut first = true;
            for (index, entry) in scratch.entries.iter().enumerate() {
                let name = &scratch.context[entry.name.clone()];
                let overridden = scratch.entries[index + 1..]
                    .iter()
                    .any(|later| &scratch.context[later.name.clone()] == name);
                if overridden {
                    continue;
                }
                if !first {
                    writer.write_char(',')?;
                }
                writer.write_str(&scratch.context[entry.pair.clone()])?;
                first = false;
            }
            writer.write_char('}')?;
            if let Some(name) = leaf {
                writer.write_str(",\"span\":\"")?;
                JsonEscaped(writer).write_str(name)?;
                writer.write_char('"')?;
            }
        }
        writer.write_str("}\n")
    }
}

/// Finds the `"name":value` pairs [`FieldWriter`] wrote into `text` from
/// byte `at` on. Values are JSON strings or bare numbers and booleans, which
/// hold no comma; anything else ends the scan as one last pair, so that no
/// text is lost.
fn split_pairs(text: &str, mut at: usize, entries: &mut Vec<Entry>) {
    let bytes = text.as_bytes();
    while at < bytes.len() {
        if bytes[at] == b',' {
            at += 1;
            continue;
        }
        let start = at;
        let name_end = if bytes[at] == b'"' {
            string_end(bytes, at)
        } else {
            bytes.len()
        };
        let value_start = name_end + 1;
        if bytes.get(name_end) != Some(&b':') || value_start > bytes.len() {
            entries.push(Entry {
                name: start..bytes.len(),
                pair: start..bytes.len(),
            });
            return;
        }
        let pair_end = match bytes.get(value_start) {
            Some(b'"') => string_end(bytes, value_start),
            _ => bytes[value_start..]
                .iter()
                .position(|&byte| byte == b',')
                .map_or(bytes.len(), |offset| value_start + offset),
        };
        entries.push(Entry {
            name: start..name_end,
            pair: start..pair_end,
        });
        at = pair_end;
    }
}

/// The index just past the JSON string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Splits an event's fields into its message (escaped, unquoted) and the
/// rest (the inside of a JSON object).
struct EventWriter<'a> {
    message: &'a mut String,
    fields: FieldWriter<'a, String>,
}

impl Visit for EventWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => {
                self.fields.result = self
                    .fields
                    .guard_message(field, self.message, |out| JsonEscaped(out).write_str(value))
            }
            name if name.starts_with("log.") => {}
            _ => self.fields.record_str(field, value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                self.fields.result = self.fields.guard_message(field, self.message, |out| {
                    write!(JsonEscaped(out), "{value:?}")
                })
            }
            name if name.starts_with("log.") => {}
            _ => self.fields.record_debug(field, value),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.record_i64(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.record_u64(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.record_bool(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.record_f64(field, value);
    }
}

/// Writes `"name":value` pairs separated by commas, masking as configured.
struct FieldWriter<'a, W: fmt::Write> {
    out: &'a mut W,
    masks: &'a Masks,
    first: bool,
    result: fmt::Result,
}

impl<'a, W: fmt::Write> FieldWriter<'a, W> {
    fn new(out: &'a mut W, masks: &'a Masks, first: bool) -> FieldWriter<'a, W> {
        FieldWriter {
            out,
            masks,
            first,
            result: Ok(()),
        }
    }

    fn guard_message(
        &self,
        field: &Field,
        message: &mut String,
        write: impl FnOnce(&mut String) -> fmt::Result,
    ) -> fmt::Result {
        self.result?;
        if self.masks.is_masked(field.name()) {
            message.push_str(MASK);
            return Ok(());
        }
        write(message)
    }

    /// Writes the key, then the value unless the field is masked; returns
    /// whether the caller still has to write the value.
    fn key(&mut self, name: &str) -> Result<bool, fmt::Error> {
        self.result?;
        if !self.first {
            self.out.write_char(',')?;
        }
        self.first = false;
        self.out.write_char('"')?;
        JsonEscaped(&mut *self.out).write_str(name)?;
        self.out.write_str("\":")?;
        if self.masks.is_masked(name) {
            self.out.write_char('"')?;
            self.out.write_str(MASK)?;
            self.out.write_char('"')?;
            return Ok(false);
        }
        Ok(true)
    }

    fn raw(&mut self, field: &Field, value: impl fmt::Display) {
        self.result = self.key(field.name()).and_then(|open| {
            if open {
                write!(self.out, "{value}")
            } else {
                Ok(())
            }
        });
    }

    /// Writes a `"name":"value"` pair (also for the fields a
    /// [`LogContext`](crate::LogContext) binds, which are no tracing fields).
    fn string(&mut self, name: &str, value: &str) {
        self.result = self.key(name).and_then(|open| {
            if open {
                self.out.write_char('"')?;
                JsonEscaped(&mut *self.out).write_str(value)?;
                self.out.write_char('"')?;
            }
            Ok(())
        });
    }
}

impl<W: fmt::Write> Visit for FieldWriter<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.result = self.key(field.name()).and_then(|open| {
            if open {
                self.out.write_char('"')?;
                write!(JsonEscaped(&mut *self.out), "{value:?}")?;
                self.out.write_char('"')?;
            }
            Ok(())
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, value);
        } else {
            // JSON has no NaN or infinity; keep the value readable as a string.
            self.record_str(field, &value.to_string());
        }
    }
}

/// Escapes everything written through it as the inside of a JSON string.
pub(crate) struct JsonEscaped<'a, W: fmt::Write + ?Sized>(pub(crate) &'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[start..index])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = index + 1;
        }
        self.0.write_str(&text[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(&str, &str)> {
        let mut entries = Vec::new();
        split_pairs(text, 0, &mut entries);
        entries
            .iter()
            .map(|entry| (&text[entry.name.clone()], &text[entry.pair.clone()]))
            .collect()
    }

    #[test]
    fn pairs_are_split_at_their_own_commas_only() {
        let text = r#""a":1,"b\",":"x,\"y","c":true,"d":-2.5,"e":"***""#;
        assert_eq!(
            pairs(text),
            [
                (r#""a""#, r#""a":1"#),
                (r#""b\",""#, r#""b\",":"x,\"y""#),
                (r#""c""#, r#""c":true"#),
                (r#""d""#, r#""d":-2.5"#),
                (r#""e""#, r#""e":"***""#),
            ]
        );
    }

    #[test]
    fn unexpected_text_is_kept_whole() {
        assert_eq!(pairs("garbage,more"), [("garbage,more", "garbage,more")]);
        assert_eq!(pairs(r#""a""#), [(r#""a""#, r#""a""#)]);
    }

    #[test]
    fn escaped_text_round_trips_through_a_json_parser() {
        let original = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \0 é 日本 🎉";
        let mut quoted = String::from("\"");
        JsonEscaped(&mut quoted).write_str(original).unwrap();
        quoted.push('"');
        let parsed: String = serde_json::from_str(&quoted).unwrap();
        assert_eq!(parsed, original);
    }
}
