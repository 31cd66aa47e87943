//! Cross-cutting behaviour as wrappers that implement [`CacheBase`] too.
//!
//! Retry, timeout, metrics and tracing live here and nowhere else: a
//! backend only talks to its server. Each layer is an [`Interceptor`]
//! wrapped around every call by [`Layered`], so adding a layer means writing
//! one `around` method, not forwarding twenty operations.
//!
//! Order matters: [`stack`] puts the timeout innermost (each attempt has its
//! own deadline, so a retry loop always ends), retry around it, then tracing
//! and metrics outermost (one span and one measurement per caller request).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use core_cache::backends::memory::{MemoryBackend, MemorySettings};
//! use core_cache::layers::{Layer, RetryLayer, TimeoutLayer};
//!
//! let backend = Arc::new(MemoryBackend::new(&MemorySettings::default()));
//! let backend = TimeoutLayer::new(Duration::from_millis(250)).layer(backend);
//! let backend = RetryLayer::default().layer(backend);
//! assert_eq!(backend.name(), "memory");
//! ```

mod in_process;
mod layered;
mod metrics;
mod retry;
mod timeout;
mod tracing;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use core_error::Result;

pub use self::in_process::{CallObserver, InProcessLayer};
pub use self::layered::Layered;
use self::metrics::Metered;
pub use self::metrics::MetricsLayer;
pub use self::retry::RetryLayer;
pub use self::timeout::TimeoutLayer;
pub use self::tracing::TracingLayer;
use crate::{CacheBase, Ttl};

/// Wraps a backend in a behaviour, returning a backend.
pub trait Layer {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase>;
}

/// The call an [`Interceptor`] is wrapped around.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The backend's [`name`](CacheBase::name).
    pub backend: &'static str,
    /// The operation, such as `"cache.get"`.
    pub operation: &'static str,
    /// The key (the first one, for batch operations).
    pub key: &'a str,
    /// Whether running the call twice has the same effect as once. `incr`,
    /// `push` and `pop` are not: a retry after a timeout could apply them twice.
    pub idempotent: bool,
}

/// Behaviour around every call of a backend; see [`Layered`].
///
/// `attempt` is generic rather than a boxed closure, so interceptors nest
/// ([`Nested`], and `Option` for one that is off) into one future per
/// call: the standard stack costs a call one allocation, not one per layer.
/// `call` comes by reference for the same future's sake: by value, each
/// nested level would hold a copy of it.
pub trait Interceptor: Send + Sync + std::fmt::Debug + 'static {
    /// Runs `attempt` (as often as the behaviour needs) and returns its result.
    fn around<'a, T, F, Fut>(
        &'a self,
        call: &'a Call<'a>,
        attempt: &'a F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a;
}

/// An interceptor that is off: the attempt runs once, as it is.
impl<I: Interceptor> Interceptor for Option<I> {
    async fn around<'a, T, F, Fut>(&'a self, call: &'a Call<'a>, attempt: &'a F) -> Result<T>
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        match self {
            Some(interceptor) => interceptor.around(call, attempt).await,
            None => attempt().await,
        }
    }
}

/// `outer` around `inner` around each attempt: two interceptors as one.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use core_cache::CacheBase;
/// use core_cache::backends::memory::{MemoryBackend, MemorySettings};
/// use core_cache::layers::{Layered, Nested, RetryLayer, TimeoutLayer};
///
/// let backend = Arc::new(MemoryBackend::new(&MemorySettings::default()));
/// let retried = Nested::new(RetryLayer::default(), TimeoutLayer::new(Duration::from_millis(250)));
/// let backend = Layered::new(backend, retried);
/// assert_eq!(backend.name(), "memory");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Nested<Outer, Inner> {
    outer: Outer,
    inner: Inner,
}

impl<Outer: Interceptor, Inner: Interceptor> Nested<Outer, Inner> {
    /// `outer` around `inner`.
    pub fn new(outer: Outer, inner: Inner) -> Nested<Outer, Inner> {
        Nested { outer, inner }
    }
}

impl<Outer: Interceptor, Inner: Interceptor> Interceptor for Nested<Outer, Inner> {
    async fn around<'a, T, F, Fut>(&'a self, call: &'a Call<'a>, attempt: &'a F) -> Result<T>
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let inner = move || self.inner.around(call, attempt);
        self.outer.around(call, &inner).await
    }
}

/// What a call's result says about the cache, for metrics.
pub trait CallResult {
    /// `Some(true)` for a hit, `Some(false)` for a miss, `None` when the
    /// call is not a lookup.
    fn hit(&self) -> Option<bool> {
        None
    }
}

impl CallResult for Option<Bytes> {
    fn hit(&self) -> Option<bool> {
        Some(self.is_some())
    }
}

impl CallResult for () {}
impl CallResult for bool {}
impl CallResult for i64 {}
impl CallResult for u64 {}
impl CallResult for Ttl {}
impl CallResult for Vec<Option<Bytes>> {}
impl CallResult for Vec<Bytes> {}
impl CallResult for Vec<(String, Bytes)> {}

/// The standard layers with their settings.
///
/// ```
/// use core_cache::layers::LayerSettings;
///
/// let settings = LayerSettings::default();
/// assert_eq!(settings.retry_attempts, 3);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LayerSettings {
    /// Deadline of one attempt, in milliseconds; 0 disables. Default 1 000.
    pub timeout_ms: u64,
    /// Attempts in all for a temporary error (1 disables retry). Default 3.
    pub retry_attempts: u32,
    /// First backoff in milliseconds, doubled per attempt. Default 20.
    pub retry_backoff_ms: u64,
    /// Emit `metrics` counters and histograms. Default true.
    pub metrics: bool,
    /// Emit `tracing` spans and error events. Default true.
    pub tracing: bool,
}

impl Default for LayerSettings {
    fn default() -> LayerSettings {
        LayerSettings {
            timeout_ms: 1_000,
            retry_attempts: 3,
            retry_backoff_ms: 20,
            metrics: true,
            tracing: true,
        }
    }
}

/// Wraps `backend` in the standard layers, innermost first: timeout, retry,
/// tracing, metrics — nested in one [`Layered`], so a call pays for one
/// wrapper whichever are on.
///
/// An in-process backend (not [`shared`](crate::Capabilities::shared)) does
/// no I/O, so it can neither time out nor fail temporarily: it gets tracing
/// and call counts only (no latency histogram), which it runs inside its own
/// calls when it can ([`CacheBase::observed`]), in one [`InProcessLayer`]
/// otherwise.
pub fn stack(backend: Arc<dyn CacheBase>, settings: &LayerSettings) -> Arc<dyn CacheBase> {
    let does_io = backend.capabilities().shared;
    if !does_io && settings.tracing && settings.metrics {
        return backend
            .observed()
            .unwrap_or_else(|| InProcessLayer.layer(backend));
    }
    let timeout = (does_io && settings.timeout_ms > 0)
        .then(|| TimeoutLayer::new(Duration::from_millis(settings.timeout_ms)));
    let retry = (does_io && settings.retry_attempts > 1).then(|| RetryLayer {
        max_attempts: settings.retry_attempts,
        first_backoff: Duration::from_millis(settings.retry_backoff_ms),
        ..RetryLayer::default()
    });
    let tracing = settings.tracing.then_some(TracingLayer);
    let metrics = settings.metrics.then(Metered::default);
    if timeout.is_none() && retry.is_none() && tracing.is_none() && metrics.is_none() {
        return backend;
    }
    let standard = Nested::new(metrics, Nested::new(tracing, Nested::new(retry, timeout)));
    Arc::new(Layered::new(backend, standard))
}
