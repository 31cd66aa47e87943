//! Tracing and call counts in one wrapper, for in-process backends.

use std::future::Future;
use std::sync::Arc;

use core_error::Result;
use futures::future::BoxFuture;
use tracing::Instrument as _;

use super::metrics::CallMetrics;
use super::{Call, CallResult, Interceptor, Layer, Layered, tracing as traced};
use crate::CacheBase;

/// What [`TracingLayer`](super::TracingLayer) and
/// [`MetricsLayer`](super::MetricsLayer) do, less the latency histogram, in
/// one wrapper: the `cache` span and failure events, and
/// `cache_requests_total{backend, operation, outcome}`.
///
/// An in-process call takes a few hundred nanoseconds, so two wrappers and
/// the two clock reads of a latency measurement would cost about as much as
/// the call itself, and the histogram would only say that memory is fast.
/// [`stack`](super::stack) uses this layer for backends that are not
/// [`shared`](crate::Capabilities::shared).
///
/// ```
/// use std::sync::Arc;
/// use core_cache::backends::memory::{MemoryBackend, MemorySettings};
/// use core_cache::layers::{InProcessLayer, Layer};
///
/// let backend = InProcessLayer.layer(Arc::new(MemoryBackend::new(&MemorySettings::default())));
/// assert_eq!(backend.name(), "memory");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcessLayer;

impl Layer for InProcessLayer {
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase> {
        Arc::new(Layered::new(inner, InProcess::default()))
    }
}

/// What [`InProcessLayer`] wraps a backend in, with the counters' handles.
#[derive(Debug, Default)]
struct InProcess {
    handles: CallMetrics,
}

impl Interceptor for InProcess {
    fn around<'a, T: CallResult + Send + 'a>(
        &'a self,
        call: Call<'a>,
        attempt: &'a (dyn Fn() -> BoxFuture<'a, Result<T>> + Send + Sync),
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        async move {
            let result = attempt().await;
            traced::report(&result);
            self.handles.count(&call, &result);
            result
        }
        .instrument(traced::span(&call))
    }
}
