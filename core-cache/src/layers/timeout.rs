//! A deadline on every attempt.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, Result};

use super::{Call, CallResult, Interceptor, Layer, Layered};
use crate::CacheBase;

/// Fails an attempt that takes longer than `duration` with a temporary
/// [`Timeout`](core_error::ErrorKind::Timeout).
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    duration: Duration,
}

impl TimeoutLayer {
    /// A deadline of `duration` per attempt.
    pub fn new(duration: Duration) -> TimeoutLayer {
        TimeoutLayer { duration }
    }
}

impl Layer for TimeoutLayer {
    fn layer(&self, inner: Arc<dyn CacheBase>) -> Arc<dyn CacheBase> {
        Arc::new(Layered::new(inner, *self))
    }
}

impl Interceptor for TimeoutLayer {
    async fn around<'a, T, F, Fut>(&'a self, call: &'a Call<'a>, attempt: &'a F) -> Result<T>
    where
        T: CallResult + Send + 'a,
        F: Fn() -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        match tokio::time::timeout(self.duration, attempt()).await {
            Ok(result) => result,
            Err(_) => Err(
                Error::timeout(format!("no answer within {:?}", self.duration))
                    .with_operation(call.operation)
                    .with_backend(call.backend)
                    .with_key(call.key),
            ),
        }
    }
}
