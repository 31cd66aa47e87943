//! Structured logs, an audit trail, metrics and trace export for services
//! built on the SDK — one call from the `log` section of the settings.
//!
//! - [`init`] installs logging from [`LogSettings`] and returns a
//!   [`LogGuard`] that flushes on drop; [`build`] does the same without
//!   installing, for tests (`tracing::dispatcher::with_default`).
//! - Formats: JSON lines for production ([`LogFormat::Json`]: `timestamp`,
//!   `level`, `target`, `message`, `fields`, and the bound [`LogContext`]
//!   with the enclosing spans' fields under `context`), human-readable text
//!   for development.
//! - [`LogContext`] binds `request_id`, `user_id`, `trace_id` to every event
//!   in a scope, across `.await`; [`spawn`] carries it into a new task.
//! - Outputs: stdout and a file rotated daily, hourly or by size, keeping N
//!   files or N days ([`FileSettings`]), each behind a bounded queue
//!   ([`OverflowPolicy`]).
//! - The audit trail ([`AuditEvent`], target `audit`) goes to its own JSON
//!   file with its own retention, through a queue that never drops.
//! - Fields named in [`LogSettings::masked_fields`] are written as `***` in
//!   every output; `secrecy` values print as `[REDACTED]` by themselves.
//!   Masking works on fields: text formatted into the message itself
//!   (`info!("password={pw}")`) is written as is, so pass secrets as fields.
//! - [`Metrics`] installs a Prometheus recorder for the `metrics` facade and
//!   renders the `/metrics` text, process metrics included.
//! - With the `otlp` feature, spans are exported over OTLP/HTTP and
//!   `inject_trace_context` / `extract_trace_context` carry W3C trace
//!   context through HTTP and message headers.
//!
//! ```
//! use core_log::{AuditEvent, LogContext, LogSettings, AuditOutcome};
//!
//! let settings = LogSettings { stdout: false, ..LogSettings::default() };
//! let (dispatch, guard) = core_log::build(&settings)?;
//! tracing::dispatcher::with_default(&dispatch, || {
//!     LogContext::new().request_id("req-1").in_scope(|| {
//!         tracing::info!(user = "alice", password = "hunter2", "logged in");
//!         AuditEvent::new("alice", "session.create", AuditOutcome::Success).record();
//!     });
//! });
//! drop(guard); // flushes
//! # Ok::<(), core_log::Error>(())
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audit;
mod context;
mod fresh_filter;
mod json;
mod mask;
mod metrics;
mod output;
mod queue;
mod settings;
mod subscriber;
mod text;

#[cfg(feature = "otlp")]
mod otlp;

pub use crate::audit::{AUDIT_TARGET, AuditEvent, AuditOutcome};
pub use crate::context::{LogContext, Scoped, bind_user_id, spawn};
pub use crate::mask::{MASK, Masks};
pub use crate::metrics::{
    LATENCY_BUCKETS_SECONDS, METRICS_CONTENT_TYPE, Metrics, MetricsRecorder, UPKEEP_INTERVAL,
};
pub use crate::queue::DROPPED_EVENTS_METRIC;
pub use crate::settings::{
    AuditSettings, FileSettings, LOG_MASKED_FIELDS, LogFormat, LogSettings, OtlpSettings,
    OverflowPolicy, Rotation, default_masked_fields,
};
pub use crate::subscriber::{LogGuard, build, init};
pub use core_error::{Error, ErrorKind, Result};

#[cfg(feature = "otlp")]
pub use crate::otlp::{TRACEPARENT, extract_trace_context, inject_trace_context, trace_headers};
#[cfg(feature = "otlp")]
pub use opentelemetry::propagation::{Extractor, Injector};
