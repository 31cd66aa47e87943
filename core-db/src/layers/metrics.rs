//! Counters and latency histograms through the `metrics` facade.

use std::sync::OnceLock;
use std::time::Duration;

use core_error::Error;
use metrics::{Counter, Histogram};

use super::{Call, Operation};
use crate::Backend;

/// Records, per engine and operation:
///
/// - `db_queries_total{backend, operation, outcome}`, outcome `ok` or the
///   error's code;
/// - `db_query_duration_seconds{backend, operation}`.
///
/// The handles of the successful outcome are kept per operation, made in
/// the recorder installed when the operation is first used (a service
/// installs its recorder at start, before it connects); a failure asks the
/// recorder each time.
#[derive(Debug)]
pub(super) struct QueryMetrics {
    backend: &'static str,
    handles: [OnceLock<Handles>; Operation::COUNT],
}

#[derive(Debug)]
struct Handles {
    ok: Counter,
    duration: Histogram,
}

impl QueryMetrics {
    pub(super) fn new(backend: Backend) -> QueryMetrics {
        QueryMetrics {
            backend: backend.name(),
            handles: Default::default(),
        }
    }

    pub(super) fn record(&self, call: &Call<'_>, elapsed: Duration, failure: Option<&Error>) {
        let handles = self.handles[call.operation as usize].get_or_init(|| Handles {
            ok: metrics::counter!(
                "db_queries_total",
                "backend" => self.backend,
                "operation" => call.operation.name(),
                "outcome" => "ok"
            ),
            duration: metrics::histogram!(
                "db_query_duration_seconds",
                "backend" => self.backend,
                "operation" => call.operation.name()
            ),
        });
        handles.duration.record(elapsed.as_secs_f64());
        match failure {
            None => handles.ok.increment(1),
            Some(err) => self.count_failure(call.operation, err),
        }
    }

    #[cold]
    fn count_failure(&self, operation: Operation, err: &Error) {
        metrics::counter!(
            "db_queries_total",
            "backend" => self.backend,
            "operation" => operation.name(),
            "outcome" => err.code()
        )
        .increment(1);
    }
}
