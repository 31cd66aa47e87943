//! A span per call and an event per failure.

use std::future::Future;
use std::sync::Arc;

use core_error::Result;
use tracing::Instrument as _;

use super::{Call, CallResult, Interceptor, Layer, Layered};
use crate::CacheBase;

/// Wraps each call in a `cache` span (operation, backend, key) and logs
/// failures: temporary ones at `warn`, the rest at `error`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

impl Layer for TracingLayer {
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase> {
        Arc::new(Layered::new(inner, *self))
    }
}

impl Interceptor for TracingLayer {
    fn around<'a, T, F, Fut>(
        &'a self,
        call: &'a Call<'a>,
        attempt: &'a F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        async move {
            let result = attempt().await;
            report(&result);
            result
        }
        .instrument(span(call))
    }
}

/// The `cache` span of one call (at `debug`, so free when that is off).
pub(super) fn span(call: &Call<'_>) -> tracing::Span {
    tracing::debug_span!(
        "cache",
        operation = call.operation,
        backend = call.backend,
        key = call.key
    )
}

/// Logs a failed call: temporary failures at `warn`, the rest at `error`.
pub(super) fn report<T>(result: &Result<T>) {
    match result {
        Err(err) if err.is_temporary() => tracing::warn!(error = %err, "cache call failed"),
        Err(err) => tracing::error!(error = %err, "cache call failed"),
        Ok(_) => {}
    }
}
