//! A distributed lock on any backend with compare-and-swap.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use core_error::{Error, Result};
use tokio::time::Instant;

use crate::CacheBase;

/// How a [`Lock`] is taken.
///
/// ```
/// use std::time::Duration;
/// use core_cache::LockOptions;
///
/// let options = LockOptions { ttl: Duration::from_secs(5), ..LockOptions::default() };
/// assert_eq!(options.wait, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOptions {
    /// How long the lock holds if its owner never releases it (a crashed
    /// process). Default 30 s.
    pub ttl: Duration,
    /// How long to keep trying while someone else holds it. Zero means try
    /// once. Default 10 s.
    pub wait: Duration,
    /// The pause between tries (jittered by up to half). Default 50 ms.
    pub retry_interval: Duration,
}

impl Default for LockOptions {
    fn default() -> LockOptions {
        LockOptions {
            ttl: Duration::from_secs(30),
            wait: Duration::from_secs(10),
            retry_interval: Duration::from_millis(50),
        }
    }
}

/// A held distributed lock, released when dropped.
///
/// Acquired with [`Cache::lock`](crate::Cache::lock): the key is set only if
/// absent, to a random owner token, with a TTL. Only the owner can release
/// or extend it — both compare the token atomically (a Lua script on Redis,
/// a CAS token on Memcached).
///
/// **Limits.** The TTL bounds how long a crashed owner blocks others, and
/// also how long a *slow* owner is protected: if work outlives the TTL
/// without [`extend`](Lock::extend), another owner may enter. There are no
/// fencing tokens, and Redis replication is asynchronous, so a failover can
/// lose a freshly taken lock. Use it to avoid duplicate work, not to guard
/// correctness that a database transaction should guard. On the in-memory
/// backend it excludes tasks of one process only.
pub struct Lock {
    backend: Arc<dyn CacheBase>,
    key: String,
    token: Bytes,
    held: bool,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("key", &self.key)
            .field("held", &self.held)
            .finish()
    }
}

impl Lock {
    pub(crate) async fn acquire(
        backend: Arc<dyn CacheBase>,
        key: String,
        options: LockOptions,
    ) -> Result<Lock> {
        if !backend.capabilities().compare_and_swap {
            return Err(Error::unsupported(format!(
                "the {} cache backend cannot hold distributed locks",
                backend.name()
            ))
            .with_operation("cache.lock")
            .with_key(key));
        }
        if options.ttl.is_zero() {
            return Err(Error::invalid_input("a lock TTL must be above zero")
                .with_operation("cache.lock")
                .with_key(key));
        }
        let token = Bytes::from(uuid::Uuid::new_v4().to_string());
        let deadline = Instant::now() + options.wait;
        loop {
            if backend
                .set_if_absent(&key, token.clone(), Some(options.ttl))
                .await?
            {
                return Ok(Lock {
                    backend,
                    key,
                    token,
                    held: true,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::timeout(format!(
                    "the lock is still held by another owner after {:?}",
                    options.wait
                ))
                .with_operation("cache.lock")
                .with_key(key));
            }
            let pause = options.retry_interval.mul_f64(0.5 + fastrand::f64() * 0.5);
            tokio::time::sleep(pause.min(deadline - now)).await;
        }
    }

    /// The full key the lock lives under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// This owner's token, the value stored under the key.
    pub fn token(&self) -> &str {
        std::str::from_utf8(&self.token).unwrap_or_default()
    }

    /// Pushes the expiry out to `ttl` from now.
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when the lock expired
    /// and is no longer ours (perhaps someone else holds it now).
    pub async fn extend(&mut self, ttl: Duration) -> Result<()> {
        if self
            .backend
            .compare_and_expire(&self.key, &self.token, ttl)
            .await?
        {
            return Ok(());
        }
        self.held = false;
        Err(self.lost("cache.lock.extend"))
    }

    /// Releases the lock now.
    ///
    /// # Errors
    ///
    /// [`Conflict`](core_error::ErrorKind::Conflict) when it had already
    /// expired; the backend's errors.
    pub async fn release(mut self) -> Result<()> {
        self.held = false;
        if self
            .backend
            .compare_and_delete(&self.key, &self.token)
            .await?
        {
            Ok(())
        } else {
            Err(self.lost("cache.lock.release"))
        }
    }

    fn lost(&self, operation: &'static str) -> Error {
        Error::conflict("the lock expired and is no longer held by this owner")
            .with_operation(operation)
            .with_key(self.key.clone())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // Dropping cannot wait; release in the background if a runtime is
        // there, else the TTL frees the lock.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let backend = self.backend.clone();
            let key = std::mem::take(&mut self.key);
            let token = self.token.clone();
            runtime.spawn(async move {
                if let Err(err) = backend.compare_and_delete(&key, &token).await {
                    tracing::warn!(key = %key, error = %err, "could not release a dropped lock; its TTL will");
                }
            });
        }
    }
}
