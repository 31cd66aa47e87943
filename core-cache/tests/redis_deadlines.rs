//! A Redis that stops answering: a call fails with a timeout at the first
//! deadline that applies, whether the timeout layer's or, with the layer
//! off, the driver's own (`cache.redis.response_timeout_ms`). `connect`
//! leaves the driver's deadline off when the layer's comes first, so this
//! checks that a deadline still holds either way.
//!
//! This pauses the shared Redis server, so it lives in a test binary of its
//! own (cargo runs test binaries one at a time).

#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use core_cache::{Cache, CacheSettings, connect};
use core_error::ErrorKind;
use core_testkit::{Service, pause_redis, require_service, unique_name};

/// Connects with the layer's and the driver's deadlines (0: off), with no
/// retry, and checks the connection answers.
async fn cache_with(url: &str, layer_ms: u64, driver_ms: u64) -> Cache {
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(unique_name("deadlines"));
    settings.layers.timeout_ms = layer_ms;
    settings.layers.retry_attempts = 1;
    settings.redis.response_timeout_ms = driver_ms;
    let cache = connect(&settings).await.unwrap();
    cache.set("k", &1, None).await.unwrap();
    cache
}

/// How long a read waits on the paused server, and what it fails with.
async fn read_while_paused(cache: &Cache, url: &str) -> (Duration, ErrorKind) {
    pause_redis(url, 2_000);
    let started = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(10), cache.get::<u32>("k")).await;
    let waited = started.elapsed();
    let error = read
        .expect("no deadline ended the read")
        .expect_err("the paused server answered");
    // Let the pause end before the next case or test binary uses Redis.
    tokio::time::sleep(Duration::from_millis(2_100).saturating_sub(waited)).await;
    (waited, error.kind())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_fails_a_call_at_the_first_deadline_layer_or_driver() {
    let url = require_service!(Service::Redis);
    if Service::Redis.first_address(&url) != "127.0.0.1:6379" {
        eprintln!("SKIPPED: REDIS_URL points at a server this test cannot pause");
        return;
    }

    // The layer's deadline comes first: the driver's (5 s) is left off.
    let layered = cache_with(&url, 200, 5_000).await;
    let (waited, kind) = read_while_paused(&layered, &url).await;
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(waited < Duration::from_millis(1_500), "waited {waited:?}");

    // No layer deadline: the driver's own ends the call.
    let bare = cache_with(&url, 0, 200).await;
    let (waited, kind) = read_while_paused(&bare, &url).await;
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(waited < Duration::from_millis(1_500), "waited {waited:?}");
}
