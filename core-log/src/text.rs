//! Human-readable lines for development, with the same masking as JSON.
//!
//! `2026-12-06T10:00:00.000000Z  INFO context{request_id="r-1"}:handler{route="/a"}: my_service: signed in user="alice"`:
//! the shape of `tracing-subscriber`'s full format, with the fields a
//! [`LogContext`](crate::LogContext) binds shown as the outermost span.

use std::fmt;

use tracing::field::Field;
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::mask::{MASK, Masks};

/// Formats fields as `name=value` separated by spaces, masking as configured.
pub(crate) fn text_fields(masks: Masks) -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(
        move |writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug| {
            let name = field.name();
            if masks.is_masked(name) {
                write!(writer, "{name}={MASK}")
            } else if name == "message" {
                write!(writer, "{value:?}")
            } else {
                write!(writer, "{name}={value:?}")
            }
        },
    )
    .delimited(" ")
}

/// Formats each event as one text line: time, level, the bound context and
/// the enclosing spans, target, message and fields.
#[derive(Debug, Clone)]
pub(crate) struct TextLines {
    masks: Masks,
}

impl TextLines {
    pub(crate) fn new(masks: Masks) -> TextLines {
        TextLines { masks }
    }
}

/// ANSI styles, written only when the output is a terminal.
const BOLD: &str = "\x1b[1m";
const DIMMED: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

fn level_colour(level: Level) -> &'static str {
    match level {
        Level::TRACE => "\x1b[35m",
        Level::DEBUG => "\x1b[34m",
        Level::INFO => "\x1b[32m",
        Level::WARN => "\x1b[33m",
        Level::ERROR => "\x1b[31m",
    }
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ansi = writer.has_ansi_escapes();
        let style = |on: &'static str| if ansi { on } else { "" };
        let reset = style(RESET);
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());

        writer.write_str(style(DIMMED))?;
        SystemTime.format_time(&mut writer)?;
        write!(
            writer,
            "{reset} {}{:>5}{reset} ",
            style(level_colour(*meta.level())),
            meta.level().as_str()
        )?;

        let mut spans = false;
        let mut result = Ok(());
        crate::context::for_each_bound(|name, value| {
            let open = if spans { " " } else { "{" };
            if !spans {
                result = write!(writer, "{}context{reset}", style(BOLD));
            }
            spans = true;
            result = result.and_then(|()| {
                if self.masks.is_masked(name) {
                    write!(writer, "{open}{name}={MASK}")
                } else {
                    write!(writer, "{open}{name}={value:?}")
                }
            });
        });
        result?;
        if spans {
            writer.write_str("}:")?;
        }
        for span in ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
        {
            write!(writer, "{}{}{reset}", style(BOLD), span.name())?;
            if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                && !fields.is_empty()
            {
                write!(writer, "{{{fields}}}")?;
            }
            writer.write_char(':')?;
            spans = true;
        }
        if spans {
            writer.write_char(' ')?;
        }
        write!(writer, "{}{}:{reset} ", style(DIMMED), meta.target())?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
