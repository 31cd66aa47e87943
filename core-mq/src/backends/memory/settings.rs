//! The `mq.memory` section.

use serde::Deserialize;

/// Limits of the in-memory backend (`mq.memory`).
///
/// ```
/// use core_mq::backends::memory::MemorySettings;
///
/// assert_eq!(MemorySettings::default().max_retained, 100_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySettings {
    /// Messages kept per topic. Past it, messages every group has already
    /// received are dropped; if a group still needs them, `publish` fails
    /// with a temporary error instead of losing anything. Default 100 000.
    pub max_retained: usize,
}

impl Default for MemorySettings {
    fn default() -> MemorySettings {
        MemorySettings {
            max_retained: 100_000,
        }
    }
}
