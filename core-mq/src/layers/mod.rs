//! Cross-cutting behaviour as wrappers that implement [`MessageQueueBase`] too.
//!
//! - [`MetricsLayer`]: counters of published, consumed, acked, retried and
//!   dead-lettered messages, histograms of publish and handler latency, and
//!   the consumer lag gauge where the broker tells it, through the `metrics` facade.
//! - [`TracingLayer`]: a span per publish and per handler call, with the
//!   trace context carried from publisher to handler in the W3C
//!   `traceparent` header.
//!
//! ```
//! use std::sync::Arc;
//! use core_mq::MessageQueueBase;
//! use core_mq::backends::memory::{MemoryBackend, MemorySettings};
//! use core_mq::layers::{Layer, MetricsLayer, TracingLayer};
//!
//! let queue: Arc<dyn MessageQueueBase> = Arc::new(MemoryBackend::new(&MemorySettings::default(), 1 << 20));
//! let queue = MetricsLayer.layer(TracingLayer.layer(queue));
//! assert_eq!(queue.name(), "memory");
//! ```

mod metrics;
mod tracing;

use std::sync::Arc;

pub use self::metrics::{LAG_INTERVAL, MetricsLayer};
pub use self::tracing::{TRACEPARENT_HEADER, TracingLayer, current_traceparent, with_traceparent};
use crate::MessageQueueBase;

/// Wraps a backend in a behaviour, returning a backend.
pub trait Layer {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn MessageQueueBase>) -> Arc<dyn MessageQueueBase>;
}

/// Which standard layers to apply.
///
/// ```
/// use core_mq::layers::LayerSettings;
///
/// assert!(LayerSettings::default().metrics);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LayerSettings {
    /// Emit `metrics` counters and histograms. Default true.
    pub metrics: bool,
    /// Emit `tracing` spans and carry trace context in headers. Default true.
    pub tracing: bool,
}

impl Default for LayerSettings {
    fn default() -> LayerSettings {
        LayerSettings {
            metrics: true,
            tracing: true,
        }
    }
}

/// Wraps `backend` in the standard layers: tracing inside, metrics outside.
pub fn stack(
    backend: Arc<dyn MessageQueueBase>,
    settings: &LayerSettings,
) -> Arc<dyn MessageQueueBase> {
    let mut backend = backend;
    if settings.tracing {
        backend = TracingLayer.layer(backend);
    }
    if settings.metrics {
        backend = MetricsLayer.layer(backend);
    }
    backend
}
