//! A Memcached call dropped half-way (a timeout) must not leave its reply on
//! the connection for the next call to read as its own.

use bytes::Bytes;
use core_cache::CacheBase as _;
use core_cache::backends::memcached::{MemcachedBackend, MemcachedConfig};
use core_testkit::{Service, require_service, unique_name};
use futures::FutureExt as _;

#[tokio::test]
async fn a_call_dropped_before_its_reply_leaves_nothing_for_the_next_call() {
    let url = require_service!(Service::Memcached);
    let mut config = MemcachedConfig::new(Service::Memcached.first_address(&url));
    // One connection: every call meets what the dropped one left.
    config.pool_size = 1;
    let backend = MemcachedBackend::connect(&config).await.unwrap();
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
