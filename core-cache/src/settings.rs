//! The `cache` section of a service's settings, and building a cache from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, Result};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::layers::{self, LayerSettings};
use crate::{Cache, CacheBase, Codec, DEFAULT_MAX_VALUE_BYTES};

/// Settings for one cache, as a service's configuration file holds them.
///
/// The backend is picked by the scheme of `url`, so switching from the
/// in-memory cache to Redis is a configuration change:
///
/// | `url` | backend | feature |
/// |---|---|---|
/// | `memory://` | in-process moka | `memory` |
/// | `redis://[:password@]host:port[/db]`, `rediss://…` | Redis | `redis` |
/// | `redis-cluster://[:password@]host:port[,host:port…]` | Redis Cluster (seed nodes; the rest are discovered) | `redis-cluster` |
/// | `memcached://host:port` | Memcached | `memcached` |
///
/// With `[cache.tiered]` present, an in-process L1 sits in front of the
/// backend `url` names. Over a cluster, point `tiered.invalidation_url` at
/// any one node (`redis://host:port`): cluster pub/sub reaches every node.
///
/// ```
/// use core_cache::CacheSettings;
///
/// let settings: CacheSettings = serde_json::from_str(r#"{
///     "url": "redis://:s3cret@127.0.0.1:6379/0",
///     "namespace": "orders",
///     "default_ttl_ms": 60000
/// }"#).unwrap();
/// assert_eq!(settings.namespace.as_deref(), Some("orders"));
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Which backend and where; may carry a password. Default `memory://`.
    pub url: SecretString,
    /// Prefix of every key (`namespace:key`). Default none.
    pub namespace: Option<String>,
    /// Value encoding: `json` (default) or `postcard` (feature `binary`).
    pub codec: Codec,
    /// The largest encoded value accepted. Default 1 000 000 bytes.
    pub max_value_bytes: usize,
    /// TTL of values stored without one (`set(.., None)`, `get_or_set(..,
    /// None, ..)`); default none: they never expire.
    pub default_ttl_ms: Option<u64>,
    /// How long `get_or_set_optional` remembers that nothing was found.
    /// Default none (absence is not cached).
    pub negative_ttl_ms: Option<u64>,
    /// Spread of `get_or_set` TTLs, 0.0 to 0.5. Default 0.1.
    pub ttl_jitter: f64,
    /// Bounds of the in-memory backend (and of the tiered L1).
    pub memory: MemoryConfig,
    /// Connections kept to Memcached. Default 16.
    pub pool_size: usize,
    /// The in-process L1 in front of a remote backend, if wanted.
    pub tiered: Option<TieredSettings>,
    /// Timeout, retry, metrics and tracing.
    pub layers: LayerSettings,
}

impl Default for CacheSettings {
    fn default() -> CacheSettings {
        CacheSettings {
            url: SecretString::from("memory://"),
            namespace: None,
            codec: Codec::default(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            default_ttl_ms: None,
            negative_ttl_ms: None,
            ttl_jitter: 0.1,
            memory: Default::default(),
            pool_size: 16,
            tiered: None,
            layers: LayerSettings::default(),
        }
    }
}

impl fmt::Debug for CacheSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheSettings")
            .field(
                "url",
                &core_error::redact_endpoint(self.url.expose_secret()),
            )
            .field("namespace", &self.namespace)
            .field("codec", &self.codec)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("default_ttl_ms", &self.default_ttl_ms)
            .field("negative_ttl_ms", &self.negative_ttl_ms)
            .field("ttl_jitter", &self.ttl_jitter)
            .field("memory", &self.memory)
            .field("pool_size", &self.pool_size)
            .field("tiered", &self.tiered)
            .field("layers", &self.layers)
            .finish()
    }
}

/// How large the in-memory cache may grow.
///
/// ```
/// use core_cache::MemoryConfig;
///
/// let config = MemoryConfig { max_bytes: Some(64 * 1024 * 1024), ..MemoryConfig::default() };
/// assert_eq!(config.max_entries, 100_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// The most entries kept; least valuable ones are evicted past it.
    /// Ignored when `max_bytes` is set. Default 100 000.
    pub max_entries: u64,
    /// The most bytes of keys and values kept, if the bound is by size.
    pub max_bytes: Option<u64>,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            max_entries: 100_000,
            max_bytes: None,
        }
    }
}

/// Settings of the in-process L1 of a tiered cache.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TieredSettings {
    /// How long a value stays in L1. Default 30 000 ms.
    pub l1_ttl_ms: u64,
    /// The most entries in L1. Default 10 000.
    pub l1_max_entries: u64,
    /// The Redis server whose pub/sub carries invalidations; defaults to
    /// `url` when that is a Redis URL.
    pub invalidation_url: Option<SecretString>,
}

impl Default for TieredSettings {
    fn default() -> TieredSettings {
        TieredSettings {
            l1_ttl_ms: 30_000,
            l1_max_entries: 10_000,
            invalidation_url: None,
        }
    }
}

impl fmt::Debug for TieredSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredSettings")
            .field("l1_ttl_ms", &self.l1_ttl_ms)
            .field("l1_max_entries", &self.l1_max_entries)
            .field(
                "invalidation_url",
                &self
                    .invalidation_url
                    .as_ref()
                    .map(|url| core_error::redact_endpoint(url.expose_secret())),
            )
            .finish()
    }
}

impl CacheSettings {
    /// Settings for `url` with every other value at its default.
    pub fn from_url(url: impl Into<String>) -> CacheSettings {
        CacheSettings {
            url: SecretString::from(url.into()),
            ..CacheSettings::default()
        }
    }

    /// `default_ttl_ms` as a duration.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl_ms.map(Duration::from_millis)
    }
}

/// Connects the backend `settings.url` names, wraps it in the standard
/// layers, and returns the cache services use.
///
/// ```
/// use core_cache::{CacheSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = connect(&CacheSettings::default()).await?;
/// cache.set("k", &1, None).await?;
/// assert_eq!(cache.backend().name(), "memory");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an unknown
/// scheme or invalid settings; [`Unsupported`](core_error::ErrorKind::Unsupported)
/// for a backend whose cargo feature is off; the backend's connection errors.
pub async fn connect(settings: &CacheSettings) -> Result<Cache> {
    let mut backend = connect_backend(settings).await?;
    if let Some(tiered) = &settings.tiered {
        backend = connect_tiered(backend, settings, tiered).await?;
    }
    let backend = layers::stack(backend, &settings.layers);
    let mut builder = Cache::builder(backend)
        .codec(settings.codec)
        .max_value_bytes(settings.max_value_bytes)
        .ttl_jitter(settings.ttl_jitter);
    if let Some(namespace) = &settings.namespace {
        builder = builder.namespace(namespace.clone());
    }
    if let Some(default_ttl) = settings.default_ttl() {
        builder = builder.default_ttl(default_ttl);
    }
    if let Some(negative) = settings.negative_ttl_ms {
        builder = builder.negative_ttl(Duration::from_millis(negative));
    }
    builder.build()
}

fn scheme_of(url: &str) -> &str {
    url.split_once("://").map_or(url, |(scheme, _)| scheme)
}

#[cfg_attr(
    all(
        feature = "memory",
        feature = "redis",
        feature = "redis-cluster",
        feature = "memcached",
        feature = "tiered"
    ),
    allow(dead_code, reason = "only reached when a backend's feature is off")
)]
fn feature_off(backend: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "the {backend} cache backend is not compiled in; enable the core-cache feature `{feature}`"
    ))
    .with_operation("cache.connect")
    .with_key("cache.url")
}

/// The bare backend `settings.url` names, without layers.
///
/// # Errors
///
/// As for [`connect`].
pub async fn connect_backend(settings: &CacheSettings) -> Result<Arc<dyn CacheBase>> {
    let url = settings.url.expose_secret();
    match scheme_of(url) {
        "memory" => {
            #[cfg(feature = "memory")]
            return Ok(Arc::new(crate::backends::memory::MemoryBackend::new(
                &settings.memory,
            )));
            #[cfg(not(feature = "memory"))]
            return Err(feature_off("memory", "memory"));
        }
        "redis" | "rediss" => {
            #[cfg(feature = "redis")]
            {
                let config = crate::backends::redis::RedisConfig::new(url);
                return Ok(Arc::new(crate::backends::redis::RedisBackend::connect(&config).await?));
            }
            #[cfg(not(feature = "redis"))]
            return Err(feature_off("redis", "redis"));
        }
        "redis-cluster" | "rediss-cluster" => {
            #[cfg(feature = "redis-cluster")]
            {
                let config = crate::backends::redis::RedisConfig::new(url);
                return Ok(Arc::new(
                    crate::backends::redis::RedisBackend::connect_cluster(&config).await?,
                ));
            }
            #[cfg(not(feature = "redis-cluster"))]
            return Err(feature_off("Redis Cluster", "redis-cluster"));
        }
        "memcached" | "memcache" => {
            #[cfg(feature = "memcached")]
            {
                let mut config = crate::backends::memcached::MemcachedConfig::new(url);
                config.pool_size = settings.pool_size;
                return Ok(Arc::new(
                    crate::backends::memcached::MemcachedBackend::connect(&config).await?,
                ));
            }
            #[cfg(not(feature = "memcached"))]
            return Err(feature_off("memcached", "memcached"));
        }
        other => Err(Error::invalid_input(format!(
            "unknown cache URL scheme {other:?}; expected memory://, redis://, rediss://, redis-cluster:// or memcached://"
        ))
        .with_operation("cache.connect")
        .with_key("cache.url")),
    }
}

async fn connect_tiered(
    l2: Arc<dyn CacheBase>,
    settings: &CacheSettings,
    tiered: &TieredSettings,
) -> Result<Arc<dyn CacheBase>> {
    #[cfg(feature = "tiered")]
    {
        let url = settings.url.expose_secret();
        let invalidation_url = match &tiered.invalidation_url {
            Some(url) => url.expose_secret().to_string(),
            None if matches!(scheme_of(url), "redis" | "rediss") => url.to_string(),
            None => {
                return Err(Error::invalid_input(
                    "a tiered cache over a non-Redis backend needs cache.tiered.invalidation_url",
                )
                .with_operation("cache.connect")
                .with_key("cache.tiered.invalidation_url"));
            }
        };
        let mut config = crate::backends::tiered::TieredConfig::new(invalidation_url);
        config.l1_ttl = Duration::from_millis(tiered.l1_ttl_ms);
        config.l1.max_entries = tiered.l1_max_entries;
        if let Some(namespace) = &settings.namespace {
            config.channel = format!("core-cache:invalidate:{namespace}");
        }
        let backend = crate::backends::tiered::TieredBackend::connect(l2, &config).await?;
        Ok(Arc::new(backend))
    }
    #[cfg(not(feature = "tiered"))]
    {
        let _ = (l2, settings, tiered);
        Err(feature_off("tiered", "tiered"))
    }
}
