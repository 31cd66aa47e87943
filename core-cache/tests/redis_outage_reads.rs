//! `get_or_set` while Redis cannot answer: the loader serves instead of an
//! error, and an invalidation made during the outage is carried out when
//! Redis is back, so the entry that went stale does not survive it.
//!
//! This stops and pauses the shared Redis server, so it lives in a test
//! binary of its own (cargo runs test binaries one at a time).

#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use core_cache::{Cache, CacheSettings, connect};
use core_testkit::{Service, pause_redis, require_service, services_script, unique_name};

async fn read(cache: &Cache, key: &str, source: &str, loads: &AtomicU32) -> String {
    cache
        .get_or_set(key, Some(Duration::from_secs(300)), || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(source.to_owned())
        })
        .await
        .unwrap_or_else(|err| panic!("get_or_set failed instead of loading: {err}"))
}

async fn wait_for_redis(cache: &Cache) {
    for _ in 0..150 {
        if cache.set("probe", &1, None).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("Redis did not come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_redis_outage_and_no_stale_entry_outlives_it() {
    let url = require_service!(Service::Redis);
    if Service::Redis.first_address(&url) != "127.0.0.1:6379" {
        eprintln!("SKIPPED: REDIS_URL points at a server this test cannot stop");
        return;
    }
    let mut settings = CacheSettings::from_url(url.clone());
    settings.namespace = Some(unique_name("outage"));
    // Short attempts, so that the whole paused stretch below happens while
    // the server is still paused.
    settings.layers.timeout_ms = 200;
    settings.layers.retry_attempts = 1;
    let cache = connect(&settings).await.unwrap();
    let loads = Arc::new(AtomicU32::new(0));

    assert_eq!(read(&cache, "user:1", "v1", &loads).await, "v1");
    assert_eq!(read(&cache, "user:1", "unused", &loads).await, "v1");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the second read is a hit");

    // A server that hangs: the value changes in the database meanwhile.
    pause_redis(&url, 3_000);
    assert_eq!(read(&cache, "user:1", "v2", &loads).await, "v2");
    cache
        .invalidate("user:1")
        .await
        .expect("an invalidation is deferred, not failed");
    for _ in 0..3 {
        assert_eq!(read(&cache, "user:1", "v2", &loads).await, "v2");
    }
    wait_for_redis(&cache).await;
    // The deferred invalidation runs before the cache serves again: the
    // entry holding v1 must not come back.
    assert_eq!(read(&cache, "other", "x", &loads).await, "x");
    assert_eq!(cache.get::<String>("user:1").await.unwrap(), None);
    assert_eq!(read(&cache, "user:1", "v2", &loads).await, "v2");
    let before = loads.load(Ordering::SeqCst);
    assert_eq!(read(&cache, "user:1", "unused", &loads).await, "v2");
    assert_eq!(
        loads.load(Ordering::SeqCst),
        before,
        "cached again after the outage"
    );

    // A server that is gone.
    services_script("stop", "redis");
    let outage = async {
        for round in 0..5 {
            let value = format!("v3-{round}");
            assert_eq!(read(&cache, "user:2", &value, &loads).await, value);
        }
    };
    let bounded = tokio::time::timeout(Duration::from_secs(60), outage).await;
    services_script("start", "redis");
    bounded.expect("reads during the outage returned within the deadline");
    wait_for_redis(&cache).await;
    // The circuit closes within its open period: reads are cached again.
    let mut cached_again = false;
    for _ in 0..25 {
        assert_eq!(read(&cache, "user:2", "v4", &loads).await, "v4");
        if cache.get::<String>("user:2").await.unwrap().as_deref() == Some("v4") {
            cached_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(cached_again, "get_or_set never used Redis again");
}
