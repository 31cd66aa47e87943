//! `Cache`'s own rules, the same over every backend (shown on the in-memory
//! one): settings refused naming their key, requests that would do harm
//! refused, and a cached value that no longer decodes reloaded.

use core_cache::{Cache, CacheSettings, ErrorKind, connect};

async fn memory(change: impl FnOnce(&mut CacheSettings)) -> core_cache::Result<Cache> {
    let mut settings = CacheSettings::from_url("memory://");
    change(&mut settings);
    connect(&settings).await
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_key() {
    for (key, change) in [
        (
            "cache.max_value_bytes",
            Box::new(|s: &mut CacheSettings| s.max_value_bytes = 0) as Box<dyn FnOnce(&mut _)>,
        ),
        (
            "cache.ttl_jitter",
            Box::new(|s: &mut CacheSettings| s.ttl_jitter = 0.9),
        ),
        (
            "cache.ttl_jitter",
            Box::new(|s: &mut CacheSettings| s.ttl_jitter = -0.1),
        ),
    ] {
        let err = memory(change).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains(key), "{key}: {err}");
    }
}

#[tokio::test]
async fn emptying_a_whole_server_by_prefix_is_refused() {
    let cache = memory(|_| {}).await.unwrap();
    cache.set("kept", &1, None).await.unwrap();
    let err = cache.delete_prefix("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(cache.exists("kept").await.unwrap());

    // Inside a namespace the empty prefix means "this namespace only".
    let namespaced = memory(|s| s.namespace = Some("tenant".to_string()))
        .await
        .unwrap();
    namespaced.set("a", &1, None).await.unwrap();
    assert_eq!(namespaced.delete_prefix("").await.unwrap(), 1);
}

#[tokio::test]
async fn a_decrement_that_cannot_be_negated_is_refused() {
    let cache = memory(|_| {}).await.unwrap();
    let err = cache.decr("counter", i64::MIN).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("counter"), "{err}");
    assert_eq!(cache.get::<i64>("counter").await.unwrap(), None);
}

#[tokio::test]
async fn a_cached_value_of_an_older_shape_is_reloaded_and_replaced() {
    let cache = memory(|_| {}).await.unwrap();
    cache.set("user:1", &"an older shape", None).await.unwrap();
    let loaded: u32 = cache
        .get_or_set("user:1", None, || async { Ok(7) })
        .await
        .unwrap();
    assert_eq!(loaded, 7);
    assert_eq!(cache.get::<u32>("user:1").await.unwrap(), Some(7));
}
