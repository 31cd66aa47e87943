//! Redis shut down and started again under a live client: calls fail fast
//! with a temporary error, nothing panics, and the same client recovers.
//!
//! This stops the shared Redis server, so it lives in a test binary of its
//! own (cargo runs test binaries one at a time).

use std::time::Duration;

use core_cache::{CacheSettings, ErrorKind, connect};
use core_testkit::{Service, require_service, services_script, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_redis_gives_temporary_errors_then_the_same_client_recovers() {
    let url = require_service!(Service::Redis);
    if Service::Redis.first_address(&url) != "127.0.0.1:6379" {
        eprintln!("SKIPPED: REDIS_URL points at a server this test cannot restart");
        return;
    }
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(unique_name("restart"));
    let cache = connect(&settings).await.unwrap();
    cache.set("before", &1, None).await.unwrap();

    services_script("stop", "redis");
    let outage = async {
        for round in 0..3 {
            let failures = [
                cache.get::<i32>("before").await.map(drop),
                cache.set("during", &round, None).await,
                cache.incr("counter", 1).await.map(drop),
            ];
            for failure in failures {
                let err = failure.expect_err("a call while Redis is down must fail");
                assert!(
                    matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
                    "unexpected kind: {err}"
                );
                assert!(err.is_temporary(), "an outage is worth retrying: {err}");
            }
        }
    };
    // Bounded: the client must not hang while the server is gone.
    let bounded = tokio::time::timeout(Duration::from_secs(60), outage).await;
    services_script("start", "redis");
    bounded.expect("calls during the outage returned within the deadline");

    let mut recovered = false;
    for _ in 0..100 {
        if cache.set("after", &2, None).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the same client works again after Redis is back");
    assert_eq!(cache.get::<i32>("after").await.unwrap(), Some(2));
}
