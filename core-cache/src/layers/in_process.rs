//! Tracing and call counts for in-process backends, in one wrapper or run
//! by the backend inside its own calls.

use std::future::Future;
use std::sync::Arc;

use core_error::Result;
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
/// [`shared`](crate::Capabilities::shared) and cannot run a
/// [`CallObserver`] themselves ([`CacheBase::observed`]).
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
        Arc::new(Layered::new(inner, CallObserver::default()))
    }
}

/// What [`InProcessLayer`] does around a call, for a backend to run inside
/// its own calls ([`CacheBase::observed`]): even one wrapper costs an
/// in-process call a boxed future, about a tenth of a memory cache's read.
///
/// ```
/// use core_cache::CacheBase;
/// use core_cache::backends::memory::{MemoryBackend, MemorySettings};
///
/// let backend = MemoryBackend::new(&MemorySettings::default());
/// let observed = backend.observed().expect("the memory backend observes itself");
/// assert_eq!(observed.name(), "memory");
/// ```
#[derive(Debug, Default)]
pub struct CallObserver {
    handles: CallMetrics,
}

impl CallObserver {
    /// Runs `work`, the body of `call`, in the call's span (when `debug` is
    /// on), logs its failure and counts it.
    ///
    /// `work` is synchronous: an in-process backend's calls do not wait, and
    /// a span may be entered around code that does not await.
    pub fn observe<T: CallResult>(
        &self,
        call: Call<'_>,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        traced::span(&call).in_scope(|| {
            let result = work();
            self.record(&call, &result);
            result
        })
    }

    fn record<T: CallResult>(&self, call: &Call<'_>, result: &Result<T>) {
        traced::report(result);
        self.handles.count(call, result);
    }
}

impl Interceptor for CallObserver {
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
            self.record(call, &result);
            result
        }
        .instrument(traced::span(call))
    }
}
