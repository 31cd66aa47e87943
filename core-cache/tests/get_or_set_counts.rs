//! What `get_or_set` asks the backend, and which TTL it stores with: one
//! `get` per miss (the metrics layer counts each `get`, so a second one
//! recorded every miss twice), and `cache.default_ttl_ms` applied to values
//! stored without a TTL; and that the loader's future is not carried
//! by every call (hits are most of them).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_cache::backends::memory::{MemoryBackend, MemorySettings};
use core_cache::{Cache, CacheBase, CacheSettings, Capabilities, Result, Ttl, connect};

/// The in-memory backend, counting the reads made of it.
#[derive(Debug)]
struct CountingReads {
    inner: MemoryBackend,
    gets: AtomicU32,
}

#[async_trait]
impl CacheBase for CountingReads {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool> {
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool> {
        self.inner.exists(key).await
    }
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.inner.expire(key, ttl).await
    }
    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        self.inner.incr(key, delta).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.inner.get_many(keys).await
    }
    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        self.inner.set_many(entries, ttl).await
    }
    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        self.inner.delete_many(keys).await
    }
}

#[tokio::test]
async fn a_miss_reads_the_backend_once_and_a_hit_once() {
    let backend = Arc::new(CountingReads {
        inner: MemoryBackend::new(&MemorySettings::default()),
        gets: AtomicU32::new(0),
    });
    let cache = Cache::new(backend.clone());
    for key in ["a", "b", "c"] {
        let value: u32 = cache
            .get_or_set(key, None, || async { Ok(7) })
            .await
            .unwrap();
        assert_eq!(value, 7);
    }
    assert_eq!(
        backend.gets.load(Ordering::SeqCst),
        3,
        "three misses, one read each"
    );
    let _: u32 = cache
        .get_or_set("a", None, || async { Ok(8) })
        .await
        .unwrap();
    assert_eq!(backend.gets.load(Ordering::SeqCst), 4, "a hit is one read");
}

#[tokio::test]
async fn concurrent_misses_of_one_key_load_once() {
    let cache = Cache::new(Arc::new(MemoryBackend::new(&MemorySettings::default())));
    let loads = Arc::new(AtomicU32::new(0));
    let calls = (0..16).map(|_| {
        let loads = loads.clone();
        let cache = cache.clone();
        async move {
            cache
                .get_or_set("shared", None, || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(1_u32)
                })
                .await
        }
    });
    for value in futures::future::join_all(calls).await {
        assert_eq!(value.unwrap(), 1);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_configured_default_ttl_applies_to_values_stored_without_one() {
    let mut settings = CacheSettings::from_url("memory://");
    settings.default_ttl_ms = Some(60_000);
    let cache = connect(&settings).await.unwrap();
    cache.set("plain", &1, None).await.unwrap();
    let _: u32 = cache
        .get_or_set("loaded", None, || async { Ok(2) })
        .await
        .unwrap();
    cache
        .set("explicit", &3, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    for (key, at_most) in [("plain", 60), ("loaded", 66), ("explicit", 5)] {
        match cache.ttl(key).await.unwrap() {
            Ttl::ExpiresIn(ttl) => assert!(ttl <= Duration::from_secs(at_most), "{key}: {ttl:?}"),
            other => panic!("{key} should expire, got {other:?}"),
        }
    }
    let unbounded = connect(&CacheSettings::from_url("memory://"))
        .await
        .unwrap();
    unbounded.set("plain", &1, None).await.unwrap();
    assert!(!matches!(
        unbounded.ttl("plain").await.unwrap(),
        Ttl::ExpiresIn(_)
    ));
}

#[tokio::test]
async fn fetch_tells_a_hit_from_a_load_and_a_remembered_absence_from_a_fresh_one() {
    use core_cache::FetchedFrom;

    let cache = Cache::builder(Arc::new(MemoryBackend::new(&MemorySettings::default())))
        .negative_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = cache
        .fetch("user:1", None, || async { Ok(Some(7_u32)) })
        .await
        .unwrap();
    assert_eq!((first.value, first.from), (Some(7), FetchedFrom::Loader));
    let second = cache
        .fetch("user:1", None, || async { Ok(Some(8_u32)) })
        .await
        .unwrap();
    assert_eq!((second.value, second.from), (Some(7), FetchedFrom::Cache));

    let absent = cache
        .fetch::<u32, _, _>("user:2", None, || async { Ok(None) })
        .await
        .unwrap();
    assert_eq!((absent.value, absent.from), (None, FetchedFrom::Loader));
    let remembered = cache
        .fetch("user:2", None, || async { Ok(Some(9_u32)) })
        .await
        .unwrap();
    assert_eq!(
        (remembered.value, remembered.from),
        (None, FetchedFrom::Cache)
    );
}

/// A loader whose future holds a few kilobytes across its wait, as a
/// database query's does.
async fn heavy_load() -> Result<u64> {
    let buffer = [7u8; 4096];
    tokio::task::yield_now().await;
    Ok(u64::from(buffer[4095]))
}

#[tokio::test]
async fn the_loaders_future_does_not_weigh_on_every_call() {
    let cache = Cache::new(Arc::new(MemoryBackend::new(&MemorySettings::default())));
    let call = cache.get_or_set("user:1", None, heavy_load);
    let bytes = std::mem::size_of_val(&call);
    assert!(
        bytes < 2048,
        "get_or_set's future takes {bytes} bytes with a 4 KiB loader: hits carry the loader's space"
    );
    assert_eq!(call.await.unwrap(), 7);
}
