//! Login throttling per account and per client address, in the cache.
//!
//! Each failed login counts against the account and against the client
//! address, in windows that expire on their own. Past the limit, the account
//! (or address) is locked out for a while; the lock expires by itself, so
//! throttling recovers without anyone stepping in. A successful login clears
//! the account's count. Counting the address too stops one client from
//! guessing across many accounts.
//!
//! Account names and addresses are stored as SHA-256 digests, so the cache
//! holds no e-mail addresses.

use std::time::Duration;

use bytes::Bytes;
use core_cache::Cache;
use core_error::{Error, Result};
use ring::digest::{SHA256, digest};
use serde::Deserialize;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::jwt::unix_now;

/// The `auth.throttle` settings section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Failures of one account within the window before it is locked. Default 5.
    pub max_account_failures: u32,
    /// Failures from one address within the window before it is locked. Default 50.
    pub max_address_failures: u32,
    /// How long failures are counted, in seconds. Default 900.
    pub window_secs: u64,
    /// How long a lock-out lasts, in seconds. Default 900.
    pub lockout_secs: u64,
    /// Login attempts from one address being checked at once (each costs
    /// a password hash), on this instance; more are refused at once,
    /// before any hash is computed. Default 8.
    pub max_concurrent_per_address: u32,
}

impl Default for ThrottleSettings {
    fn default() -> ThrottleSettings {
        ThrottleSettings {
            max_account_failures: 5,
            max_address_failures: 50,
            window_secs: 900,
            lockout_secs: 900,
            max_concurrent_per_address: 8,
        }
    }
}

/// Counts failed logins and locks out accounts and addresses.
///
/// ```
/// use core_auth::throttle::{LoginThrottle, ThrottleSettings};
/// use core_cache::{CacheSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = connect(&CacheSettings::from_url("memory://")).await?;
/// let settings = ThrottleSettings { max_account_failures: 2, ..ThrottleSettings::default() };
/// let throttle = LoginThrottle::new(cache, settings)?;
///
/// throttle.check("ada@example.com", "10.0.0.7").await?;
/// throttle.record_failure("ada@example.com", "10.0.0.7").await?;
/// throttle.record_failure("ada@example.com", "10.0.0.7").await?;
/// let err = throttle.check("ada@example.com", "10.0.0.7").await.unwrap_err();
/// assert_eq!(err.kind(), core_auth::ErrorKind::RateLimited);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    cache: Cache,
    settings: ThrottleSettings,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// One admitted login attempt; its address's slot is freed when it drops.
#[derive(Debug)]
#[must_use = "the attempt is admitted only while this lives"]
pub struct LoginAttempt {
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
    address: String,
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.address);
            }
        }
    }
}

/// What is being counted.
#[derive(Clone, Copy)]
enum Subject {
    Account,
    Address,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Account => "account",
            Subject::Address => "address",
        }
    }
}

fn digest_hex(text: &str) -> String {
    digest(&SHA256, text.as_bytes()).as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl LoginThrottle {
    /// A throttle counting in `cache`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a zero limit,
    /// window or lock-out.
    pub fn new(cache: Cache, settings: ThrottleSettings) -> Result<LoginThrottle> {
        let zero = [
            (
                "max_account_failures",
                u64::from(settings.max_account_failures),
            ),
            (
                "max_address_failures",
                u64::from(settings.max_address_failures),
            ),
            ("window_secs", settings.window_secs),
            ("lockout_secs", settings.lockout_secs),
            (
                "max_concurrent_per_address",
                u64::from(settings.max_concurrent_per_address),
            ),
        ]
        .into_iter()
        .find(|(_, value)| *value == 0);
        if let Some((name, _)) = zero {
            return Err(
                Error::invalid_input(format!("auth.throttle.{name} must be above zero"))
                    .with_key(format!("auth.throttle.{name}")),
            );
        }
        Ok(LoginThrottle {
            cache,
            settings,
            in_flight: Arc::default(),
        })
    }

    /// Admits one login attempt from `address` while fewer than
    /// `max_concurrent_per_address` are being checked, before its password
    /// is hashed: a flood from one address waits for no hash slot.
    ///
    /// ```
    /// # use core_auth::throttle::{LoginThrottle, ThrottleSettings};
    /// # use core_cache::{CacheSettings, connect};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
    /// # let cache = connect(&CacheSettings::from_url("memory://")).await?;
    /// let settings = ThrottleSettings { max_concurrent_per_address: 1, ..ThrottleSettings::default() };
    /// let throttle = LoginThrottle::new(cache, settings)?;
    /// let first = throttle.admit("10.0.0.7")?;
    /// assert_eq!(throttle.admit("10.0.0.7").unwrap_err().kind(), core_auth::ErrorKind::RateLimited);
    /// drop(first);
    /// assert!(throttle.admit("10.0.0.7").is_ok());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimited`](core_error::ErrorKind::RateLimited) (429, retry after
    /// 1 s) while the address is at its limit.
    pub fn admit(&self, address: &str) -> Result<LoginAttempt> {
        let address = address.trim().to_string();
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = in_flight.entry(address.clone()).or_insert(0);
        if *count >= self.settings.max_concurrent_per_address {
            return Err(Error::rate_limited(
                "too many logins from this address at once; try again shortly",
                1,
            )
            .with_operation("auth.login_throttle"));
        }
        *count += 1;
        Ok(LoginAttempt {
            in_flight: self.in_flight.clone(),
            address,
        })
    }

    fn key(kind: Subject, what: &str, value: &str) -> String {
        let value = if matches!(kind, Subject::Account) {
            value.trim().to_lowercase()
        } else {
            value.trim().to_string()
        };
        format!(
            "auth:throttle:{what}:{}:{}",
            kind.name(),
            digest_hex(&value)
        )
    }

    /// `Ok` unless the account or the address is locked out.
    ///
    /// # Errors
    ///
    /// [`RateLimited`](core_error::ErrorKind::RateLimited) (HTTP 429) while
    /// locked, with `retry_after_secs` in its context; the cache's errors.
    pub async fn check(&self, account: &str, address: &str) -> Result<()> {
        let account_lock = Self::key(Subject::Account, "lock", account);
        let address_lock = Self::key(Subject::Address, "lock", address);
        let locks: Vec<Option<u64>> = self.cache.get_many(&[&account_lock, &address_lock]).await?;
        let now = unix_now();
        let until = locks
            .into_iter()
            .flatten()
            .filter(|until| *until > now)
            .max();
        match until {
            Some(until) => Err(Error::rate_limited(
                "too many failed logins; try again later",
                until - now,
            )
            .with_operation("auth.login_throttle")),
            None => Ok(()),
        }
    }

    /// Counts a failed login; locks the account or address at its limit.
    ///
    /// # Errors
    ///
    /// The cache's errors.
    pub async fn record_failure(&self, account: &str, address: &str) -> Result<()> {
        let subjects = [
            (
                Subject::Account,
                account,
                self.settings.max_account_failures,
            ),
            (
                Subject::Address,
                address,
                self.settings.max_address_failures,
            ),
        ];
        for (kind, value, limit) in subjects {
            let failures = self.count(&Self::key(kind, "failures", value)).await?;
            if failures >= i64::from(limit) {
                let until = unix_now() + self.settings.lockout_secs;
                self.cache
                    .set(
                        &Self::key(kind, "lock", value),
                        &until,
                        Some(Duration::from_secs(self.settings.lockout_secs)),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Clears the account's failure count after a successful login (the
    /// address keeps its count: one success does not vouch for a client
    /// trying many accounts).
    ///
    /// # Errors
    ///
    /// The cache's errors.
    pub async fn record_success(&self, account: &str) -> Result<()> {
        self.cache
            .delete(&Self::key(Subject::Account, "failures", account))
            .await
            .map(drop)
    }

    /// Adds one to the counter at `key`, creating it with the window as
    /// its TTL so a count never outlives its window.
    async fn count(&self, key: &str) -> Result<i64> {
        let full = self.cache.full_key(key)?;
        let window = Duration::from_secs(self.settings.window_secs);
        let backend = self.cache.backend();
        backend
            .set_if_absent(&full, Bytes::from_static(b"0"), Some(window))
            .await?;
        backend.incr(&full, 1).await
    }
}
