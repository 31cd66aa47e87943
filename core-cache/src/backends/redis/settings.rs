//! The `cache.redis` section, for Redis and Redis Cluster alike.

use serde::Deserialize;

/// Redis timeouts (`cache.redis`).
///
/// ```
/// use core_cache::backends::redis::RedisSettings;
///
/// assert_eq!(RedisSettings::default().response_timeout_ms, 5_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// How long one connection attempt may take. Default 2 000.
    pub connect_timeout_ms: u64,
    /// How long one command may wait for its answer; 0: no deadline of the
    /// driver's own. Default 5 000. [`connect`](crate::connect) leaves the
    /// driver's deadline off when the timeout layer's (`cache.layers.timeout_ms`)
    /// comes first.
    pub response_timeout_ms: u64,
}

impl Default for RedisSettings {
    fn default() -> RedisSettings {
        RedisSettings {
            connect_timeout_ms: 2_000,
            response_timeout_ms: 5_000,
        }
    }
}
