//! Acting once per message id, over the duplicates at-least-once delivery allows.
//!
//! A message can arrive twice: its consumer crashed after handling it but
//! before acknowledging, or a broker restart replayed it. [`Idempotency`]
//! remembers which message ids a group has handled, in a shared
//! [`core_cache::Cache`] (Redis in production), so the second arrival is
//! skipped.

use std::future::Future;
use std::time::Duration;

use core_cache::Cache;
use core_error::Result;

use crate::Message;

/// Whether [`Idempotency::run_once`] ran the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once<T> {
    /// First time for this id: the work ran and returned this.
    Ran(T),
    /// The id was seen before (or is being handled elsewhere right now);
    /// the work did not run.
    Duplicate,
}

/// A dedup store keyed by message id.
///
/// ```
/// use std::time::Duration;
/// use core_cache::{CacheSettings, connect};
/// use core_mq::Message;
/// use core_mq::idempotency::{Idempotency, Once};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = connect(&CacheSettings::from_url("memory://")).await?;
/// let dedup = Idempotency::new(cache, "billing", Duration::from_secs(86_400));
/// let message = Message::new("orders", "o-1");
/// assert_eq!(dedup.run_once(&message, async { Ok(1) }).await?, Once::Ran(1));
/// assert_eq!(dedup.run_once(&message, async { Ok(2) }).await?, Once::Duplicate);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Idempotency {
    cache: Cache,
    scope: String,
    remember_for: Duration,
}

impl Idempotency {
    /// Remembers handled ids of `scope` (usually the consumer group) for
    /// `remember_for`, which must exceed the longest redelivery delay.
    pub fn new(cache: Cache, scope: impl Into<String>, remember_for: Duration) -> Idempotency {
        Idempotency {
            cache,
            scope: scope.into(),
            remember_for,
        }
    }

    fn key(&self, message: &Message) -> String {
        format!("mq-seen:{}:{}", self.scope, message.id)
    }

    /// Runs `work` unless `message`'s id was handled before.
    ///
    /// The id is claimed before `work` runs, so two consumers handed the
    /// same message at once run it only once. If `work` fails, the claim is
    /// released so a redelivery can try again.
    ///
    /// # Errors
    ///
    /// The cache's error (the work did not run), or the work's error.
    pub async fn run_once<T, F>(&self, message: &Message, work: F) -> Result<Once<T>>
    where
        F: Future<Output = Result<T>>,
    {
        let key = self.key(message);
        if !self
            .cache
            .set_if_absent(&key, &1_u8, Some(self.remember_for))
            .await?
        {
            return Ok(Once::Duplicate);
        }
        match work.await {
            Ok(value) => Ok(Once::Ran(value)),
            Err(err) => {
                // Best effort: if this fails too, the redelivery is skipped
                // until `remember_for` passes; the work's error matters more.
                let _ = self.cache.delete(&key).await;
                Err(err)
            }
        }
    }

    /// Whether `message`'s id has been claimed.
    ///
    /// # Errors
    ///
    /// The cache's error.
    pub async fn seen(&self, message: &Message) -> Result<bool> {
        self.cache.exists(&self.key(message)).await
    }
}
