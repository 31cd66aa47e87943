//! Picking a backend by URL scheme, and each backend's own settings section.

use core_cache::{CacheSettings, ErrorKind, connect};

#[tokio::test]
async fn an_unknown_scheme_lists_the_schemes_compiled_in() {
    let err = connect(&CacheSettings::from_url("carrier-pigeon://loft:1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("\"carrier-pigeon\"") && text.contains("cache.url"),
        "{text}"
    );
    for (feature, scheme) in [
        (cfg!(feature = "memory"), "memory://"),
        (cfg!(feature = "redis"), "rediss://"),
        (cfg!(feature = "redis-cluster"), "redis-cluster://"),
        (cfg!(feature = "memcached"), "memcached://"),
    ] {
        assert_eq!(text.contains(scheme), feature, "{scheme} in {text}");
    }
}

#[cfg(not(feature = "memcached"))]
#[tokio::test]
async fn a_backend_compiled_out_names_the_feature_that_adds_it() {
    let err = connect(&CacheSettings::from_url("memcached://127.0.0.1:11211"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("feature `memcached`"), "{err}");
}

#[test]
fn each_backend_reads_its_own_section() {
    let settings: CacheSettings = serde_json::from_str(
        r#"{
            "url": "memcached://127.0.0.1:11211",
            "memcached": {"pool_size": 4, "wait_timeout_ms": 250},
            "redis": {"connect_timeout_ms": 500, "response_timeout_ms": 750}
        }"#,
    )
    .unwrap();
    assert_eq!(settings.memcached.pool_size, 4);
    assert_eq!(settings.memcached.wait_timeout_ms, 250);
    assert_eq!(settings.redis.response_timeout_ms, 750);
}

#[test]
fn the_old_top_level_pool_size_is_refused_by_name() {
    let err = serde_json::from_str::<CacheSettings>(r#"{"pool_size": 4}"#).unwrap_err();
    assert!(err.to_string().contains("pool_size"), "{err}");
}
