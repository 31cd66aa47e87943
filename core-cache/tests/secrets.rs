//! A password planted in a cache URL never shows in Debug output or errors.

use std::time::Duration;

use core_cache::backends::redis::RedisConfig;
use core_cache::{CacheSettings, TieredSettings, connect};
use core_testkit::{Service, require_service};

const SECRET: &str = "pl4nted-CACHE-s3cret";

fn assert_hidden(shown: &str) {
    assert!(!shown.contains(SECRET), "the secret leaked: {shown}");
}

#[test]
fn settings_and_configs_hide_the_password() {
    let json = format!(
        r#"{{"url": "redis://app:{SECRET}@cache.internal:6379/0",
            "tiered": {{"invalidation_url": "redis://:{SECRET}@bus:6379"}}}}"#
    );
    let settings: CacheSettings = serde_json::from_str(&json).unwrap();
    assert_hidden(&format!("{settings:?}"));
    assert_hidden(&format!("{settings:#?}"));
    assert!(format!("{settings:?}").contains("cache.internal:6379"));
    let tiered = TieredSettings::default();
    assert_hidden(&format!("{tiered:?}"));
    assert_hidden(&format!(
        "{:?}",
        RedisConfig::new(format!("redis://:{SECRET}@h:1"))
    ));
}

#[tokio::test]
async fn connection_errors_hide_the_password() {
    // Nothing listens on port 1: the connection is refused.
    let unreachable = CacheSettings::from_url(format!("redis://app:{SECRET}@127.0.0.1:1/0"));
    let err = connect(&unreachable)
        .await
        .expect_err("nothing listens there");
    assert_hidden(&err.to_string());
    assert_hidden(&format!("{err:?}"));
    assert!(err.is_temporary(), "{err}");
}

#[cfg(feature = "redis-cluster")]
#[tokio::test]
async fn cluster_connection_errors_hide_the_password() {
    let unreachable = CacheSettings::from_url(format!(
        "redis-cluster://app:{SECRET}@127.0.0.1:1,127.0.0.1:2"
    ));
    let err = connect(&unreachable)
        .await
        .expect_err("nothing listens there");
    assert_hidden(&err.to_string());
    assert_hidden(&format!("{err:?}"));
    assert!(err.is_temporary(), "{err}");
    let malformed = CacheSettings::from_url(format!("redis-cluster://app:{SECRET}@h1:1/2"));
    let err = connect(&malformed)
        .await
        .expect_err("a cluster has no db 2");
    assert_eq!(err.kind(), core_cache::ErrorKind::InvalidInput, "{err}");
    assert_hidden(&format!("{err:?}"));
}

#[tokio::test]
async fn authentication_errors_hide_the_password() {
    let url = require_service!(Service::Redis);
    let address = Service::Redis.first_address(&url);
    // The test server has no password, so sending one is rejected.
    let mut settings = CacheSettings::from_url(format!("redis://default:{SECRET}@{address}"));
    settings.layers.timeout_ms = 5_000;
    let outcome = tokio::time::timeout(Duration::from_secs(30), connect(&settings))
        .await
        .unwrap();
    if let Err(err) = outcome {
        assert_hidden(&err.to_string());
        assert_hidden(&format!("{err:?}"));
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            assert_hidden(&cause.to_string());
            source = cause.source();
        }
    }
}

#[test]
fn malformed_settings_name_the_culprit() {
    let err = serde_json::from_str::<CacheSettings>(r#"{"urll": "memory://"}"#).unwrap_err();
    assert!(err.to_string().contains("urll"), "{err}");
}

#[tokio::test]
async fn unknown_schemes_are_rejected_with_the_allowed_list() {
    let err = connect(&CacheSettings::from_url("mongodb://x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), core_cache::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("\"mongodb\""), "{err}");
    assert!(err.to_string().contains("redis://"), "{err}");
}
