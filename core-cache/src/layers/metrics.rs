//! Counters and latency histograms through the `metrics` facade.

use std::sync::Arc;
use std::time::Instant;

use core_error::Result;
use futures::future::BoxFuture;

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
        Arc::new(Layered::new(inner, *self))
    }
}

impl Interceptor for MetricsLayer {
    async fn around<'a, T: CallResult + Send + 'a>(
        &'a self,
        call: Call<'a>,
        attempt: &'a (dyn Fn() -> BoxFuture<'a, Result<T>> + Send + Sync),
    ) -> Result<T> {
        {
            let started = Instant::now();
            let result = attempt().await;
            count(&call, &result);
            metrics::histogram!(
                "cache_request_duration_seconds",
                "backend" => call.backend,
                "operation" => call.operation
            )
            .record(started.elapsed().as_secs_f64());
            result
        }
    }
}

/// Counts one call in `cache_requests_total`.
pub(super) fn count<T: CallResult>(call: &Call<'_>, result: &Result<T>) {
    let outcome = match result {
        Ok(value) => match value.hit() {
            Some(true) => "hit",
            Some(false) => "miss",
            None => "ok",
        },
        Err(err) => err.code(),
    };
    metrics::counter!(
        "cache_requests_total",
        "backend" => call.backend,
        "operation" => call.operation,
        "outcome" => outcome
    )
    .increment(1);
}
