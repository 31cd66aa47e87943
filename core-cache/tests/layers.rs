//! Retry and timeout behave as documented: only temporary errors are
//! retried, never past the limit, never for non-idempotent calls, and a
//! timeout inside retry always ends.
//!
//! The backend here is a scripted test double: these tests are about the
//! layers, which must behave the same over any backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use core_cache::layers::{Layer, LayerSettings, RetryLayer, TimeoutLayer, stack};
use core_cache::{CacheBase, Capabilities, Error, ErrorKind, Result};
use core_testkit::{Captured, Recorded};

/// Fails its first `failures` calls with `error`, or sleeps `delay` per call.
#[derive(Debug)]
struct Scripted {
    calls: AtomicU32,
    failures: u32,
    error: fn() -> Error,
    delay: Duration,
}

impl Scripted {
    fn failing(failures: u32, error: fn() -> Error) -> Arc<Scripted> {
        Arc::new(Scripted {
            calls: AtomicU32::new(0),
            failures,
            error,
            delay: Duration::ZERO,
        })
    }

    fn slow(delay: Duration) -> Arc<Scripted> {
        Arc::new(Scripted {
            calls: AtomicU32::new(0),
            failures: 0,
            error: || Error::internal("unused"),
            delay,
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn answer<T>(&self, value: T) -> Result<T> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if call < self.failures {
            Err((self.error)())
        } else {
            Ok(value)
        }
    }
}

#[async_trait]
impl CacheBase for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>> {
        self.answer(Some(Bytes::from_static(b"1"))).await
    }
    async fn set(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<()> {
        self.answer(()).await
    }
    async fn set_if_absent(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<bool> {
        self.answer(true).await
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        self.answer(true).await
    }
    async fn exists(&self, _: &str) -> Result<bool> {
        self.answer(true).await
    }
    async fn expire(&self, _: &str, _: Duration) -> Result<bool> {
        self.answer(true).await
    }
    async fn incr(&self, _: &str, delta: i64) -> Result<i64> {
        self.answer(delta).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.answer(vec![None; keys.len()]).await
    }
    async fn set_many(&self, _: &[(String, Bytes)], _: Option<Duration>) -> Result<()> {
        self.answer(()).await
    }
    async fn delete_many(&self, _: &[String]) -> Result<u64> {
        self.answer(0).await
    }
    async fn compare_and_delete(&self, _: &str, _: &[u8]) -> Result<bool> {
        self.answer(true).await
    }
    async fn compare_and_expire(&self, _: &str, _: &[u8], _: Duration) -> Result<bool> {
        self.answer(true).await
    }
}

fn retry(attempts: u32) -> RetryLayer {
    RetryLayer {
        max_attempts: attempts,
        first_backoff: Duration::from_millis(1),
        ..RetryLayer::default()
    }
}

#[tokio::test]
async fn temporary_errors_are_retried_until_success() {
    let backend = Scripted::failing(2, || Error::unavailable("down"));
    let layered = retry(3).layer(backend.clone());
    assert!(layered.get("k").await.unwrap().is_some());
    assert_eq!(backend.calls(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_say_how_many_were_made() {
    let backend = Scripted::failing(100, || Error::unavailable("down"));
    let err = retry(4).layer(backend.clone()).get("k").await.unwrap_err();
    assert_eq!(backend.calls(), 4);
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.context_value("attempts"), Some("4"));
}

#[tokio::test]
async fn an_error_a_retry_layer_gave_up_on_is_not_retried_again_by_an_outer_one() {
    let backend = Scripted::failing(100, || Error::unavailable("down"));
    let twice = retry(3).layer(retry(3).layer(backend.clone()));
    let err = twice.get("k").await.unwrap_err();
    assert_eq!(backend.calls(), 3, "3 attempts, not 3 × 3");
    assert!(err.is_temporary() && err.retries_exhausted());
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let backend = Scripted::failing(100, || Error::invalid_input("bad"));
    let err = retry(5)
        .layer(backend.clone())
        .set("k", Bytes::new(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn non_idempotent_calls_are_not_retried() {
    let backend = Scripted::failing(1, || Error::timeout("maybe applied"));
    let err = retry(5)
        .layer(backend.clone())
        .incr("counter", 1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        backend.calls(),
        1,
        "a timed-out incr may have counted already"
    );
}

#[tokio::test]
async fn a_slow_call_times_out_as_a_temporary_error_naming_the_call() {
    let backend = Scripted::slow(Duration::from_secs(30));
    let layered = TimeoutLayer::new(Duration::from_millis(50)).layer(backend);
    let err = layered.get("user:1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_temporary());
    assert_eq!(err.context_value("operation"), Some("cache.get"));
    assert_eq!(err.context_value("key"), Some("user:1"));
}

#[tokio::test]
async fn timeout_inside_retry_bounds_the_whole_call() {
    let backend = Scripted::slow(Duration::from_secs(30));
    let settings = LayerSettings {
        timeout_ms: 50,
        retry_attempts: 3,
        retry_backoff_ms: 1,
        ..LayerSettings::default()
    };
    let layered = stack(backend.clone(), &settings);
    let started = Instant::now();
    let err = layered.get("k").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(backend.calls(), 3, "each attempt had its own deadline");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the loop ended: {:?}",
        started.elapsed()
    );
}

/// A compare-and-delete (a lock's release) that was applied but whose answer
/// timed out must not be retried: the retry would find the value gone, answer
/// false, and the lock would report itself lost. Same for compare-and-expire.
#[tokio::test]
async fn compare_and_swap_calls_are_not_retried() {
    let backend = Scripted::failing(1, || Error::timeout("maybe applied"));
    let err = retry(5)
        .layer(backend.clone())
        .compare_and_delete("lock", b"token")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(backend.calls(), 1);

    let backend = Scripted::failing(1, || Error::timeout("maybe applied"));
    let err = retry(5)
        .layer(backend.clone())
        .compare_and_expire("lock", b"token", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(backend.calls(), 1);
}

/// Runs `calls` on a backend wrapped by `stack` under a local recorder.
fn registered_by(backend: Arc<dyn CacheBase>) -> Vec<String> {
    recorded_by(backend).names()
}

/// What a local recorder saw of a few calls on a backend wrapped by `stack`:
/// a miss, a set and three hits.
fn recorded_by(backend: Arc<dyn CacheBase>) -> Recorded {
    let recorder = Recorded::default();
    let layered = stack(backend, &LayerSettings::default());
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let _ = layered.get("absent").await;
                let _ = layered.set("present", Bytes::from_static(b"1"), None).await;
                for _ in 0..3 {
                    let _ = layered.get("present").await;
                }
            });
    });
    recorder
}

#[cfg(feature = "memory")]
#[test]
fn in_process_calls_are_counted_with_hits_and_misses_but_not_timed() {
    let memory = core_cache::backends::memory::MemoryBackend::new(
        &core_cache::backends::memory::MemorySettings::default(),
    );
    let names = registered_by(Arc::new(memory));
    for expected in [
        "cache_requests_total{backend=memory,operation=cache.get,outcome=miss}",
        "cache_requests_total{backend=memory,operation=cache.set,outcome=ok}",
        "cache_requests_total{backend=memory,operation=cache.get,outcome=hit}",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names
            .iter()
            .any(|name| name.starts_with("cache_request_duration_seconds")),
        "an in-process call was timed: {names:?}"
    );
}

#[cfg(feature = "memory")]
#[test]
fn every_call_is_counted_once_in_its_series() {
    let memory = core_cache::backends::memory::MemoryBackend::new(
        &core_cache::backends::memory::MemorySettings::default(),
    );
    let recorder = recorded_by(Arc::new(memory));
    for (series, calls) in [
        (
            "cache_requests_total{backend=memory,operation=cache.get,outcome=miss}",
            1,
        ),
        (
            "cache_requests_total{backend=memory,operation=cache.set,outcome=ok}",
            1,
        ),
        (
            "cache_requests_total{backend=memory,operation=cache.get,outcome=hit}",
            3,
        ),
    ] {
        assert_eq!(recorder.counted(series), calls, "{series}");
    }
}

#[test]
fn calls_to_a_shared_backend_are_counted_and_timed() {
    let names = registered_by(Scripted::failing(0, || Error::unavailable("down")));
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("cache_requests_total{backend=scripted"))
    );
    assert!(
        names
            .iter()
            .any(|name| name
                == "cache_request_duration_seconds{backend=scripted,operation=cache.get}"),
        "{names:?}"
    );
}

/// The memory backend runs its tracing and counts inside its own calls
/// (`CacheBase::observed`): a batch must still count as one batch call, not
/// also as one call per key through the single-key operations it reuses.
#[cfg(feature = "memory")]
#[test]
fn an_in_process_batch_is_counted_once_as_the_batch() {
    let memory = core_cache::backends::memory::MemoryBackend::new(
        &core_cache::backends::memory::MemorySettings::default(),
    );
    let recorder = Recorded::default();
    let layered = stack(Arc::new(memory), &LayerSettings::default());
    let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let entries: Vec<(String, Bytes)> = keys
        .iter()
        .map(|key| (key.clone(), Bytes::from_static(b"1")))
        .collect();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(async {
                layered.set_many(&entries, None).await.unwrap();
                layered.get_many(&keys).await.unwrap();
                layered.delete_many(&keys).await.unwrap();
            });
    });
    for (series, calls) in [
        (
            "cache_requests_total{backend=memory,operation=cache.set_many,outcome=ok}",
            1,
        ),
        (
            "cache_requests_total{backend=memory,operation=cache.get_many,outcome=ok}",
            1,
        ),
        (
            "cache_requests_total{backend=memory,operation=cache.delete_many,outcome=ok}",
            1,
        ),
    ] {
        assert_eq!(recorder.counted(series), calls, "{series}");
    }
    let names = recorder.names();
    assert!(
        !names
            .iter()
            .any(|name| name.contains("operation=cache.get,")
                || name.contains("operation=cache.set,")
                || name.contains("operation=cache.delete,")),
        "a batch was also counted key by key: {names:?}"
    );
}

/// An in-process call's failure is logged inside its `cache` span, which
/// names the operation, the backend and the key, as the wrapping layers do
/// for backends that do I/O.
#[cfg(feature = "memory")]
#[tokio::test]
async fn an_in_process_failure_is_logged_in_the_calls_span() {
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::DEBUG);
    let _guard = tracing::subscriber::set_default(subscriber);
    let memory = core_cache::backends::memory::MemoryBackend::new(
        &core_cache::backends::memory::MemorySettings::default(),
    );
    let layered = stack(Arc::new(memory), &LayerSettings::default());
    layered
        .push(
            "a-list",
            core_cache::ListEnd::Back,
            &[Bytes::from_static(b"x")],
        )
        .await
        .unwrap();
    let err = layered.get("a-list").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let log = captured.text();
    let line = log
        .lines()
        .find(|line| line.contains("cache call failed"))
        .unwrap_or_else(|| panic!("no failure logged: {log}"));
    for field in [
        "operation=\"cache.get\"",
        "backend=\"memory\"",
        "key=\"a-list\"",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
