//! Fields bound to every event inside a scope, across `.await` and tasks.
//!
//! A bound field lives in a span: every event inside the span carries it
//! (in JSON under `context`). Spans follow futures through
//! [`Instrument`](tracing::Instrument), and [`spawn`] carries the current
//! span into a new task, which `tokio::spawn` alone does not.

use std::future::Future;

use tracing::instrument::{Instrument, Instrumented};
use tracing::{Level, Span};

/// The target of the span holding the bound fields. The level filters
/// [`build`](crate::build) makes always enable it, and the audit file takes
/// it too, so that every event let through carries the bound fields.
pub(crate) const CONTEXT_TARGET: &str = "core_log::context";

/// The request-scoped fields every event should carry.
///
/// ```
/// use core_log::LogContext;
///
/// let context = LogContext::new().request_id("req-7").user_id("alice");
/// context.in_scope(|| tracing::info!("handled"));
///
/// # async fn handler() {}
/// # async fn run() {
/// LogContext::new().request_id("req-8").scope(handler()).await;
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogContext {
    request_id: Option<String>,
    user_id: Option<String>,
    trace_id: Option<String>,
    tenant_id: Option<String>,
}

impl LogContext {
    /// An empty context; add fields with the methods below.
    pub fn new() -> LogContext {
        LogContext::default()
    }

    /// Binds `request_id`.
    #[must_use]
    pub fn request_id(mut self, value: impl Into<String>) -> LogContext {
        self.request_id = Some(value.into());
        self
    }

    /// Binds `user_id`.
    #[must_use]
    pub fn user_id(mut self, value: impl Into<String>) -> LogContext {
        self.user_id = Some(value.into());
        self
    }

    /// Binds `trace_id`.
    #[must_use]
    pub fn trace_id(mut self, value: impl Into<String>) -> LogContext {
        self.trace_id = Some(value.into());
        self
    }

    /// Binds `tenant_id`.
    #[must_use]
    pub fn tenant_id(mut self, value: impl Into<String>) -> LogContext {
        self.tenant_id = Some(value.into());
        self
    }

    /// The span holding the bound fields, as a child of the current span.
    ///
    /// A disabled span would silently drop the fields from every event
    /// inside it, so the subscriber [`build`](crate::build) makes enables it
    /// (target `core_log::context`) whatever `log.level` or `RUST_LOG` say,
    /// target-only filters like `my_service=debug` and `off` included, and
    /// in every output: stdout, the log file, the audit file. Its level is
    /// `ERROR` so that enabling it never lowers the filters' maximum level.
    /// Under a subscriber built elsewhere, that subscriber's filter decides.
    pub fn span(&self) -> Span {
        // The values go in with the span rather than through `record`
        // afterwards: the formatting layers render a span's fields once,
        // not once more per recorded field.
        tracing::span!(
            target: CONTEXT_TARGET,
            Level::ERROR,
            "context",
            request_id = self.request_id.as_deref(),
            user_id = self.user_id.as_deref(),
            trace_id = self.trace_id.as_deref(),
            tenant_id = self.tenant_id.as_deref()
        )
    }

    /// Runs `work` with the fields bound.
    pub fn in_scope<T>(&self, work: impl FnOnce() -> T) -> T {
        self.span().in_scope(work)
    }

    /// Binds the fields to every event `future` emits, across `.await`s.
    pub fn scope<F: Future>(&self, future: F) -> Instrumented<F> {
        future.instrument(self.span())
    }
}

/// Spawns `future` on the current tokio runtime inside the current span, so
/// its events keep the fields bound around the call.
///
/// ```
/// use core_log::{LogContext, spawn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// LogContext::new()
///     .request_id("req-9")
///     .scope(async {
///         spawn(async { tracing::info!("still carries request_id") }).await.unwrap();
///     })
///     .await;
/// # }
/// ```
///
/// # Panics
///
/// Like `tokio::spawn`, when called outside a tokio runtime.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_span())
}
