//! How many password hashes run at once, and how long a request waits for
//! its turn.
//!
//! Each argon2id hash holds its memory (19 MiB by default) for tens of
//! milliseconds of one core. Unbounded, a flood of logins runs them all at
//! once: memory grows by the flood's size and every request times out. With
//! a limit, the ones beyond it wait briefly and are then refused at once
//! with a temporary error and a `retry_after_secs`, which a client can act
//! on.

use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, Result};
use serde::Deserialize;
use tokio::sync::Semaphore;

/// The `auth.passwords.hashing` settings section.
///
/// ```
/// use core_auth::password::HashingSettings;
///
/// let settings: HashingSettings = serde_json::from_str(r#"{"max_concurrent": 4}"#).unwrap();
/// assert_eq!(settings.max_concurrent, 4);
/// assert_eq!(settings.max_wait_ms, 2000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashingSettings {
    /// Hashes running at once; 0 (the default) sizes it from the cores and
    /// the memory: two per core, and no more than a quarter of the memory's
    /// worth of hashes.
    pub max_concurrent: usize,
    /// How long a request waits for a free slot before it is refused
    /// (`unavailable`, `retry_after_secs` = 1). Default 2 000 ms: a burst
    /// queues for a moment, a flood is refused before its requests time out.
    pub max_wait_ms: u64,
}

impl Default for HashingSettings {
    fn default() -> HashingSettings {
        HashingSettings {
            max_concurrent: 0,
            max_wait_ms: 2_000,
        }
    }
}

/// The slots, shared by every clone of [`Passwords`](super::Passwords).
#[derive(Debug, Clone)]
pub(super) struct HashingLimit {
    slots: Arc<Semaphore>,
    size: usize,
    max_wait: Duration,
}

impl HashingLimit {
    pub(super) fn new(settings: &HashingSettings, memory_kib: u32) -> HashingLimit {
        let size = match settings.max_concurrent {
            0 => automatic_size(memory_kib),
            size => size,
        };
        HashingLimit {
            slots: Arc::new(Semaphore::new(size)),
            size,
            max_wait: Duration::from_millis(settings.max_wait_ms),
        }
    }

    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit =
            match tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => {
                    return Err(Error::internal("the password hashing slots are closed")
                        .with_operation(operation));
                }
                Err(_waited) => {
                    metrics::counter!("auth_password_hashes_refused_total").increment(1);
                    return Err(Error::unavailable(
                        "too many password checks at once; try again shortly",
                    )
                    .with_operation(operation)
                    .with_context("retry_after_secs", 1));
                }
            };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|err| {
            Error::internal(format!("password hashing stopped: {err}")).with_operation(operation)
        })?
    }
}

/// Two hashes per core keep the cores busy; a quarter of the memory caps
/// what a flood can take.
fn automatic_size(memory_kib: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let by_cores = cores * 2;
    let by_memory = total_memory_kib().map_or(usize::MAX, |total| {
        (total / 4 / u64::from(memory_kib.max(1))) as usize
    });
    by_cores.min(by_memory).max(1)
}

/// `MemTotal` of /proc/meminfo, where there is one.
fn total_memory_kib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_automatic_size_is_at_least_one_and_bounded_by_cores() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let size = automatic_size(19 * 1024);
        assert!((1..=cores * 2).contains(&size), "{size}");
        // A hash bigger than the machine still gets one slot.
        assert_eq!(automatic_size(u32::MAX), 1);
    }
}
