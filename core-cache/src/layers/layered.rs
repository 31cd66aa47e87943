//! Runs an interceptor around every operation of a backend.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_error::Result;

use super::{Call, Interceptor};
use crate::{CacheBase, Capabilities, ListEnd, Ttl};

/// A backend with an [`Interceptor`] around each of its operations.
#[derive(Debug)]
pub struct Layered<I> {
    inner: Arc<dyn CacheBase>,
    interceptor: I,
}

impl<I: Interceptor> Layered<I> {
    /// Wraps `inner` in `interceptor`.
    pub fn new(inner: Arc<dyn CacheBase>, interceptor: I) -> Layered<I> {
        Layered { inner, interceptor }
    }

    fn call<'a>(&self, operation: &'static str, key: &'a str, idempotent: bool) -> Call<'a> {
        Call {
            backend: self.inner.name(),
            operation,
            key,
            idempotent,
        }
    }
}

fn first(keys: &[String]) -> &str {
    keys.first().map_or("", String::as_str)
}

#[async_trait]
impl<I: Interceptor> CacheBase for Layered<I> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let call = self.call("cache.get", key, true);
        self.interceptor
            .around(&call, &|| self.inner.get(key))
            .await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let call = self.call("cache.set", key, true);
        self.interceptor
            .around(&call, &|| self.inner.set(key, value.clone(), ttl))
            .await
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        // Not idempotent: a retry after an applied first attempt answers false.
        let call = self.call("cache.set_if_absent", key, false);
        self.interceptor
            .around(&call, &|| self.inner.set_if_absent(key, value.clone(), ttl))
            .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let call = self.call("cache.delete", key, true);
        self.interceptor
            .around(&call, &|| self.inner.delete(key))
            .await
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let call = self.call("cache.exists", key, true);
        self.interceptor
            .around(&call, &|| self.inner.exists(key))
            .await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let call = self.call("cache.expire", key, true);
        self.interceptor
            .around(&call, &|| self.inner.expire(key, ttl))
            .await
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        let call = self.call("cache.ttl", key, true);
        self.interceptor
            .around(&call, &|| self.inner.ttl(key))
            .await
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        let call = self.call("cache.incr", key, false);
        self.interceptor
            .around(&call, &|| self.inner.incr(key, delta))
            .await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let call = self.call("cache.get_many", first(keys), true);
        self.interceptor
            .around(&call, &|| self.inner.get_many(keys))
            .await
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        let key = entries.first().map_or("", |(key, _)| key.as_str());
        let call = self.call("cache.set_many", key, true);
        self.interceptor
            .around(&call, &|| self.inner.set_many(entries, ttl))
            .await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let call = self.call("cache.delete_many", first(keys), true);
        self.interceptor
            .around(&call, &|| self.inner.delete_many(keys))
            .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let call = self.call("cache.delete_prefix", prefix, true);
        self.interceptor
            .around(&call, &|| self.inner.delete_prefix(prefix))
            .await
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        // Not idempotent: a retry after an applied first attempt finds the
        // value gone and answers false (a released lock would read as lost).
        let call = self.call("cache.compare_and_delete", key, false);
        self.interceptor
            .around(&call, &|| self.inner.compare_and_delete(key, expected))
            .await
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        // Not idempotent for the same reason: its answer may have been lost.
        let call = self.call("cache.compare_and_expire", key, false);
        self.interceptor
            .around(&call, &|| self.inner.compare_and_expire(key, expected, ttl))
            .await
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<bool> {
        let call = self.call("cache.hset", key, true);
        self.interceptor
            .around(&call, &|| self.inner.hset(key, field, value.clone()))
            .await
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>> {
        let call = self.call("cache.hget", key, true);
        self.interceptor
            .around(&call, &|| self.inner.hget(key, field))
            .await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>> {
        let call = self.call("cache.hgetall", key, true);
        self.interceptor
            .around(&call, &|| self.inner.hgetall(key))
            .await
    }

    async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        let call = self.call("cache.hdel", key, true);
        self.interceptor
            .around(&call, &|| self.inner.hdel(key, field))
            .await
    }

    async fn push(&self, key: &str, end: ListEnd, values: &[Bytes]) -> Result<u64> {
        let call = self.call("cache.push", key, false);
        self.interceptor
            .around(&call, &|| self.inner.push(key, end, values))
            .await
    }

    async fn pop(&self, key: &str, end: ListEnd) -> Result<Option<Bytes>> {
        let call = self.call("cache.pop", key, false);
        self.interceptor
            .around(&call, &|| self.inner.pop(key, end))
            .await
    }

    async fn range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let call = self.call("cache.range", key, true);
        self.interceptor
            .around(&call, &|| self.inner.range(key, start, stop))
            .await
    }
}
