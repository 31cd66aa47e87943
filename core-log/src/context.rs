//! Fields bound to every event inside a scope, across `.await` and tasks.
//!
//! The fields travel with the future (or closure) they are bound to, and are
//! put on the thread that runs it only while it runs: this crate's outputs
//! read them from there as they write an event. Binding them costs two moves
//! per poll. A span per request, which is how they were carried before, cost
//! its creation, every output formatting its fields, an entry and an exit
//! per poll and its closing: about 3 µs of a cached request's 30 µs in the
//! example service (docs/BENCHMARKS.md).
//!
//! The scope still opens a span holding the same fields (target
//! `core_log::context`, name `context`), for whoever wants one: a span
//! exporter (`log.otlp`), whose spans of a request it parents, and a
//! subscriber built elsewhere. This crate's own outputs never take it, so
//! when nothing else does, tracing does not even create it.
//!
//! The price: an event written on a thread that a library hands the work
//! to, entering the caller's span there, carries the fields only when that
//! span exists. sqlx's SQLite driver is one: it runs statements on a thread
//! of its own, so its own events (a slow statement's warning) carry the
//! request's fields with a span exporter on, not otherwise. Events of the
//! request's own tasks, `core_log::spawn`ed ones included, always do.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::instrument::Instrument;
use tracing::{Level, Span};

/// The target of the span each scope opens for exporters and other
/// subscribers; this crate's outputs leave it out.
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

    /// Runs `work` with the fields bound.
    ///
    /// Scopes nest: an inner one adds its fields to the outer one's and
    /// wins where both bind the same field.
    pub fn in_scope<T>(self, work: impl FnOnce() -> T) -> T {
        let span = self.span();
        let _entered = span.enter();
        let mut frame = Some(Frame {
            fields: self,
            span: span.clone(),
        });
        let _bound = Bound::install(&mut frame);
        work()
    }

    /// Binds the fields to every event `future` emits, across `.await`s.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        let span = self.span();
        Scoped {
            frame: Some(Frame {
                fields: self,
                span: span.clone(),
            }),
            inner: future.instrument(span),
        }
    }

    /// The span for exporters and other subscribers, as a child of the
    /// current span. Its level is `ERROR` so that a level filter keeps it
    /// (the subscriber [`build`](crate::build) makes lets it through to the
    /// span exporter whatever `log.level` says) without ever raising a
    /// filter's maximum level.
    fn span(&self) -> Span {
        // The values go in with the span rather than through `record`
        // afterwards: formatting subscribers render a span's fields once,
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

    /// The bound fields by name, unset ones left out.
    fn fields(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("request_id", self.request_id.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("trace_id", self.trace_id.as_deref()),
            ("tenant_id", self.tenant_id.as_deref()),
        ]
    }

    /// Fills in from `outer` what this context leaves unset.
    fn inherit(&mut self, outer: &LogContext) {
        let pairs = [
            (&mut self.request_id, &outer.request_id),
            (&mut self.user_id, &outer.user_id),
            (&mut self.trace_id, &outer.trace_id),
            (&mut self.tenant_id, &outer.tenant_id),
        ];
        for (mine, theirs) in pairs {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future with a [`LogContext`] bound: see [`LogContext::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        // `None` only while the fields are on the polling thread.
        frame: Option<Frame>,
        #[pin]
        inner: tracing::instrument::Instrumented<F>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _bound = Bound::install(this.frame);
        this.inner.poll(cx)
    }
}

/// One scope's fields, and a handle on its span to record into.
#[derive(Debug)]
struct Frame {
    fields: LogContext,
    span: Span,
}

thread_local! {
    /// The frames of the scopes running on this thread, outermost first.
    static BOUND: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Puts a scope's frame on the thread for as long as it lives, then gives
/// it back to the scope (also when the work panics).
struct Bound<'a> {
    home: &'a mut Option<Frame>,
    /// Whether the frame went on the thread (not when the thread is being
    /// torn down, or while an event being written there reads the frames).
    installed: bool,
}

impl<'a> Bound<'a> {
    fn install(home: &'a mut Option<Frame>) -> Bound<'a> {
        let installed = match home.take() {
            Some(frame) => BOUND
                .try_with(|bound| match bound.try_borrow_mut() {
                    Ok(mut frames) => {
                        frames.push(frame);
                        true
                    }
                    Err(_) => {
                        *home = Some(frame);
                        false
                    }
                })
                .unwrap_or(false),
            None => false,
        };
        Bound { home, installed }
    }
}

impl Drop for Bound<'_> {
    fn drop(&mut self) {
        if !self.installed {
            return;
        }
        // Scopes entered inside have given theirs back already, so the top
        // frame is this scope's.
        *self.home = BOUND
            .try_with(|bound| bound.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten();
    }
}

/// Binds `user_id` to the innermost scope on this thread (and records it
/// on that scope's span), once the caller is known: every later event of
/// the scope carries it. Outside any scope it does nothing.
///
/// ```
/// use core_log::LogContext;
///
/// LogContext::new().request_id("req-1").in_scope(|| {
///     core_log::bind_user_id("alice");
///     tracing::info!("carries request_id and user_id");
/// });
/// ```
pub fn bind_user_id(user_id: &str) {
    let span = BOUND.try_with(|bound| {
        let mut frames = bound.try_borrow_mut().ok()?;
        let frame = frames.last_mut()?;
        frame.fields.user_id = Some(user_id.to_owned());
        Some(frame.span.clone())
    });
    // Recorded with the frames let go: a subscriber may write as it records.
    if let Ok(Some(span)) = span {
        span.record("user_id", user_id);
    }
}

/// Calls `write` with each field bound on this thread, once per name, the
/// innermost scope's value winning; returns whether any scope is bound.
pub(crate) fn for_each_bound(mut write: impl FnMut(&'static str, &str)) -> bool {
    BOUND
        .try_with(|bound| {
            let Ok(frames) = bound.try_borrow() else {
                return false;
            };
            let Some(innermost) = frames.last() else {
                return false;
            };
            for (index, (name, value)) in innermost.fields.fields().into_iter().enumerate() {
                let value = value.or_else(|| {
                    frames
                        .iter()
                        .rev()
                        .find_map(|frame| frame.fields.fields()[index].1)
                });
                if let Some(value) = value {
                    write(name, value);
                }
            }
            true
        })
        .unwrap_or(false)
}

/// The fields bound on this thread merged into one context, with the
/// innermost scope's span, for carrying into another task.
fn current() -> Option<Frame> {
    BOUND
        .try_with(|bound| {
            let frames = bound.try_borrow().ok()?;
            let mut merged = frames.last()?.fields.clone();
            for outer in frames.iter().rev().skip(1) {
                merged.inherit(&outer.fields);
            }
            Some(Frame {
                fields: merged,
                span: frames.last()?.span.clone(),
            })
        })
        .ok()
        .flatten()
}

/// Spawns `future` on the current tokio runtime with the fields bound here
/// and inside the current span, so its events keep the fields bound around
/// the call (`tokio::spawn` alone carries neither).
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
    tokio::spawn(Scoped {
        frame: current(),
        inner: future.in_current_span(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> Vec<(&'static str, String)> {
        let mut seen = Vec::new();
        for_each_bound(|name, value| seen.push((name, value.to_owned())));
        seen
    }

    #[test]
    fn nested_scopes_merge_innermost_winning_and_unwind_in_order() {
        assert!(!for_each_bound(|_, _| {}));
        LogContext::new()
            .request_id("outer")
            .user_id("alice")
            .in_scope(|| {
                LogContext::new().request_id("inner").in_scope(|| {
                    assert_eq!(
                        bound(),
                        [("request_id", "inner".into()), ("user_id", "alice".into())]
                    );
                    bind_user_id("bob");
                    assert_eq!(bound()[1], ("user_id", "bob".into()));
                });
                assert_eq!(
                    bound(),
                    [("request_id", "outer".into()), ("user_id", "alice".into())]
                );
            });
        assert!(bound().is_empty());
    }

    #[test]
    fn a_panic_inside_a_scope_leaves_no_frame_behind() {
        let caught = std::panic::catch_unwind(|| {
            LogContext::new()
                .request_id("doomed")
                .in_scope(|| panic!("boom"))
        });
        assert!(caught.is_err());
        assert!(!for_each_bound(|_, _| {}));
    }

    #[test]
    fn a_scope_opened_while_an_event_reads_the_frames_leaves_them_whole() {
        LogContext::new().request_id("outer").in_scope(|| {
            // As when a field's `Debug` runs code with a scope of its own
            // while the outputs write the event.
            for_each_bound(|_, _| {
                LogContext::new().request_id("nested").in_scope(|| {
                    bind_user_id("nobody");
                });
            });
            assert_eq!(bound(), [("request_id", "outer".into())]);
        });
        assert!(bound().is_empty());
    }

    #[tokio::test]
    async fn a_scope_is_bound_only_while_its_future_runs() {
        let scoped = LogContext::new().request_id("req-f").scope(async {
            tokio::task::yield_now().await;
            bind_user_id("carol");
            bound()
        });
        assert!(bound().is_empty(), "bound before the first poll");
        let seen = scoped.await;
        assert_eq!(
            seen,
            [("request_id", "req-f".into()), ("user_id", "carol".into())]
        );
        assert!(bound().is_empty(), "still bound after the scope ended");
    }
}
