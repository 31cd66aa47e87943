//! Two processes' tiered caches over one Redis: a write or delete through
//! one drops the value from the other's L1.

use std::time::Duration;

use core_cache::{Cache, CacheSettings, TieredSettings, connect};
use core_testkit::{Service, require_service, unique_name};

async fn instance(url: &str, namespace: &str) -> Cache {
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(namespace.to_string());
    // Long enough that only an invalidation can explain a fresh read.
    settings.tiered = Some(TieredSettings {
        l1_ttl_ms: 600_000,
        ..TieredSettings::default()
    });
    connect(&settings).await.unwrap()
}

async fn eventually_reads(cache: &Cache, key: &str, expected: Option<i32>) -> bool {
    for _ in 0..50 {
        if cache.get::<i32>(key).await.unwrap() == expected {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_deletes_invalidate_the_other_instances_l1() {
    let url = require_service!(Service::Redis);
    let namespace = unique_name("tiered");
    let a = instance(&url, &namespace).await;
    let b = instance(&url, &namespace).await;

    a.set("price", &10, None).await.unwrap();
    assert_eq!(
        b.get::<i32>("price").await.unwrap(),
        Some(10),
        "b reads through to L2"
    );

    // b now serves "price" from its L1; without an invalidation it would for 10 minutes.
    a.set("price", &12, None).await.unwrap();
    assert!(
        eventually_reads(&b, "price", Some(12)).await,
        "b saw the update"
    );

    a.delete("price").await.unwrap();
    assert!(
        eventually_reads(&b, "price", None).await,
        "b saw the delete"
    );

    for i in 0..5 {
        a.set(&format!("item:{i}"), &i, None).await.unwrap();
        assert_eq!(b.get::<i32>(&format!("item:{i}")).await.unwrap(), Some(i));
    }
    a.delete_prefix("item:").await.unwrap();
    for i in 0..5 {
        assert!(
            eventually_reads(&b, &format!("item:{i}"), None).await,
            "b saw the prefix delete"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_in_another_namespace_is_not_disturbed() {
    let url = require_service!(Service::Redis);
    let a = instance(&url, &unique_name("tiered_a")).await;
    let b = instance(&url, &unique_name("tiered_b")).await;
    a.set("k", &1, None).await.unwrap();
    b.set("k", &2, None).await.unwrap();
    assert_eq!(a.get::<i32>("k").await.unwrap(), Some(1));
    assert_eq!(b.get::<i32>("k").await.unwrap(), Some(2));
}
