//! argon2id with memory taken from a pool instead of the allocator.
//!
//! Each hash needs `m_cost` KiB of blocks (19 MiB by default). Freed after
//! every hash, those buffers stay in glibc's per-thread arenas, so the
//! blocking threads that ran a flood of logins kept one buffer each long
//! after it (a login and a registration left ~39 MiB behind for good).
//! Buffers handed back to a pool no larger than the hashing limit bound
//! that memory by the limit and reuse it.
//!
//! Only argon2id v19 at this hasher's own parameters uses the pool; any
//! other hash (older parameters, argon2i/d) is verified the plain way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

// tokio's clock: the same as std's outside tests, and pausable in them.
use tokio::time::Instant;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use core_error::{Error, Result};
use ring::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// How long a buffer stays pooled unused before it is freed. A burst of
/// logins reuses the buffers; an idle service gives them back (each is a
/// mapping of its own, so freeing it returns the memory to the system).
pub(super) const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// Block buffers of one size, at most `keep` of them kept, none kept
/// longer than [`IDLE_RELEASE`] unused.
#[derive(Debug)]
pub(super) struct BlockPool {
    blocks: usize,
    keep: usize,
    /// Free buffers with when each was given back, oldest first.
    free: Mutex<Vec<(Vec<Block>, Instant)>>,
    /// Whether a task will release idle buffers.
    release_scheduled: AtomicBool,
}

impl BlockPool {
    pub(super) fn new(params: &Params, keep: usize) -> Arc<BlockPool> {
        Arc::new(BlockPool {
            blocks: params.block_count(),
            keep,
            free: Mutex::new(Vec::new()),
            release_scheduled: AtomicBool::new(false),
        })
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<Block>, Instant)>> {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self) -> Vec<Block> {
        let reused = self.free().pop().map(|(buffer, _)| buffer);
        reused.unwrap_or_else(|| vec![Block::default(); self.blocks])
    }

    fn give_back(self: &Arc<Self>, buffer: Vec<Block>) {
        {
            let mut free = self.free();
            if free.len() < self.keep {
                free.push((buffer, Instant::now()));
            }
        }
        self.release_idle();
        self.schedule_release();
    }

    /// Frees the buffers unused for [`IDLE_RELEASE`]; when the next of the
    /// others will have been, if any are left.
    pub(super) fn release_idle(&self) -> Option<Instant> {
        let mut free = self.free();
        free.retain(|(_, since)| since.elapsed() < IDLE_RELEASE);
        free.iter().map(|(_, since)| *since + IDLE_RELEASE).min()
    }

    /// Makes sure a task frees the pooled buffers once they have been idle
    /// long enough. Outside a tokio runtime, they are freed by the next
    /// hash instead.
    fn schedule_release(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.release_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool: Weak<BlockPool> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut next = Instant::now() + IDLE_RELEASE;
            loop {
                tokio::time::sleep_until(next).await;
                let Some(pool) = pool.upgrade() else { return };
                if let Some(expiry) = pool.release_idle() {
                    next = expiry;
                } else {
                    pool.release_scheduled.store(false, Ordering::Release);
                    // A buffer given back between the check and the store
                    // needs a task of its own.
                    if pool.pooled_now() > 0 {
                        pool.schedule_release();
                    }
                    return;
                }
            }
        });
    }

    fn pooled_now(&self) -> usize {
        self.free().len()
    }

    /// Runs argon2id at `params` into `out` with a pooled buffer.
    fn run(
        self: &Arc<Self>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let mut buffer = self.take();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut buffer[..]);
        self.give_back(buffer);
        result.map_err(|err| {
            Error::internal(format!("argon2id hashing failed: {err}"))
                .with_operation("auth.hash_password")
        })
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password`
    /// with a fresh random salt.
    pub(super) fn hash(self: &Arc<Self>, params: &Params, password: &str) -> Result<String> {
        let mut salt = [0_u8; SALT_LEN];
        SystemRandom::new().fill(&mut salt).map_err(|_| {
            Error::internal("no randomness for a password salt")
                .with_operation("auth.hash_password")
        })?;
        let mut out = [0_u8; OUTPUT_LEN];
        self.run(params, password.as_bytes(), &salt, &mut out)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            B64.encode(salt),
            B64.encode(out)
        ))
    }

    /// `Some(matches)` for an argon2id v19 hash at exactly `params`; `None`
    /// for any other hash, which the caller verifies the plain way.
    pub(super) fn verify(
        self: &Arc<Self>,
        params: &Params,
        password: &str,
        hash: &str,
    ) -> Option<Result<bool>> {
        let expected_head = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        let rest = hash.strip_prefix(&expected_head)?;
        let (salt, digest) = rest.split_once('$')?;
        let salt = B64.decode(salt).ok()?;
        let digest = B64.decode(digest).ok()?;
        if digest.len() < Params::MIN_OUTPUT_LEN || digest.len() > 64 {
            return None;
        }
        let mut out = vec![0_u8; digest.len()];
        Some(
            self.run(params, password.as_bytes(), &salt, &mut out)
                .map(|()| bool::from(out.ct_eq(&digest))),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use argon2::Params;

    use super::{BlockPool, IDLE_RELEASE};

    fn small() -> Params {
        Params::new(64, 1, 1, None).expect("valid parameters")
    }

    #[tokio::test(start_paused = true)]
    async fn buffers_are_reused_then_freed_once_idle() {
        let params = small();
        let pool: Arc<BlockPool> = BlockPool::new(&params, 2);
        let hash = pool.hash(&params, "a password").expect("hashed");
        assert_eq!(pool.pooled_now(), 1);
        tokio::time::sleep(IDLE_RELEASE / 2).await;
        assert_eq!(
            pool.verify(&params, "a password", &hash).map(Result::ok),
            Some(Some(true))
        );
        assert_eq!(pool.pooled_now(), 1, "reused, not a second buffer");
        tokio::time::sleep(IDLE_RELEASE - Duration::from_secs(1)).await;
        assert_eq!(
            pool.pooled_now(),
            1,
            "used {:?} ago",
            IDLE_RELEASE - Duration::from_secs(1)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pool.pooled_now(),
            0,
            "idle buffers are freed without another hash"
        );
    }

    #[test]
    fn outside_a_runtime_the_next_hash_frees_idle_buffers() {
        let params = small();
        let pool = BlockPool::new(&params, 2);
        pool.hash(&params, "a password").expect("hashed");
        assert_eq!(pool.pooled_now(), 1);
        assert!(pool.release_idle().is_some(), "not idle yet");
        assert_eq!(pool.pooled_now(), 1);
    }
}
