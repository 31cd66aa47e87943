//! Another attempt for a read that lost its connection.

use std::future::Future;
use std::time::Duration;

use core_error::{Error, ErrorKind, Result};

/// Retries idempotent statements (reads, unless the caller says otherwise)
/// that failed because the connection was lost or could not be made, with
/// exponential backoff and jitter, `attempts` times in all.
///
/// Only `Unavailable` is retried: a timeout means the server is slow or the
/// pool busy, and asking again adds load (and waits the acquire timeout
/// again); a conflict inside a single statement is the caller's to decide.
/// The error given up on is marked
/// [`retries_exhausted`](core_error::Error::retries_exhausted), so a
/// message consumer or an outer retry loop does not start over.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    attempts: u32,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl Retry {
    pub(super) fn new(attempts: u32) -> Retry {
        Retry {
            attempts: attempts.max(1),
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
        }
    }

    pub(super) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Runs `limit(attempt(last))` up to `attempts` times while it fails
    /// with an error worth another attempt.
    pub(super) async fn run<T, F, Fut, L, LimitFut>(
        &self,
        attempts: u32,
        mut attempt: F,
        limit: L,
    ) -> Result<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T>>,
        L: Fn(Fut) -> LimitFut,
        LimitFut: Future<Output = Result<T>>,
    {
        let mut made = 1;
        loop {
            let last = made >= attempts;
            match limit(attempt(last)).await {
                Err(err) if worth_retrying(&err) => {
                    if last {
                        return Err(if made > 1 {
                            err.with_retries_exhausted()
                        } else {
                            err
                        });
                    }
                    tokio::time::sleep(self.backoff(made)).await;
                    made += 1;
                }
                result => return result,
            }
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let exponential = self.first_backoff.saturating_mul(1 << retry.min(16));
        // Full jitter keeps many clients from retrying in lockstep.
        exponential
            .min(self.max_backoff)
            .mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

fn worth_retrying(err: &Error) -> bool {
    err.kind() == ErrorKind::Unavailable && err.is_retryable()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use core_error::{Error, ErrorKind, Result};

    use super::Retry;

    /// Runs `failures` (one per attempt, `None` for success) through a
    /// retry of `attempts`; returns the result and the attempts made.
    async fn run(attempts: u32, failures: &[Option<ErrorKind>]) -> (Result<u32>, u32) {
        let made = Cell::new(0_u32);
        let result = Retry::new(attempts)
            .run(
                attempts,
                |_last| {
                    let attempt = made.get();
                    made.set(attempt + 1);
                    let failure = failures.get(attempt as usize).copied().flatten();
                    async move {
                        match failure {
                            Some(kind) => Err(Error::new(kind, "failed")),
                            None => Ok(attempt),
                        }
                    }
                },
                |attempt| attempt,
            )
            .await;
        (result, made.get())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lost_connection_is_tried_again_until_an_attempt_succeeds() {
        let unavailable = Some(ErrorKind::Unavailable);
        let (result, made) = run(3, &[unavailable, unavailable, None]).await;
        assert_eq!((result.unwrap(), made), (2, 3));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_error_given_up_on_is_marked_so_nobody_retries_it_again() {
        let unavailable = Some(ErrorKind::Unavailable);
        let (result, made) = run(3, &[unavailable; 4]).await;
        let err = result.unwrap_err();
        assert_eq!(made, 3);
        assert!(err.retries_exhausted() && !err.is_retryable(), "{err:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn timeouts_and_answers_are_not_tried_again() {
        for kind in [ErrorKind::Timeout, ErrorKind::Conflict, ErrorKind::NotFound] {
            let (result, made) = run(3, &[Some(kind), None]).await;
            assert_eq!((result.unwrap_err().kind(), made), (kind, 1));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_single_attempt_is_not_marked_as_retried() {
        let (result, made) = run(1, &[Some(ErrorKind::Unavailable), None]).await;
        let err = result.unwrap_err();
        assert_eq!(made, 1);
        assert!(!err.retries_exhausted() && err.is_retryable(), "{err:?}");
    }
}
