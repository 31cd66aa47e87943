//! Retrying temporary failures, with a bound.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use core_error::Result;

use super::{Call, CallResult, Interceptor, Layer, Layered};
use crate::CacheBase;

/// Retries calls that failed with a [retryable](core_error::Error::is_retryable)
/// error, with exponential backoff and jitter, at most `max_attempts` times
/// in all. The error it finally gives up on is marked
/// [`retries_exhausted`](core_error::Error::retries_exhausted), so a second
/// retry layer around this one (or a message consumer) does not start over.
///
/// Calls that are not idempotent (`incr`, `push`, `pop`, `set_if_absent`,
/// `compare_and_delete`, `compare_and_expire`) are not retried:
/// after a timeout nobody knows whether the first attempt was applied.
#[derive(Debug, Clone, Copy)]
pub struct RetryLayer {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Pause before the second attempt; doubled for each one after.
    pub first_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl Default for RetryLayer {
    fn default() -> RetryLayer {
        RetryLayer {
            max_attempts: 3,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryLayer {
    fn backoff(&self, retry: u32) -> Duration {
        let exponential = self.first_backoff.saturating_mul(1 << retry.min(16));
        // Full jitter keeps many clients from retrying in lockstep.
        exponential
            .min(self.max_backoff)
            .mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

impl Layer for RetryLayer {
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase> {
        Arc::new(Layered::new(inner, *self))
    }
}

impl Interceptor for RetryLayer {
    async fn around<'a, T, F, Fut>(&'a self, call: &'a Call<'a>, attempt: &'a F) -> Result<T>
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let mut attempts = 1;
        loop {
            match attempt().await {
                // Dropped here, not held in the future while it backs off.
                Err(err)
                    if err.is_retryable() && call.idempotent && attempts < self.max_attempts => {}
                // Given up: no outer loop retries it as if it were fresh.
                Err(err) if attempts > 1 => {
                    return Err(err
                        .with_context("attempts", attempts)
                        .with_retries_exhausted());
                }
                result => return result,
            }
            tokio::time::sleep(self.backoff(attempts - 1)).await;
            attempts += 1;
        }
    }
}
