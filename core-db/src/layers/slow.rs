//! The slow-query log: statements over a threshold are logged and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Backend;

/// Logs and counts statements slower than a threshold.
///
/// Only the statement text is logged: parameter values are never seen here
/// (they may be passwords or personal data), just how many there were.
#[derive(Debug)]
pub(crate) struct SlowQueryLog {
    backend: Backend,
    threshold: Option<Duration>,
    count: AtomicU64,
}

impl SlowQueryLog {
    pub(crate) fn new(backend: Backend, threshold: Option<Duration>) -> SlowQueryLog {
        SlowQueryLog {
            backend,
            threshold,
            count: AtomicU64::new(0),
        }
    }

    /// The clock reading to pass to [`finish`](Self::finish); `None` when
    /// the log is off, so a disabled log costs nothing.
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        self.threshold.map(|_| Instant::now())
    }

    /// Logs and counts the statement if it took longer than the threshold.
    #[inline]
    pub(crate) fn finish(&self, started: Option<Instant>, statement: &str, params: usize) {
        if let Some(started) = started {
            self.observe(started.elapsed(), statement, params);
        }
    }

    /// Logs and counts the statement if `elapsed` is over the threshold.
    #[inline]
    pub(crate) fn observe(&self, elapsed: Duration, statement: &str, params: usize) {
        if self.threshold.is_some_and(|threshold| elapsed >= threshold) {
            self.record(elapsed, statement, params);
        }
    }

    #[cold]
    fn record(&self, elapsed: Duration, statement: &str, params: usize) {
        self.count.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("db_slow_queries_total", "backend" => self.backend.name()).increment(1);
        tracing::warn!(
            target: "core_db::slow_query",
            backend = self.backend.name(),
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            statement,
            params = format_args!("{params} masked"),
            "slow query"
        );
    }

    /// How many slow statements this handle has seen.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
