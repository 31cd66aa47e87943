//! The `cache.memory` section.

use serde::Deserialize;

/// How large the in-memory cache may grow.
///
/// ```
/// use core_cache::backends::memory::MemorySettings;
///
/// let settings = MemorySettings { max_bytes: Some(64 * 1024 * 1024), ..MemorySettings::default() };
/// assert_eq!(settings.max_entries, 100_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySettings {
    /// The most entries kept; least valuable ones are evicted past it.
    /// Ignored when `max_bytes` is set. Default 100 000.
    pub max_entries: u64,
    /// The most bytes of keys and values kept, if the bound is by size.
    pub max_bytes: Option<u64>,
}

impl Default for MemorySettings {
    fn default() -> MemorySettings {
        MemorySettings {
            max_entries: 100_000,
            max_bytes: None,
        }
    }
}
