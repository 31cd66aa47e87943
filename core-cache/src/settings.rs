//! The `cache` section of a service's settings: what every backend shares,
//! and one sub-section per backend, each defined in the backend's folder.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::backends::memcached::MemcachedSettings;
use crate::backends::memory::MemorySettings;
use crate::backends::redis::RedisSettings;
use crate::backends::tiered::TieredSettings;
use crate::layers::LayerSettings;
use crate::{Codec, DEFAULT_MAX_VALUE_BYTES};

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
    pub memory: MemorySettings,
    /// Redis and Redis Cluster timeouts.
    pub redis: RedisSettings,
    /// The Memcached connection pool.
    pub memcached: MemcachedSettings,
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
            memory: MemorySettings::default(),
            redis: RedisSettings::default(),
            memcached: MemcachedSettings::default(),
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
            .field("redis", &self.redis)
            .field("memcached", &self.memcached)
            .field("tiered", &self.tiered)
            .field("layers", &self.layers)
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

    /// These settings with the Redis driver's own response deadline off when
    /// the timeout layer's comes first, as [`connect`](crate::connect) opens
    /// the backend: the driver's timer could never fire, and it would cost
    /// every command a timer of its own.
    pub(crate) fn with_one_deadline(&self) -> Cow<'_, CacheSettings> {
        let layer = self.layers.timeout_ms;
        let driver = self.redis.response_timeout_ms;
        if layer == 0 || driver == 0 || layer > driver {
            return Cow::Borrowed(self);
        }
        let mut settings = self.clone();
        settings.redis.response_timeout_ms = 0;
        Cow::Owned(settings)
    }

    /// `default_ttl_ms` as a duration.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl_ms.map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::CacheSettings;

    fn driver_deadline(layer_ms: u64, driver_ms: u64) -> u64 {
        let mut settings = CacheSettings::default();
        settings.layers.timeout_ms = layer_ms;
        settings.redis.response_timeout_ms = driver_ms;
        settings.with_one_deadline().redis.response_timeout_ms
    }

    #[test]
    fn the_drivers_deadline_is_off_only_where_the_layers_comes_first() {
        assert_eq!(driver_deadline(1_000, 5_000), 0);
        assert_eq!(driver_deadline(5_000, 5_000), 0);
        assert_eq!(driver_deadline(0, 5_000), 5_000, "no layer deadline");
        assert_eq!(
            driver_deadline(8_000, 5_000),
            5_000,
            "the driver's is first"
        );
        assert_eq!(driver_deadline(1_000, 0), 0);
    }
}
