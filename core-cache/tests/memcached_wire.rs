//! What a Memcached connection must survive so that the next call on it
//! reads its own reply: a call dropped half-way (a timeout), a refused
//! value, a bad counter, a bad key. One connection (`pool_size = 1`), so
//! every call meets what the one before left.

use std::time::Duration;

use bytes::Bytes;
use core_cache::CacheBase as _;
use core_cache::backends::memcached::{MemcachedBackend, MemcachedConfig};
use core_testkit::{Service, require_service, unique_name};
use futures::FutureExt as _;

async fn one_connection() -> Option<MemcachedBackend> {
    let url = require_service!(Service::Memcached, None);
    let mut config = MemcachedConfig::new(Service::Memcached.first_address(&url));
    config.pool_size = 1;
    Some(MemcachedBackend::connect(&config).await.unwrap())
}

/// `key` holds `value` and the connection still answers in step.
async fn still_in_step(backend: &MemcachedBackend, key: &str) {
    backend
        .set(key, Bytes::from_static(b"in step"), None)
        .await
        .unwrap();
    assert_eq!(
        backend.get(key).await.unwrap().as_deref(),
        Some(&b"in step"[..])
    );
}

#[tokio::test]
async fn a_call_dropped_before_its_reply_leaves_nothing_for_the_next_call() {
    let Some(backend) = one_connection().await else {
        return;
    };
    let prefix = unique_name("cancel");
    for round in 0..20 {
        let (dropped, next) = (format!("{prefix}:a{round}"), format!("{prefix}:b{round}"));
        backend
            .set(&dropped, Bytes::from("the dropped call's value"), None)
            .await
            .unwrap();
        backend
            .set(&next, Bytes::from(format!("value {round}")), None)
            .await
            .unwrap();
        // Polled once, then dropped (as a timeout would): the command has
        // gone out, its reply has not come back yet.
        assert!(backend.get(&dropped).now_or_never().is_none());
        let read = backend.get(&next).await.unwrap();
        assert_eq!(
            read.as_deref(),
            Some(format!("value {round}").as_bytes()),
            "round {round}: the next call read another call's reply"
        );
    }
}

#[tokio::test]
async fn a_value_over_the_item_size_limit_is_refused_and_not_read_as_commands() {
    let Some(backend) = one_connection().await else {
        return;
    };
    let key = unique_name("too-large");
    // Memcached's default item limit is 1 MiB. Were the value not skipped,
    // the server would read it as command lines: the harmless `mn` in it
    // would answer the next call.
    let mut value = b"mn\r\n".to_vec();
    value.resize(2 * 1024 * 1024, b'x');
    let err = backend
        .set(&key, Bytes::from(value), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), core_cache::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("item size limit"), "{err}");
    still_in_step(&backend, &key).await;
}

#[tokio::test]
async fn a_counter_over_a_value_that_is_no_number_is_refused() {
    let Some(backend) = one_connection().await else {
        return;
    };
    let key = unique_name("not-a-number");
    backend
        .set(&key, Bytes::from_static(b"abc"), None)
        .await
        .unwrap();
    let err = backend.incr(&key, 1).await.unwrap_err();
    assert_eq!(err.kind(), core_cache::ErrorKind::InvalidInput, "{err}");
    still_in_step(&backend, &key).await;
}

#[tokio::test]
async fn empty_and_over_long_keys_are_refused_before_anything_is_sent() {
    let Some(backend) = one_connection().await else {
        return;
    };
    // A value that is a command storing `marker`: a server that refused
    // the key's line without reading the value would run it.
    let marker = unique_name("injected");
    let value = Bytes::from(format!("ms {marker} 8\r\ninjected"));
    for key in [String::new(), "k".repeat(251)] {
        let err = backend.set(&key, value.clone(), None).await.unwrap_err();
        assert_eq!(err.kind(), core_cache::ErrorKind::InvalidInput, "{err}");
        assert!(backend.get(&key).await.is_err());
    }
    assert_eq!(backend.get(&marker).await.unwrap(), None, "the value ran");
    still_in_step(&backend, &unique_name("after-bad-keys")).await;
}

#[tokio::test]
async fn an_expiry_past_2038_keeps_the_value_instead_of_expiring_it() {
    let Some(backend) = one_connection().await else {
        return;
    };
    let key = unique_name("long-ttl");
    let twenty_years = Duration::from_secs(20 * 365 * 24 * 60 * 60);
    backend
        .set(&key, Bytes::from_static(b"kept"), Some(twenty_years))
        .await
        .unwrap();
    assert_eq!(
        backend.get(&key).await.unwrap().as_deref(),
        Some(&b"kept"[..])
    );
}
