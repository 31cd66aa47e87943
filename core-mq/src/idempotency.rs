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
use core_error::{Error, Result};

use crate::Message;

/// Whether [`Idempotency::run_once`] ran the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Once<T> {
    /// First time for this id: the work ran and returned this.
    Ran(T),
    /// The work for this id finished before; it did not run again.
    Duplicate,
}

/// What the dedup store holds under a message id.
const IN_PROGRESS: u8 = 1;
const DONE: u8 = 2;

/// A dedup store keyed by message id.
///
/// An id is first *claimed* for a short lease while its work runs, then
/// marked *done* for `remember_for`. A consumer that dies mid-work leaves
/// only the claim, which expires, so a redelivery runs the work again:
/// the effect is never lost. The window that remains is a crash after the
/// work's effect but before it is marked done; work whose effect lives in
/// a database can close it by recording the message id in the same
/// transaction.
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
    claim_lease: Duration,
}

impl Idempotency {
    /// How long a claim protects work in progress unless
    /// [`with_claim_lease`](Self::with_claim_lease) says otherwise.
    pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(30);

    /// Remembers handled ids of `scope` (usually the consumer group) for
    /// `remember_for`, which must exceed the longest redelivery delay.
    pub fn new(cache: Cache, scope: impl Into<String>, remember_for: Duration) -> Idempotency {
        Idempotency {
            cache,
            scope: scope.into(),
            remember_for,
            claim_lease: Self::DEFAULT_CLAIM_LEASE,
        }
    }

    /// Sets how long a claim on an id in progress lasts: longer than the
    /// work takes, short enough that a crashed consumer's message is
    /// retried soon.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use core_mq::idempotency::Idempotency;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
    /// # let cache = core_cache::connect(&core_cache::CacheSettings::from_url("memory://")).await?;
    /// let dedup = Idempotency::new(cache, "billing", Duration::from_secs(86_400))
    ///     .with_claim_lease(Duration::from_secs(5));
    /// # Ok(()) }
    /// ```
    pub fn with_claim_lease(mut self, lease: Duration) -> Idempotency {
        self.claim_lease = lease;
        self
    }

    fn key(&self, message: &Message) -> String {
        format!("mq-seen:{}:{}", self.scope, message.id)
    }

    /// Runs `work` unless `message`'s id was handled before.
    ///
    /// The id is claimed before `work` runs, so two consumers handed the
    /// same message at once run it only once: the second gets a temporary
    /// [`Conflict`](core_error::ErrorKind::Conflict), which a handler's `?`
    /// turns into a retry, so the message is not acknowledged before the
    /// first consumer's work is known to have finished. If `work` fails,
    /// the claim is released so a redelivery can try again.
    ///
    /// # Errors
    ///
    /// The cache's error (the work did not run), a temporary `Conflict`
    /// while another consumer holds the claim, or the work's error.
    pub async fn run_once<T, F>(&self, message: &Message, work: F) -> Result<Once<T>>
    where
        F: Future<Output = Result<T>>,
    {
        let key = self.key(message);
        if !self
            .cache
            .set_if_absent(&key, &IN_PROGRESS, Some(self.claim_lease))
            .await?
        {
            return match self.cache.get::<u8>(&key).await? {
                Some(DONE) => Ok(Once::Duplicate),
                // Claimed elsewhere, or the claim lapsed between the two calls.
                _ => Err(
                    Error::conflict("another consumer is handling this message right now")
                        .with_operation("mq.idempotency")
                        .with_key(message.id.to_string())
                        .with_temporary(true),
                ),
            };
        }
        match work.await {
            Ok(value) => {
                if let Err(err) = self.cache.set(&key, &DONE, Some(self.remember_for)).await {
                    // The work ran; failing now would run it again on retry.
                    // The claim still lapses, so only a redelivery after the
                    // lease could repeat it.
                    tracing::warn!(error = %err, key = %key, "could not mark a handled message as done");
                }
                Ok(Once::Ran(value))
            }
            Err(err) => {
                // Best effort: if this fails too, the claim lapses with its
                // lease; the work's error matters more.
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
