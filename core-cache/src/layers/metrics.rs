//! Counters and latency histograms through the `metrics` facade.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use core_error::Result;
use crossbeam_utils::CachePadded;
use metrics::{Counter, Histogram};
use thread_local::ThreadLocal;

use super::{Call, CallResult, Interceptor, Layer, Layered};
use crate::CacheBase;

/// Records, per backend and operation:
///
/// - `cache_requests_total{backend, operation, outcome}` with outcome `hit`,
///   `miss` (lookups), `ok` or the error code;
/// - `cache_request_duration_seconds{backend, operation}`.
///
/// Whatever recorder the service installed (core-log installs a Prometheus
/// one) receives them; with none installed they cost almost nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl Layer for MetricsLayer {
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase> {
        Arc::new(Layered::new(inner, Metered::default()))
    }
}

/// What [`MetricsLayer`] wraps a backend in: the counts and the latency
/// histogram, with the handles of both.
#[derive(Debug, Default)]
pub(super) struct Metered {
    handles: CallMetrics,
}

impl Interceptor for Metered {
    async fn around<'a, T, F, Fut>(&'a self, call: &'a Call<'a>, attempt: &'a F) -> Result<T>
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let started = Instant::now();
        let result = attempt().await;
        self.handles.count(call, &result);
        self.handles.time(call, started.elapsed().as_secs_f64());
        result
    }
}

/// The handles of one wrapped backend's call metrics, by their labels.
///
/// The labels are static text, so a handle is found by comparing a few
/// short strings; asking the recorder instead builds the series' key and
/// hashes it on every call. Each thread keeps its own table: one shared
/// table's lock was written by every call on every thread (a lock is
/// written to be read), and passed between the cores on each. A handle is
/// made in the recorder installed when its thread first uses its series.
#[derive(Debug, Default)]
pub(super) struct CallMetrics {
    /// Padded: the tables of two threads side by side would share the
    /// line that each borrow writes.
    handles: ThreadLocal<CachePadded<RefCell<Handles>>>,
}

#[derive(Debug, Default)]
struct Handles {
    /// By backend, operation and outcome.
    requests: Vec<(Labels<3>, Counter)>,
    /// By backend and operation.
    durations: Vec<(Labels<2>, Histogram)>,
}

type Labels<const N: usize> = [&'static str; N];

impl CallMetrics {
    fn handles(&self) -> std::cell::RefMut<'_, Handles> {
        self.handles.get_or_default().borrow_mut()
    }

    /// Counts one call in `cache_requests_total`.
    pub(super) fn count<T: CallResult>(&self, call: &Call<'_>, result: &Result<T>) {
        let outcome = match result {
            Ok(value) => match value.hit() {
                Some(true) => "hit",
                Some(false) => "miss",
                None => "ok",
            },
            Err(err) => err.code(),
        };
        let labels = [call.backend, call.operation, outcome];
        let mut handles = self.handles();
        let counter = handle(&mut handles.requests, labels, || {
            metrics::counter!(
                "cache_requests_total",
                "backend" => labels[0],
                "operation" => labels[1],
                "outcome" => labels[2]
            )
        });
        counter.increment(1);
    }

    /// Records one call's `seconds` in `cache_request_duration_seconds`.
    fn time(&self, call: &Call<'_>, seconds: f64) {
        let labels = [call.backend, call.operation];
        let mut handles = self.handles();
        let histogram = handle(&mut handles.durations, labels, || {
            metrics::histogram!(
                "cache_request_duration_seconds",
                "backend" => labels[0],
                "operation" => labels[1]
            )
        });
        histogram.record(seconds);
    }
}

/// The handle kept for `labels`, made by `make` (and kept) the first time.
fn handle<const N: usize, H>(
    handles: &mut Vec<(Labels<N>, H)>,
    labels: Labels<N>,
    make: impl FnOnce() -> H,
) -> &H {
    let index = match handles.iter().position(|(known, _)| *known == labels) {
        Some(index) => index,
        None => {
            handles.push((labels, make()));
            handles.len() - 1
        }
    };
    &handles[index].1
}
