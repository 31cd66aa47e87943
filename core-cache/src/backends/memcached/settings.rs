//! The `cache.memcached` section.

use serde::Deserialize;

/// The Memcached connection pool (`cache.memcached`).
///
/// ```
/// use core_cache::backends::memcached::MemcachedSettings;
///
/// assert_eq!(MemcachedSettings::default().pool_size, 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemcachedSettings {
    /// The most connections open at once. Default 16.
    pub pool_size: usize,
    /// How long a call waits for a free connection. Default 5 000.
    pub wait_timeout_ms: u64,
}

impl Default for MemcachedSettings {
    fn default() -> MemcachedSettings {
        MemcachedSettings {
            pool_size: 16,
            wait_timeout_ms: 5_000,
        }
    }
}
