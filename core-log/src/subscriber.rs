//! Building the subscriber from [`LogSettings`], and the guard that flushes.

use std::io::IsTerminal;

use core_error::{Error, Result};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Dispatch, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

use crate::audit::AUDIT_TARGET;
use crate::context::CONTEXT_TARGET;
use crate::fresh_filter::FreshFilter;
use crate::json::{JsonFields, JsonLines};
use crate::mask::Masks;
use crate::output::open_file;
use crate::queue::{self, QueueHandle, QueueWriter};
use crate::settings::{LogFormat, LogSettings, OverflowPolicy};
use crate::text::{TextLines, text_fields};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Level names of other logging systems, which `EnvFilter` would read as
/// targets: `RUST_LOG=warning` would log nothing at all.
const FOREIGN_LEVELS: [&str; 7] = [
    "warning", "fatal", "critical", "verbose", "notice", "all", "none",
];

/// Keeps the outputs' writer threads (and the span exporter) alive; dropping
/// it writes out and flushes everything queued.
///
/// Keep it in `main` for the life of the service: `let _guard = ...;`
/// (not `let _ = ...;`, which drops it at once).
#[must_use = "dropping the guard stops the log writers"]
pub struct LogGuard {
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::OtlpGuard>,
    queues: Vec<QueueHandle>,
}

impl LogGuard {
    /// Waits until every event logged so far is written and flushed.
    pub fn flush(&self) {
        for queue in &self.queues {
            queue.flush();
        }
    }

    /// How many events each output (`stdout`, `file`, `audit`) dropped
    /// because its queue was full; always zero under the `block` policy.
    pub fn dropped_events(&self) -> Vec<(&'static str, u64)> {
        self.queues
            .iter()
            .map(|queue| (queue.output(), queue.dropped()))
            .collect()
    }
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field(
                "outputs",
                &self
                    .queues
                    .iter()
                    .map(QueueHandle::output)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        drop(self.otlp.take());
        // The queue handles flush and join their threads as they drop.
        self.queues.clear();
    }
}

/// Builds the subscriber `settings` describe without installing it, for
/// tests and for `tracing::subscriber::with_default`.
///
/// `RUST_LOG`, when set and not empty, replaces `settings.level`.
///
/// ```
/// use core_log::LogSettings;
///
/// let settings = LogSettings { stdout: false, ..LogSettings::default() };
/// let (dispatch, guard) = core_log::build(&settings).unwrap();
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!("to nowhere"));
/// guard.flush();
/// ```
pub fn build(settings: &LogSettings) -> Result<(Dispatch, LogGuard)> {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty());
    build_with_filter(settings, rust_log.as_deref())
}

/// Builds the subscriber and installs it for the whole process, together
/// with the bridge from the `log` crate.
///
/// Fails with [`Conflict`](core_error::ErrorKind::Conflict) if a global
/// subscriber is installed already, and with
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the setting
/// at fault for bad settings.
///
/// ```no_run
/// let _guard = core_log::init(&core_log::LogSettings::default())?;
/// tracing::info!(port = 8080, "listening");
/// # Ok::<(), core_log::Error>(())
/// ```
pub fn init(settings: &LogSettings) -> Result<LogGuard> {
    let (dispatch, guard) = build(settings)?;
    tracing::dispatcher::set_global_default(dispatch).map_err(|_| {
        Error::conflict("a global tracing subscriber is installed already")
            .with_operation("log.init")
    })?;
    // A `log` logger someone else installed keeps working; we only bridge
    // when the slot is free.
    let _ = tracing_log::LogTracer::init();
    Ok(guard)
}

fn build_with_filter(
    settings: &LogSettings,
    rust_log: Option<&str>,
) -> Result<(Dispatch, LogGuard)> {
    let directives = match rust_log {
        Some(value) => Directives::parse(value, "RUST_LOG")?,
        None => Directives::parse(&settings.level, "log.level")?,
    };
    let masks = Masks::new(&settings.masked_fields);
    let audit_apart = settings.audit.enabled;
    let mut layers: Vec<BoxedLayer> = Vec::new();
    let mut queues = Vec::new();

    if settings.stdout {
        let (writer, handle) = start_queue(
            "stdout",
            Box::new(std::io::stdout()),
            settings,
            settings.overflow,
        )?;
        let ansi = std::io::stdout().is_terminal();
        layers.push(ordinary_layer(
            settings.format,
            writer,
            &masks,
            ansi,
            &directives,
            audit_apart,
        )?);
        queues.push(handle);
    }
    if let Some(file) = &settings.file {
        let sink = open_file(file, "log.file")?;
        let (writer, handle) = start_queue("file", sink, settings, settings.overflow)?;
        layers.push(ordinary_layer(
            settings.format,
            writer,
            &masks,
            false,
            &directives,
            audit_apart,
        )?);
        queues.push(handle);
    }
    if audit_apart {
        let sink = open_file(&settings.audit.file, "log.audit.file")?;
        // The audit trail must be complete: its queue always blocks.
        let (writer, handle) = start_queue("audit", sink, settings, OverflowPolicy::Block)?;
        // The bound context (request_id, trace_id) comes from the scope,
        // as in the other outputs.
        let audit = FilterExt::<Registry>::and(filter_fn(is_audit), NoContextSpan);
        layers.push(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields::new(masks.clone()))
                .event_format(JsonLines::new(masks.clone()))
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(FreshFilter(audit))
                .boxed(),
        );
        queues.push(handle);
    }

    #[cfg(feature = "otlp")]
    let otlp = if settings.otlp.enabled {
        let (layer, guard) = crate::otlp::layer(&settings.otlp)?;
        // The same level filter as the logs: unfiltered, the exporter would
        // take every TRACE span and raise the subscriber's maximum level.
        layers.push(layer.with_filter(FreshFilter(directives.filter()?)).boxed());
        Some(guard)
    } else {
        None
    };
    #[cfg(not(feature = "otlp"))]
    if settings.otlp.enabled {
        return Err(
            Error::unsupported("span export needs core-log's `otlp` feature")
                .with_key("log.otlp.enabled"),
        );
    }

    let subscriber = Registry::default().with(layers);
    let guard = LogGuard {
        #[cfg(feature = "otlp")]
        otlp,
        queues,
    };
    Ok((Dispatch::new(subscriber), guard))
}

fn start_queue(
    output: &'static str,
    sink: Box<dyn std::io::Write + Send>,
    settings: &LogSettings,
    policy: OverflowPolicy,
) -> Result<(QueueWriter, QueueHandle)> {
    if settings.queue_capacity == 0 {
        return Err(Error::invalid_input("queue_capacity must be at least 1")
            .with_key("log.queue_capacity"));
    }
    queue::spawn(output, sink, settings.queue_capacity, policy).map_err(|err| {
        Error::from(err)
            .with_operation("log.start_writer")
            .with_context("output", output)
    })
}

fn is_audit(metadata: &Metadata<'_>) -> bool {
    metadata.target() == AUDIT_TARGET
}

fn is_context(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target() == CONTEXT_TARGET
}

/// Leaves out the span each [`LogContext`](crate::LogContext) scope opens:
/// the outputs read the bound fields from the scope itself. Its callsite
/// interest is `never`, so unless a span exporter takes the span, tracing
/// does not create it at all.
struct NoContextSpan;

impl<S> Filter<S> for NoContextSpan {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        !is_context(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_context(meta) {
            Interest::never()
        } else {
            Interest::always()
        }
    }
}

/// A stdout or file layer: the level filter, plus the audit events unless
/// they have their own file (then minus them).
fn ordinary_layer(
    format: LogFormat,
    writer: QueueWriter,
    masks: &Masks,
    ansi: bool,
    directives: &Directives,
    audit_apart: bool,
) -> Result<BoxedLayer> {
    let level = directives.filter()?;
    let layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new(masks.clone()))
            .event_format(JsonLines::new(masks.clone()))
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(text_fields(masks.clone()))
            .event_format(TextLines::new(masks.clone()))
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
    };
    let layer = if audit_apart {
        layer
            .with_filter(FreshFilter(FilterExt::<Registry>::and(
                FilterExt::<Registry>::and(level, filter_fn(|meta| !is_audit(meta))),
                NoContextSpan,
            )))
            .boxed()
    } else {
        layer
            .with_filter(FreshFilter(FilterExt::<Registry>::and(
                FilterExt::<Registry>::or(level, filter_fn(is_audit)),
                NoContextSpan,
            )))
            .boxed()
    };
    Ok(layer)
}

/// Validated filter directives, and where they came from for errors.
///
/// Every directive `EnvFilter` accepts is accepted — a bare word such as
/// `my_crate` names a target, at every level — except two kinds of clear
/// mistakes, which `EnvFilter` would silently read as targets and so log
/// nothing: whitespace inside a directive (`info warn`), and a bare word
/// that is a misspelt level (repeated or swapped letters: `infoo`, `ifno`,
/// `errror`) or another system's level name (`warning`, `verbose`,
/// `fatal`...). A target that really has such a name is written with its
/// level: `verbose=trace`.
struct Directives {
    /// The directives trimmed and joined by `,` (`EnvFilter` misreads a
    /// directive that starts with a space).
    text: String,
    source: &'static str,
}

/// The longest filter accepted: real filters are a few dozen bytes, and a
/// runaway value (a file pasted in) would otherwise be one long target that
/// silently logs nothing.
const MAX_DIRECTIVES_BYTES: usize = 4096;

impl Directives {
    fn parse(text: &str, source: &'static str) -> Result<Directives> {
        if text.len() > MAX_DIRECTIVES_BYTES {
            return Err(Error::invalid_input(format!(
                "the level filter is {} bytes long; at most {MAX_DIRECTIVES_BYTES} are accepted",
                text.len()
            ))
            .with_key(source));
        }
        let mut normalized = Vec::new();
        for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if directive.contains(char::is_whitespace) {
                return Err(Error::invalid_input(format!(
                    "`{directive}` is not a filter directive: separate directives with `,`"
                ))
                .with_key(source));
            }
            // A target is a module path (`my_crate::db`) or a name such as
            // `audit`; `info;debug` would be one target nothing logs to.
            let target = directive.split(['=', '[']).next().unwrap_or_default();
            if let Some(bad) = target
                .chars()
                .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.')))
            {
                return Err(Error::invalid_input(format!(
                    "`{directive}` is not a filter directive: {bad:?} cannot appear in a \
                     target; separate directives with `,`"
                ))
                .with_key(source));
            }
            let bare_word = !directive.contains(['=', '[']);
            if bare_word
                && directive.parse::<LevelFilter>().is_err()
                && looks_like_a_level(directive)
            {
                return Err(Error::invalid_input(format!(
                    "`{directive}` looks like a misspelt level (trace, debug, info, warn, \
                     error, off); a bare word names a target, so write `{directive}=trace` \
                     if the target is meant"
                ))
                .with_key(source));
            }
            normalized.push(directive);
        }
        let directives = Directives {
            text: normalized.join(","),
            source,
        };
        directives.filter()?;
        Ok(directives)
    }

    /// The filter, with the context span always enabled: a target-only
    /// filter (`my_service=debug`) would otherwise keep it from the span
    /// exporter, and the spans of a request would lose their common
    /// parent. At `error`, the span's level, it never raises the filter's
    /// maximum level. (The log outputs leave the span out: [`NoContextSpan`].)
    fn filter(&self) -> Result<EnvFilter> {
        let text = format!("{},{CONTEXT_TARGET}=error", self.text);
        EnvFilter::builder().parse(text).map_err(|err| {
            Error::invalid_input(format!("invalid level filter: {err}"))
                .with_key(self.source)
                .with_source(err)
        })
    }
}

/// Whether a bare word that is not a level is still plainly meant as one.
fn looks_like_a_level(word: &str) -> bool {
    let word = word.to_ascii_lowercase();
    if FOREIGN_LEVELS.contains(&word.as_str()) {
        return true;
    }
    let squeezed = squeeze_repeats(&word);
    LEVELS
        .iter()
        .any(|level| squeezed == squeeze_repeats(level) || swaps_two_neighbours(&word, level))
}

/// `word` with runs of one letter cut to one: `errror` and `error` both
/// become `eror`.
fn squeeze_repeats(word: &str) -> String {
    let mut squeezed = String::with_capacity(word.len());
    for c in word.chars() {
        if !squeezed.ends_with(c) {
            squeezed.push(c);
        }
    }
    squeezed
}

/// Whether `word` is `level` with two neighbouring letters swapped (`ifno`).
fn swaps_two_neighbours(word: &str, level: &str) -> bool {
    let (word, level) = (word.as_bytes(), level.as_bytes());
    if word.len() != level.len() {
        return false;
    }
    let differ: Vec<usize> = (0..word.len()).filter(|&i| word[i] != level[i]).collect();
    matches!(differ.as_slice(), [a, b] if *b == a + 1 && word[*a] == level[*b] && word[*b] == level[*a])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_level_is_refused_naming_the_setting() {
        let err = Directives::parse("infoo", "log.level").err().unwrap();
        assert_eq!(err.kind(), core_error::ErrorKind::InvalidInput);
        assert_eq!(err.context_value("key"), Some("log.level"));
        assert!(err.to_string().contains("infoo"));
    }

    #[test]
    fn targets_and_levels_are_accepted() {
        for text in [
            "warn,my_service=debug",
            "INFO",
            "my_crate",
            "my_crate=debug",
            "warn, my_crate",
            "my_crate::module",
            "3",
            "[request]=debug",
            "my_crate[span{id}]=trace",
            // Real crates one letter away from a level.
            "warp",
            "fern",
            "verbose=trace",
        ] {
            assert!(
                Directives::parse(text, "RUST_LOG").is_ok(),
                "{text} refused"
            );
        }
    }

    #[test]
    fn plain_misspellings_of_levels_are_refused() {
        for text in [
            "infoo",
            "Debugg",
            "errror",
            "ifno",
            "wran",
            "warning",
            "verbose",
            "warn,fatal",
            "info warn",
            "info;debug",
            "info|warn",
        ] {
            let err = Directives::parse(text, "RUST_LOG").err();
            assert!(err.is_some(), "{text} accepted");
        }
    }

    #[test]
    fn a_runaway_filter_is_refused_naming_the_setting() {
        let err = Directives::parse(&"a".repeat(100_000), "log.level")
            .err()
            .unwrap();
        assert_eq!(err.context_value("key"), Some("log.level"));
        assert!(!err.to_string().contains("aaaaaaaa"), "{err}");
    }

    #[test]
    fn directives_are_trimmed_before_env_filter_reads_them() {
        let directives = Directives::parse(" warn , my_crate=debug ", "log.level").unwrap();
        assert_eq!(directives.text, "warn,my_crate=debug");
    }

    #[test]
    fn a_malformed_directive_names_rust_log() {
        let err = Directives::parse("x=notalevel", "RUST_LOG").err().unwrap();
        assert_eq!(err.context_value("key"), Some("RUST_LOG"));
    }

    #[test]
    fn rust_log_replaces_the_configured_level() {
        let settings = LogSettings {
            level: "not a level at all".into(),
            stdout: false,
            ..LogSettings::default()
        };
        assert!(build_with_filter(&settings, Some("debug")).is_ok());
        let err = build_with_filter(&settings, None).err().unwrap();
        assert_eq!(err.context_value("key"), Some("log.level"));
    }
}
