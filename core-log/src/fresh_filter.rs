//! A per-layer filter asked at every callsite hit, never answered from the
//! callsite's cache.
//!
//! tracing-subscriber keeps each per-layer filter's verdict in a thread-local
//! map between `enabled` and the span or event it decides. When every
//! output refuses an `enabled` check — sqlx's
//! `tracing::enabled!(target: "sqlx::query", DEBUG)` before each query does
//! exactly that at `info` — nothing consumes the verdicts and they stay in
//! the map. A callsite whose cached interest is `always` skips `enabled` and
//! is decided by that stale map: the request's context span, or an audit
//! event, was dropped by the outputs the earlier check had refused. Asking
//! `enabled` every time overwrites each filter's verdict before it is read.
//! The price is one filter evaluation per span or event, which the level
//! check in front of it (`max_level_hint`) still skips for levels no output
//! takes.

use tracing::subscriber::Interest;
use tracing::{Event, Metadata, span};
use tracing_subscriber::layer::{Context, Filter};

/// `F`, with an `always` interest lowered to `sometimes`.
pub(crate) struct FreshFilter<F>(pub(crate) F);

impl<S, F: Filter<S>> Filter<S> for FreshFilter<F> {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        self.0.enabled(meta, cx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self.0.callsite_enabled(meta);
        if interest.is_always() {
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, S>) -> bool {
        self.0.event_enabled(event, cx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_new_span(attrs, id, cx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, cx: Context<'_, S>) {
        self.0.on_record(id, values, cx);
    }

    fn on_enter(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_enter(id, cx);
    }

    fn on_exit(&self, id: &span::Id, cx: Context<'_, S>) {
        self.0.on_exit(id, cx);
    }

    fn on_close(&self, id: span::Id, cx: Context<'_, S>) {
        self.0.on_close(id, cx);
    }
}
