//! What runs around every SQL statement, in one place: a deadline per
//! attempt, retries of reads after a lost connection, the slow-query log,
//! metrics and a tracing span. Engines only talk to their server.
//!
//! The order is core-cache's: the timeout innermost (each attempt has its
//! own deadline, so the retry loop always ends), retry around it, then the
//! slow-query log, metrics and the span outermost (one measurement per
//! caller's statement, however many attempts it took).
//!
//! The layers are a fixed stack configured from [`DatabaseSettings`]
//! (`query_timeout_ms`, `read_attempts`, `slow_query_ms`) rather than
//! wrappers of a trait object: each statement is compiled for its engine's
//! own types, and the stack is generic code inlined into it, with no
//! allocation per call (docs/BENCHMARKS.md, `db/*`, SDK against raw sqlx).

mod metrics;
mod retry;
pub(crate) mod slow;
mod timeout;
mod tracing;

use std::future::Future;
use std::time::{Duration, Instant};

use ::tracing::Instrument as _;
use core_error::{Error, Result};

use self::metrics::QueryMetrics;
use self::retry::Retry;
use self::slow::SlowQueryLog;
use crate::{Backend, DatabaseSettings};

/// What a statement asks of the database, as metrics and spans name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Execute,
    FetchOne,
    FetchOptional,
    FetchAll,
    Fetch,
}

impl Operation {
    const COUNT: usize = 5;

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Operation::Execute => "db.execute",
            Operation::FetchOne => "db.fetch_one",
            Operation::FetchOptional => "db.fetch_optional",
            Operation::FetchAll => "db.fetch_all",
            Operation::Fetch => "db.fetch",
        }
    }
}

/// One statement being run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) statement: &'a str,
    /// How many parameters were bound (their values are never seen here).
    pub(crate) params: usize,
    /// Whether running the statement twice has the effect of running it
    /// once, and it runs on a pool (not inside a transaction): only then
    /// is it retried.
    pub(crate) idempotent: bool,
}

/// The layer stack of one database handle.
#[derive(Debug)]
pub(crate) struct Layers {
    backend: Backend,
    timeout: Option<Duration>,
    retry: Retry,
    pub(crate) slow: SlowQueryLog,
    metrics: QueryMetrics,
}

impl Layers {
    pub(crate) fn new(backend: Backend, settings: &DatabaseSettings) -> Layers {
        Layers {
            backend,
            timeout: settings.query_timeout(),
            retry: Retry::new(settings.read_attempts),
            slow: SlowQueryLog::new(backend, settings.slow_query_threshold()),
            metrics: QueryMetrics::new(backend),
        }
    }

    /// Whether a call that may be retried will be, so the caller keeps a
    /// copy of its arguments for another attempt.
    pub(crate) fn retries(&self, call: &Call<'_>) -> bool {
        call.idempotent && self.retry.attempts() > 1
    }

    /// Runs `attempt` under the whole stack. `attempt(last)` makes one
    /// attempt's future; `last` says no other attempt will follow, so it
    /// may use up what the call owns instead of copying it.
    pub(crate) async fn around<T, F, Fut>(&self, call: Call<'_>, attempt: F) -> Result<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let span = tracing::span(self.backend, &call);
        async {
            let started = Instant::now();
            let attempts = if call.idempotent {
                self.retry.attempts()
            } else {
                1
            };
            let result = self
                .retry
                .run(attempts, attempt, |attempt| {
                    timeout::limit(self.timeout, self.backend, &call, attempt)
                })
                .await;
            self.finish(&call, started.elapsed(), result.as_ref().err());
            result
        }
        .instrument(span)
        .await
    }

    /// The span a streamed statement's rows are produced in.
    pub(crate) fn stream_span(&self, call: &Call<'_>) -> ::tracing::Span {
        tracing::span(self.backend, call)
    }

    /// Records a statement that ended after `elapsed`, with `failure` if it
    /// failed: the slow-query log, the metrics, a log line for a failure.
    pub(crate) fn finish(&self, call: &Call<'_>, elapsed: Duration, failure: Option<&Error>) {
        self.slow.observe(elapsed, call.statement, call.params);
        self.metrics.record(call, elapsed, failure);
        if let Some(err) = failure {
            tracing::report(err);
        }
    }
}

/// The longest statement prefix recorded in an error's context.
const STATEMENT_CONTEXT_CHARS: usize = 120;

/// A statement as an error's context records it: trimmed, and cut after
/// 120 characters.
pub(crate) fn statement_context(statement: &str) -> String {
    let statement = statement.trim();
    match statement.char_indices().nth(STATEMENT_CONTEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &statement[..cut]),
        None => statement.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{STATEMENT_CONTEXT_CHARS, statement_context};

    #[test]
    fn long_statements_are_cut_on_a_char_boundary() {
        let long = "é".repeat(500);
        let short = statement_context(&long);
        assert_eq!(short.chars().count(), STATEMENT_CONTEXT_CHARS + 1);
    }
}
