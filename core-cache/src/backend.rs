//! The trait every cache backend implements.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};

use crate::Capabilities;

/// The remaining lifetime of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist.
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires after this long.
    ExpiresIn(Duration),
}

/// Which end of a list an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    /// The head (index 0).
    Front,
    /// The tail.
    Back,
}

/// A cache backend: raw bytes under string keys.
///
/// Services use [`Cache`](crate::Cache), which adds typed values,
/// namespaces, size limits, `get_or_set` and locks on top of any
/// `Arc<dyn CacheBase>`. Implement this trait to add a backend; the shared
/// conformance suite (`core-cache/tests/conformance`) says when it is done.
///
/// Optional operations have default implementations that return
/// [`ErrorKind::Unsupported`](core_error::ErrorKind::Unsupported); a backend
/// that overrides them also sets the matching flag in its
/// [`capabilities`](CacheBase::capabilities).
#[async_trait]
pub trait CacheBase: Send + Sync + fmt::Debug {
    /// The backend's name, such as `"redis"`, used in errors and metrics.
    fn name(&self) -> &'static str;

    /// The optional operations this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// This backend with tracing and call counts run inside each of its own
    /// calls, if it can do that; `None` (the default) if not.
    ///
    /// For in-process backends only: [`stack`](crate::layers::stack) gives
    /// them tracing and call counts, and a wrapper doing that
    /// ([`InProcessLayer`](crate::layers::InProcessLayer)) costs each call
    /// one more boxed future, a large share of a call that takes a few
    /// hundred nanoseconds. A backend that returns `Some` runs a
    /// [`CallObserver`](crate::layers::CallObserver) around the body of
    /// every operation, named as [`Layered`](crate::layers::Layered) names
    /// it (`"cache.get"`...).
    fn observed(&self) -> Option<Arc<dyn CacheBase>> {
        None
    }

    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// Stores `value` under `key`, replacing any value; it expires after
    /// `ttl` if given.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()>;

    /// Stores `value` only if `key` holds nothing; returns whether it did.
    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool>;

    /// Removes `key`; returns whether it existed.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Whether `key` holds a value.
    async fn exists(&self, key: &str) -> Result<bool>;

    /// Makes `key` expire after `ttl`; returns false if it does not exist.
    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool>;

    /// Adds `delta` to the integer under `key` (missing counts as 0) and
    /// returns the new value.
    async fn incr(&self, key: &str, delta: i64) -> Result<i64>;

    /// The values under `keys`, in the same order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>>;

    /// Stores every entry, each expiring after `ttl` if given.
    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()>;

    /// Removes `keys`; returns how many existed.
    async fn delete_many(&self, keys: &[String]) -> Result<u64>;

    /// The remaining lifetime of `key`. Needs [`Capabilities::ttl_inspection`].
    async fn ttl(&self, key: &str) -> Result<Ttl> {
        Err(unsupported(self.name(), "cache.ttl", key))
    }

    /// Removes every key starting with `prefix`; returns how many.
    /// Needs [`Capabilities::delete_prefix`].
    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        Err(unsupported(self.name(), "cache.delete_prefix", prefix))
    }

    /// Removes `key` only if it holds exactly `expected`; returns whether it
    /// did. Atomic. Needs [`Capabilities::compare_and_swap`].
    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let _ = expected;
        Err(unsupported(self.name(), "cache.compare_and_delete", key))
    }

    /// Sets the TTL of `key` only if it holds exactly `expected`; returns
    /// whether it did. Atomic. Needs [`Capabilities::compare_and_swap`].
    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        let _ = (expected, ttl);
        Err(unsupported(self.name(), "cache.compare_and_expire", key))
    }

    /// Sets `field` of the hash under `key`; returns whether the field is new.
    /// Needs [`Capabilities::hashes`].
    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<bool> {
        let _ = (field, value);
        Err(unsupported(self.name(), "cache.hset", key))
    }

    /// The value of `field` in the hash under `key`. Needs [`Capabilities::hashes`].
    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>> {
        let _ = field;
        Err(unsupported(self.name(), "cache.hget", key))
    }

    /// Every field of the hash under `key`, sorted by field name.
    /// Needs [`Capabilities::hashes`].
    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>> {
        Err(unsupported(self.name(), "cache.hgetall", key))
    }

    /// Removes `field` from the hash under `key`; returns whether it existed.
    /// Needs [`Capabilities::hashes`].
    async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        let _ = field;
        Err(unsupported(self.name(), "cache.hdel", key))
    }

    /// Adds `values`, in order, at `end` of the list under `key`; returns the
    /// new length. Needs [`Capabilities::lists`].
    async fn push(&self, key: &str, end: ListEnd, values: &[Bytes]) -> Result<u64> {
        let _ = (end, values);
        Err(unsupported(self.name(), "cache.push", key))
    }

    /// Removes and returns the element at `end` of the list under `key`.
    /// Needs [`Capabilities::lists`].
    async fn pop(&self, key: &str, end: ListEnd) -> Result<Option<Bytes>> {
        let _ = end;
        Err(unsupported(self.name(), "cache.pop", key))
    }

    /// The elements from `start` to `stop` inclusive; negative indexes count
    /// from the tail (`-1` is the last), as in Redis `LRANGE`.
    /// Needs [`Capabilities::lists`].
    async fn range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let _ = (start, stop);
        Err(unsupported(self.name(), "cache.range", key))
    }
}

/// The error an optional operation returns on a backend without it.
pub(crate) fn unsupported(backend: &'static str, operation: &'static str, key: &str) -> Error {
    Error::unsupported(format!(
        "the {backend} cache backend does not support this operation"
    ))
    .with_operation(operation)
    .with_backend(backend)
    .with_key(key)
}
