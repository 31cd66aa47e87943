//! The front door services use: typed values over any backend.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use core_error::{Error, Result};
use futures::FutureExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bypass::{Bypass, Route, is_outage};
use crate::single_flight::SingleFlight;
use crate::{BypassSettings, CacheBase, Capabilities, Codec, ListEnd, Ttl, validate_key};

/// Stored in place of a value to remember that the loader found nothing.
/// No JSON or postcard encoding of a value starts with two NUL bytes
/// followed by this text.
const ABSENT_MARKER: &[u8] = b"\0\0core-cache:absent";

/// The default limit on one encoded value: Memcached's item limit less room
/// for its own bookkeeping.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1_000_000;

/// What [`Cache::fetch`] returns: the value, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched<T> {
    /// The value; `None` when the loader found nothing (or the cache
    /// remembers that it found nothing).
    pub value: Option<T>,
    /// Where it came from.
    pub from: FetchedFrom,
}

/// Where [`Cache::fetch`] found its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchedFrom {
    /// The cache held it (a remembered absence included).
    Cache,
    /// The loader produced it: a miss, or a cache that was bypassed.
    Loader,
}

/// What a read-through lookup found.
enum Lookup<T> {
    /// A value, or a remembered absence.
    Hit(Option<T>),
    Miss,
    /// The backend is unavailable: load without it.
    Bypassed,
}

/// A cache of typed values over any [`CacheBase`] backend.
///
/// Adds what every service needs on top of the raw backend: serde values,
/// a key namespace, a maximum value size, key validation, `get_or_set` with
/// single-flight loading, negative caching and TTL jitter, and distributed
/// locks. Cheap to clone; clones share everything.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use core_cache::Cache;
/// use core_cache::backends::memory::{MemoryBackend, MemorySettings};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = Cache::builder(Arc::new(MemoryBackend::new(&MemorySettings::default())))
///     .namespace("users")
///     .build()?;
///
/// cache.set("42", &("ada", 36), Some(Duration::from_secs(60))).await?;
/// let user: Option<(String, u32)> = cache.get("42").await?;
/// assert_eq!(user, Some(("ada".to_string(), 36)));
///
/// // Loads once, then serves from the cache.
/// let name: String = cache.get_or_set("name:7", None, || async { Ok("grace".to_string()) }).await?;
/// assert_eq!(name, "grace");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Cache {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn CacheBase>,
    prefix: String,
    codec: Codec,
    max_value_bytes: usize,
    negative_ttl: Option<Duration>,
    default_ttl: Option<Duration>,
    ttl_jitter: f64,
    flights: Arc<SingleFlight>,
    bypass: Bypass,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.shared.backend)
            .field("namespace", &self.shared.prefix)
            .field("codec", &self.shared.codec)
            .finish()
    }
}

/// Builds a [`Cache`]; see [`Cache::builder`].
#[derive(Debug)]
#[must_use]
pub struct CacheBuilder {
    backend: Arc<dyn CacheBase>,
    namespace: Option<String>,
    codec: Codec,
    max_value_bytes: usize,
    negative_ttl: Option<Duration>,
    default_ttl: Option<Duration>,
    ttl_jitter: f64,
    bypass: BypassSettings,
}

impl CacheBuilder {
    /// Prefixes every key with `namespace:` so services sharing a server
    /// never see each other's keys.
    pub fn namespace(mut self, namespace: impl Into<String>) -> CacheBuilder {
        self.namespace = Some(namespace.into());
        self
    }

    /// How values are encoded (JSON by default).
    pub fn codec(mut self, codec: Codec) -> CacheBuilder {
        self.codec = codec;
        self
    }

    /// The largest encoded value accepted (default [`DEFAULT_MAX_VALUE_BYTES`]).
    pub fn max_value_bytes(mut self, max_value_bytes: usize) -> CacheBuilder {
        self.max_value_bytes = max_value_bytes;
        self
    }

    /// Remember for `ttl` that a loader of
    /// [`get_or_set_optional`](Cache::get_or_set_optional) found nothing, so
    /// a missing row is not looked up on every request.
    pub fn negative_ttl(mut self, ttl: Duration) -> CacheBuilder {
        self.negative_ttl = Some(ttl);
        self
    }

    /// The TTL of values stored without one (`set(key, value, None)`,
    /// `get_or_set(key, None, ..)`, and the batch and set-if-absent forms);
    /// without it they never expire.
    pub fn default_ttl(mut self, ttl: Duration) -> CacheBuilder {
        self.default_ttl = Some(ttl);
        self
    }

    /// Spread the TTLs `get_or_set` stores by up to ± `fraction` (0.0 to
    /// 0.5), so entries loaded together do not all expire together.
    pub fn ttl_jitter(mut self, fraction: f64) -> CacheBuilder {
        self.ttl_jitter = fraction;
        self
    }

    /// What `get_or_set` does while the backend is unavailable (by default
    /// it serves from the loader; see [`BypassSettings`]).
    pub fn bypass(mut self, settings: BypassSettings) -> CacheBuilder {
        self.bypass = settings;
        self
    }

    /// Builds the cache.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a namespace
    /// that is not a valid key, a zero value limit, or a jitter outside 0.0..=0.5.
    pub fn build(self) -> Result<Cache> {
        let prefix = match &self.namespace {
            Some(namespace) => {
                validate_key(namespace)?;
                format!("{namespace}:")
            }
            None => String::new(),
        };
        if self.max_value_bytes == 0 {
            return Err(Error::invalid_input("max_value_bytes must be above zero")
                .with_key("cache.max_value_bytes"));
        }
        if !(0.0..=0.5).contains(&self.ttl_jitter) {
            return Err(Error::invalid_input(format!(
                "ttl_jitter is {}; it must be between 0.0 and 0.5",
                self.ttl_jitter
            ))
            .with_key("cache.ttl_jitter"));
        }
        Ok(self.assemble(prefix))
    }

    fn assemble(self, prefix: String) -> Cache {
        Cache {
            shared: Arc::new(Shared {
                backend: self.backend,
                prefix,
                codec: self.codec,
                max_value_bytes: self.max_value_bytes,
                negative_ttl: self.negative_ttl,
                default_ttl: self.default_ttl,
                ttl_jitter: self.ttl_jitter,
                flights: Arc::default(),
                bypass: Bypass::new(self.bypass),
            }),
        }
    }
}

impl Cache {
    /// A cache over `backend` with no namespace and default settings.
    pub fn new(backend: Arc<dyn CacheBase>) -> Cache {
        Cache::builder(backend).assemble(String::new())
    }

    /// Starts building a cache over `backend`.
    pub fn builder(backend: Arc<dyn CacheBase>) -> CacheBuilder {
        CacheBuilder {
            backend,
            namespace: None,
            codec: Codec::default(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            negative_ttl: None,
            default_ttl: None,
            ttl_jitter: 0.0,
            bypass: BypassSettings::default(),
        }
    }

    /// The backend underneath, for operations on raw bytes and full keys.
    pub fn backend(&self) -> &Arc<dyn CacheBase> {
        &self.shared.backend
    }

    /// What the backend supports.
    pub fn capabilities(&self) -> Capabilities {
        self.shared.backend.capabilities()
    }

    /// The full key for `key`: the namespace prefix and `key`, validated.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a key no
    /// backend accepts; see [`validate_key`].
    pub fn full_key(&self, key: &str) -> Result<String> {
        if key.is_empty() {
            // Checked on its own: with a namespace, the full key would not be empty.
            validate_key(key)?;
        }
        let prefix = &self.shared.prefix;
        let mut full = String::with_capacity(prefix.len() + key.len());
        full.push_str(prefix);
        full.push_str(key);
        validate_key(&full)?;
        Ok(full)
    }

    fn full_keys(&self, keys: &[&str]) -> Result<Vec<String>> {
        keys.iter().map(|key| self.full_key(key)).collect()
    }

    fn encode<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Bytes> {
        let bytes = self
            .shared
            .codec
            .encode(value)
            .map_err(|err| err.with_key(key))?;
        if bytes.len() > self.shared.max_value_bytes {
            return Err(Error::invalid_input(format!(
                "the encoded value is {} bytes; the limit is {}",
                bytes.len(),
                self.shared.max_value_bytes
            ))
            .with_operation("cache.set")
            .with_key(key));
        }
        Ok(bytes)
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<Option<T>> {
        if bytes == ABSENT_MARKER {
            return Ok(None);
        }
        self.shared
            .codec
            .decode(bytes)
            .map(Some)
            .map_err(|err| err.with_key(key))
    }

    /// The value under `key`, if any.
    ///
    /// # Errors
    ///
    /// The backend's errors, and [`InvalidInput`](core_error::ErrorKind::InvalidInput)
    /// when the stored bytes are not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let full = self.full_key(key)?;
        match self.shared.backend.get(&full).await? {
            Some(bytes) => self.decode(&full, &bytes),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key`, expiring after `ttl` if given.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an invalid
    /// key or a value over the size limit; the backend's errors.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let full = self.full_key(key)?;
        let bytes = self.encode(&full, value)?;
        self.shared
            .backend
            .set(&full, bytes, self.ttl_or_default(ttl))
            .await
    }

    fn ttl_or_default(&self, ttl: Option<Duration>) -> Option<Duration> {
        ttl.or(self.shared.default_ttl)
    }

    /// Stores `value` only if `key` holds nothing; returns whether it did.
    ///
    /// # Errors
    ///
    /// As for [`set`](Cache::set).
    pub async fn set_if_absent<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<bool> {
        let full = self.full_key(key)?;
        let bytes = self.encode(&full, value)?;
        self.shared
            .backend
            .set_if_absent(&full, bytes, self.ttl_or_default(ttl))
            .await
    }

    /// Removes `key`; returns whether it existed.
    ///
    /// # Errors
    ///
    /// An invalid key; the backend's errors.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        self.shared.backend.delete(&self.full_key(key)?).await
    }

    /// Whether `key` holds a value.
    ///
    /// # Errors
    ///
    /// An invalid key; the backend's errors.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        self.shared.backend.exists(&self.full_key(key)?).await
    }

    /// Makes `key` expire after `ttl`; returns false if it does not exist.
    ///
    /// # Errors
    ///
    /// An invalid key; the backend's errors.
    pub async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.shared.backend.expire(&self.full_key(key)?, ttl).await
    }

    /// The remaining lifetime of `key`.
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) without
    /// [`Capabilities::ttl_inspection`]; an invalid key; the backend's errors.
    pub async fn ttl(&self, key: &str) -> Result<Ttl> {
        self.shared.backend.ttl(&self.full_key(key)?).await
    }

    /// Adds `delta` to the counter under `key` (missing counts as 0).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the key
    /// holds something other than an integer; the backend's errors.
    pub async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        self.shared.backend.incr(&self.full_key(key)?, delta).await
    }

    /// Subtracts `delta` from the counter under `key`.
    ///
    /// # Errors
    ///
    /// As for [`incr`](Cache::incr).
    pub async fn decr(&self, key: &str, delta: i64) -> Result<i64> {
        let negated = delta.checked_neg().ok_or_else(|| {
            Error::invalid_input("the decrement is too large")
                .with_operation("cache.decr")
                .with_key(key)
        })?;
        self.incr(key, negated).await
    }

    /// The values under `keys`, in order; pipelined where the backend can.
    ///
    /// # Errors
    ///
    /// Any invalid key; a value that is not a `T`; the backend's errors.
    pub async fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> Result<Vec<Option<T>>> {
        let full = self.full_keys(keys)?;
        let values = self.shared.backend.get_many(&full).await?;
        full.iter()
            .zip(values)
            .map(|(key, value)| match value {
                Some(bytes) => self.decode(key, &bytes),
                None => Ok(None),
            })
            .collect()
    }

    /// Stores every entry, each expiring after `ttl` if given.
    ///
    /// # Errors
    ///
    /// Any invalid key or oversized value (then nothing is stored); the
    /// backend's errors.
    pub async fn set_many<T: Serialize>(
        &self,
        entries: &[(&str, T)],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let mut encoded = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let full = self.full_key(key)?;
            let bytes = self.encode(&full, value)?;
            encoded.push((full, bytes));
        }
        self.shared
            .backend
            .set_many(&encoded, self.ttl_or_default(ttl))
            .await
    }

    /// Removes `keys`; returns how many existed.
    ///
    /// # Errors
    ///
    /// Any invalid key; the backend's errors.
    pub async fn delete_many(&self, keys: &[&str]) -> Result<u64> {
        self.shared
            .backend
            .delete_many(&self.full_keys(keys)?)
            .await
    }

    /// Removes every key of this namespace starting with `prefix`.
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) without
    /// [`Capabilities::delete_prefix`]; the backend's errors.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let full = format!("{}{prefix}", self.shared.prefix);
        if full.is_empty() {
            return Err(Error::invalid_input(
                "deleting by an empty prefix outside a namespace would empty the whole server",
            )
            .with_operation("cache.delete_prefix"));
        }
        validate_key(&full)?;
        self.shared.backend.delete_prefix(&full).await
    }

    /// Sets `field` of the hash under `key`; returns whether the field is new.
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) without
    /// [`Capabilities::hashes`]; as for [`set`](Cache::set).
    pub async fn hset<T: Serialize + ?Sized>(
        &self,
        key: &str,
        field: &str,
        value: &T,
    ) -> Result<bool> {
        let full = self.full_key(key)?;
        let bytes = self.encode(&full, value)?;
        self.shared.backend.hset(&full, field, bytes).await
    }

    /// The value of `field` in the hash under `key`.
    ///
    /// # Errors
    ///
    /// As for [`hset`](Cache::hset) and [`get`](Cache::get).
    pub async fn hget<T: DeserializeOwned>(&self, key: &str, field: &str) -> Result<Option<T>> {
        let full = self.full_key(key)?;
        match self.shared.backend.hget(&full, field).await? {
            Some(bytes) => self.decode(&full, &bytes),
            None => Ok(None),
        }
    }

    /// Every field of the hash under `key`, sorted by name.
    ///
    /// # Errors
    ///
    /// As for [`hget`](Cache::hget).
    pub async fn hgetall<T: DeserializeOwned>(&self, key: &str) -> Result<Vec<(String, T)>> {
        let full = self.full_key(key)?;
        let fields = self.shared.backend.hgetall(&full).await?;
        let mut decoded = Vec::with_capacity(fields.len());
        for (name, bytes) in fields {
            let value = self
                .shared
                .codec
                .decode(&bytes)
                .map_err(|err| err.with_key(&full))?;
            decoded.push((name, value));
        }
        Ok(decoded)
    }

    /// Removes `field` from the hash under `key`; returns whether it existed.
    ///
    /// # Errors
    ///
    /// As for [`hset`](Cache::hset).
    pub async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        self.shared.backend.hdel(&self.full_key(key)?, field).await
    }

    /// Adds `values`, in order, at `end` of the list under `key`; returns its length.
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) without
    /// [`Capabilities::lists`]; as for [`set`](Cache::set).
    pub async fn push<T: Serialize>(&self, key: &str, end: ListEnd, values: &[T]) -> Result<u64> {
        let full = self.full_key(key)?;
        let encoded = values
            .iter()
            .map(|value| self.encode(&full, value))
            .collect::<Result<Vec<_>>>()?;
        self.shared.backend.push(&full, end, &encoded).await
    }

    /// Removes and returns the element at `end` of the list under `key`.
    ///
    /// # Errors
    ///
    /// As for [`push`](Cache::push) and [`get`](Cache::get).
    pub async fn pop<T: DeserializeOwned>(&self, key: &str, end: ListEnd) -> Result<Option<T>> {
        let full = self.full_key(key)?;
        match self.shared.backend.pop(&full, end).await? {
            Some(bytes) => self.decode(&full, &bytes),
            None => Ok(None),
        }
    }

    /// The list elements from `start` to `stop` inclusive (negative indexes
    /// count from the tail).
    ///
    /// # Errors
    ///
    /// As for [`pop`](Cache::pop).
    pub async fn range<T: DeserializeOwned>(
        &self,
        key: &str,
        start: i64,
        stop: i64,
    ) -> Result<Vec<T>> {
        let full = self.full_key(key)?;
        let items = self.shared.backend.range(&full, start, stop).await?;
        items
            .iter()
            .map(|bytes| {
                self.shared
                    .codec
                    .decode(bytes)
                    .map_err(|err| err.with_key(&full))
            })
            .collect()
    }

    /// The value under `key`, or the one `loader` produces, stored for `ttl`.
    ///
    /// Concurrent callers for the same key in this process wait for a single
    /// load (single-flight) and then share its result. A loader error is
    /// returned and nothing is stored.
    ///
    /// # Errors
    ///
    /// The loader's error; as for [`get`](Cache::get) and [`set`](Cache::set).
    // Not `async fn`s, this one and the next: each would hold its
    // arguments beside the `fetch` future holding them again, and
    // handlers carry this future on every request.
    pub fn get_or_set<T, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> impl Future<Output = Result<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.fetch(key, ttl, || async { loader().await.map(Some) })
            .map(move |fetched| {
                fetched?.value.ok_or_else(|| {
                    Error::not_found("the cache holds a remembered absence for this key")
                        .with_operation("cache.get_or_set")
                        .with_key(key)
                })
            })
    }

    /// Like [`get_or_set`](Cache::get_or_set) for a loader that may find
    /// nothing; with a [`negative_ttl`](CacheBuilder::negative_ttl), that
    /// absence is remembered too.
    ///
    /// # Errors
    ///
    /// As for [`get_or_set`](Cache::get_or_set).
    pub fn get_or_set_optional<T, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> impl Future<Output = Result<Option<T>>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        self.fetch(key, ttl, loader)
            .map(|fetched| fetched.map(|fetched| fetched.value))
    }

    /// [`get_or_set_optional`](Cache::get_or_set_optional), telling the
    /// caller where the value came from: for an `X-Cache` header, a log
    /// field, or a test.
    ///
    /// ```
    /// use core_cache::{CacheSettings, FetchedFrom};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_cache::Result<()> {
    /// let cache = core_cache::connect(&CacheSettings::default()).await?;
    /// let first = cache.fetch("user:1", None, || async { Ok(Some("ada".to_string())) }).await?;
    /// assert_eq!((first.value.as_deref(), first.from), (Some("ada"), FetchedFrom::Loader));
    /// let again = cache.fetch("user:1", None, || async { Ok(Some("other".to_string())) }).await?;
    /// assert_eq!((again.value.as_deref(), again.from), (Some("ada"), FetchedFrom::Cache));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`get_or_set`](Cache::get_or_set).
    pub async fn fetch<T, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        loader: F,
    ) -> Result<Fetched<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let cached = |value| {
            Ok(Fetched {
                value,
                from: FetchedFrom::Cache,
            })
        };
        let loaded = |value| {
            Ok(Fetched {
                value,
                from: FetchedFrom::Loader,
            })
        };
        // The loader's future (a database query, often a few kilobytes) is
        // boxed when it runs: inline, every call would carry its space,
        // the hits too, which are most of them.
        let load = || Box::pin(loader());
        let full = self.full_key(key)?;
        match self.look_up(&full).await? {
            Lookup::Hit(value) => return cached(value),
            Lookup::Bypassed => return loaded(load().await?),
            Lookup::Miss => {}
        }
        let flight = self.shared.flights.enter(&full).await;
        // Whoever held the flight before us has probably stored the value.
        // Uncontended, the miss above stands: asking again would count one
        // miss twice (3 misses were recorded as 6).
        if flight.waited() {
            match self.look_up(&full).await? {
                Lookup::Hit(value) => return cached(value),
                Lookup::Bypassed => return loaded(load().await?),
                Lookup::Miss => {}
            }
        }
        let value = load().await?;
        let (bytes, ttl) = match &value {
            Some(found) => (
                self.encode(&full, found)?,
                self.ttl_or_default(ttl).map(|ttl| self.jittered(ttl)),
            ),
            None => match self.shared.negative_ttl {
                Some(negative_ttl) => (Bytes::from_static(ABSENT_MARKER), Some(negative_ttl)),
                None => return loaded(None),
            },
        };
        if let Err(err) = self.shared.backend.set(&full, bytes, ttl).await {
            // The caller still gets the value it asked for; the next call loads again.
            tracing::warn!(key = %full, error = %err, "could not store a loaded value in the cache");
        }
        loaded(value)
    }

    /// [`cached`](Cache::cached), going around a backend that is
    /// unavailable (see [`BypassSettings`]).
    async fn look_up<T: DeserializeOwned>(&self, full: &str) -> Result<Lookup<T>> {
        let bypass = &self.shared.bypass;
        if !bypass.enabled() {
            return Ok(self.cached(full).await?.map_or(Lookup::Miss, Lookup::Hit));
        }
        if bypass.route() == Route::Loader
            || (bypass.is_degraded() && !self.finish_invalidations().await)
            || bypass.is_pending(full)
        {
            metrics::counter!("cache_bypassed_total").increment(1);
            return Ok(Lookup::Bypassed);
        }
        match self.cached(full).await {
            Ok(found) => {
                bypass.answered();
                Ok(found.map_or(Lookup::Miss, Lookup::Hit))
            }
            Err(err) if is_outage(&err) => {
                bypass.failed(&self.shared.prefix);
                metrics::counter!("cache_bypassed_total").increment(1);
                tracing::debug!(key = %full, error = %err, "cache bypassed");
                Ok(Lookup::Bypassed)
            }
            Err(err) => Err(err),
        }
    }

    /// Probes the backend by deleting the keys whose invalidation failed;
    /// false (and the circuit open again) when it is still unavailable.
    async fn finish_invalidations(&self) -> bool {
        let bypass = &self.shared.bypass;
        for key in bypass.pending_keys() {
            match self.shared.backend.delete(&key).await {
                Ok(_) => bypass.forget(&key),
                Err(err) => {
                    tracing::warn!(key = %key, error = %err, "a deferred invalidation failed again");
                    bypass.failed(&self.shared.prefix);
                    return false;
                }
            }
        }
        true
    }

    /// Removes `key` so its next read loads afresh; unlike
    /// [`delete`](Cache::delete), an unavailable backend is not an error:
    /// the key is deleted as soon as the backend answers again, and until
    /// then `get_or_set` on this instance reads it from the loader.
    ///
    /// Call it after writing the source of truth. Other instances sharing
    /// the backend do not know of the deferred key: they may read the old
    /// entry between the backend's return and this instance's next
    /// `get_or_set`, at most until its TTL ends.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use core_cache::Cache;
    /// # use core_cache::backends::memory::{MemoryBackend, MemorySettings};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
    /// # let cache = Cache::new(Arc::new(MemoryBackend::new(&MemorySettings::default())));
    /// cache.set("user:7", &"old name", None).await?;
    /// cache.invalidate("user:7").await?;
    /// assert_eq!(cache.get::<String>("user:7").await?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid key; the backend's errors other than unavailability (or
    /// all of them with [`BypassSettings::enabled`] off).
    pub async fn invalidate(&self, key: &str) -> Result<()> {
        let full = self.full_key(key)?;
        match self.shared.backend.delete(&full).await {
            Ok(_) => Ok(()),
            Err(err) if self.shared.bypass.enabled() && is_outage(&err) => {
                tracing::warn!(key = %full, error = %err, "cache unavailable; the invalidation waits for its return");
                self.shared.bypass.defer_invalidation(full);
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// `Some(decoded)` on a hit (`Some(None)` for a remembered absence), `None` on a miss.
    async fn cached<T: DeserializeOwned>(&self, full: &str) -> Result<Option<Option<T>>> {
        let Some(bytes) = self.shared.backend.get(full).await? else {
            return Ok(None);
        };
        match self.decode(full, &bytes) {
            Ok(value) => Ok(Some(value)),
            Err(err) => {
                // Most likely written by an older version of the type: reload it.
                tracing::warn!(key = %full, error = %err, "replacing a cached value that no longer decodes");
                Ok(None)
            }
        }
    }

    fn jittered(&self, ttl: Duration) -> Duration {
        if self.shared.ttl_jitter == 0.0 {
            return ttl;
        }
        let factor = 1.0 + self.shared.ttl_jitter * (fastrand::f64() * 2.0 - 1.0);
        ttl.mul_f64(factor).max(Duration::from_millis(1))
    }

    /// Takes the distributed lock `name`; see [`Lock`](crate::Lock).
    ///
    /// # Errors
    ///
    /// [`Timeout`](core_error::ErrorKind::Timeout) when another owner still
    /// holds it after `options.wait`;
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) without
    /// [`Capabilities::compare_and_swap`]; the backend's errors.
    pub async fn lock(&self, name: &str, options: crate::LockOptions) -> Result<crate::Lock> {
        let key = self.full_key(&format!("lock:{name}"))?;
        crate::Lock::acquire(self.shared.backend.clone(), key, options).await
    }
}
