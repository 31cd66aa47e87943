//! Login throttling locks out and recovers, per account and per address,
//! on the in-memory cache and on Redis.

mod common;

use std::time::Duration;

use common::memory_cache;
use core_auth::ErrorKind;
use core_auth::throttle::{LoginThrottle, ThrottleSettings};
use core_cache::{Cache, CacheSettings, connect};
use core_testkit::{Service, require_service, unique_name};

fn settings() -> ThrottleSettings {
    ThrottleSettings {
        max_account_failures: 3,
        max_address_failures: 5,
        window_secs: 60,
        lockout_secs: 2,
        max_concurrent_per_address: 2,
    }
}

#[tokio::test]
async fn concurrent_attempts_per_address_are_bounded_before_any_hash() {
    let throttle = LoginThrottle::new(memory_cache().await, settings()).unwrap();
    let first = throttle.admit("10.0.0.1").unwrap();
    let second = throttle.admit("10.0.0.1").unwrap();
    let err = throttle.admit("10.0.0.1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.context_value("retry_after_secs"), Some("1"));
    // Another address has its own slots; a finished attempt frees one.
    let _other = throttle.admit("10.0.0.2").unwrap();
    drop(first);
    let _third = throttle.admit("10.0.0.1").unwrap();
    drop(second);
}

async fn locks_out_and_recovers(cache: Cache) {
    let throttle = LoginThrottle::new(cache, settings()).unwrap();
    let account = "Ada@Example.com";
    for _ in 0..2 {
        throttle.check(account, "10.0.0.1").await.unwrap();
        throttle.record_failure(account, "10.0.0.1").await.unwrap();
    }
    throttle
        .check(account, "10.0.0.1")
        .await
        .expect("two failures are allowed");
    throttle.record_failure(account, "10.0.0.1").await.unwrap();
    // Locked from any address, whatever the case of the account name.
    let err = throttle
        .check("ada@example.com", "10.0.0.99")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.context_value("retry_after_secs").is_some(), "{err}");
    assert!(
        !err.to_string().contains("ada@"),
        "the account is not echoed: {err}"
    );
    // Other accounts are unaffected.
    throttle
        .check("grace@example.com", "10.0.0.99")
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(2200)).await;
    throttle
        .check(account, "10.0.0.1")
        .await
        .expect("the lock-out ends by itself");
}

async fn one_address_across_many_accounts_is_locked(cache: Cache) {
    let throttle = LoginThrottle::new(cache, settings()).unwrap();
    for n in 0..5 {
        throttle
            .record_failure(&format!("user{n}@example.com"), "203.0.113.9")
            .await
            .unwrap();
    }
    let err = throttle
        .check("someone-else@example.com", "203.0.113.9")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    throttle
        .check("someone-else@example.com", "203.0.113.10")
        .await
        .unwrap();
}

#[tokio::test]
async fn memory_locks_out_and_recovers() {
    locks_out_and_recovers(common::memory_cache().await).await;
}

#[tokio::test]
async fn memory_locks_an_address_guessing_across_accounts() {
    one_address_across_many_accounts_is_locked(common::memory_cache().await).await;
}

async fn redis() -> Option<Cache> {
    let url = require_service!(Service::Redis, None);
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(unique_name("auth_throttle"));
    Some(connect(&settings).await.expect("redis"))
}

#[tokio::test]
async fn redis_locks_out_and_recovers() {
    let Some(cache) = redis().await else { return };
    locks_out_and_recovers(cache).await;
}

#[tokio::test]
async fn redis_locks_an_address_guessing_across_accounts() {
    let Some(cache) = redis().await else { return };
    one_address_across_many_accounts_is_locked(cache).await;
}

#[tokio::test]
async fn success_clears_the_account_count_and_counts_expire_with_the_window() {
    let cache = common::memory_cache().await;
    let throttle = LoginThrottle::new(
        cache,
        ThrottleSettings {
            window_secs: 1,
            ..settings()
        },
    )
    .unwrap();
    throttle.record_failure("ada", "10.0.0.1").await.unwrap();
    throttle.record_failure("ada", "10.0.0.1").await.unwrap();
    throttle.record_success("ada").await.unwrap();
    throttle.record_failure("ada", "10.0.0.1").await.unwrap();
    throttle
        .check("ada", "10.0.0.1")
        .await
        .expect("the count restarted at the success");

    throttle.record_failure("ada", "10.0.0.1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    throttle.record_failure("ada", "10.0.0.1").await.unwrap();
    throttle
        .check("ada", "10.0.0.1")
        .await
        .expect("earlier failures left the window");
}

#[tokio::test]
async fn zero_limits_are_refused() {
    let cache = common::memory_cache().await;
    let err = LoginThrottle::new(
        cache,
        ThrottleSettings {
            lockout_secs: 0,
            ..settings()
        },
    )
    .unwrap_err();
    assert_eq!(err.context_value("key"), Some("auth.throttle.lockout_secs"));
}
