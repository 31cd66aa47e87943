//! The standard layers cost a call one small allocation however many are
//! on: they nest into one future instead of boxing one per layer, and that
//! future stays small enough for the allocator's fast path.
//!
//! Its own test binary, with one test: it counts every allocation of the
//! process.

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_cache::layers::{LayerSettings, stack};
use core_cache::{CacheBase, Capabilities, Result};
use core_testkit::THREAD_CACHE_LIMIT;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A backend that does I/O (so it gets every layer) and answers at once.
#[derive(Debug)]
struct Answering;

#[async_trait]
impl CacheBase for Answering {
    fn name(&self) -> &'static str {
        "answering"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    async fn get(&self, _: &str) -> Result<Option<Bytes>> {
        Ok(None)
    }
    async fn set(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<()> {
        Ok(())
    }
    async fn set_if_absent(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<bool> {
        Ok(true)
    }
    async fn delete(&self, _: &str) -> Result<bool> {
        Ok(false)
    }
    async fn exists(&self, _: &str) -> Result<bool> {
        Ok(false)
    }
    async fn expire(&self, _: &str, _: Duration) -> Result<bool> {
        Ok(false)
    }
    async fn incr(&self, _: &str, delta: i64) -> Result<i64> {
        Ok(delta)
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        Ok(vec![None; keys.len()])
    }
    async fn set_many(&self, _: &[(String, Bytes)], _: Option<Duration>) -> Result<()> {
        Ok(())
    }
    async fn delete_many(&self, _: &[String]) -> Result<u64> {
        Ok(0)
    }
    async fn compare_and_delete(&self, _: &str, _: &[u8]) -> Result<bool> {
        Ok(false)
    }
    async fn compare_and_expire(&self, _: &str, _: &[u8], _: Duration) -> Result<bool> {
        Ok(false)
    }
}

/// The allocations one `get` on `backend` makes, and their bytes, after a
/// first call that makes the metrics handles.
fn allocations_of_a_get(
    runtime: &tokio::runtime::Runtime,
    backend: &Arc<dyn CacheBase>,
) -> (usize, usize) {
    runtime.block_on(backend.get("k")).unwrap();
    let region = Region::new(GLOBAL);
    runtime.block_on(backend.get("k")).unwrap();
    let change = region.change();
    (change.allocations, change.bytes_allocated)
}

#[test]
fn the_standard_layers_add_one_small_allocation_to_a_call() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let bare: Arc<dyn CacheBase> = Arc::new(Answering);
    let layered = stack(Arc::new(Answering), &LayerSettings::default());
    let ((bare, bare_bytes), (layered, layered_bytes)) = (
        allocations_of_a_get(&runtime, &bare),
        allocations_of_a_get(&runtime, &layered),
    );
    assert_eq!(
        layered - bare,
        1,
        "timeout, retry, tracing and metrics: {layered} allocations against {bare} without them"
    );
    let future = layered_bytes - bare_bytes;
    assert!(
        future <= THREAD_CACHE_LIMIT,
        "the layers' future takes {future} bytes, over the allocator's thread cache"
    );
}
