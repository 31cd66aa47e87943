//! The `mq.redis` section.

use serde::Deserialize;

/// Redis Streams options (`mq.redis`).
///
/// ```
/// use core_mq::backends::redis::RedisStreamsSettings;
///
/// assert_eq!(RedisStreamsSettings::default().key_prefix, "mq:");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisStreamsSettings {
    /// Approximate length each stream is trimmed to on `XADD` (`MAXLEN ~`).
    /// Trimming drops the oldest entries even if a group has not read them:
    /// size it for the longest consumer outage. Default 1 000 000.
    pub max_len: usize,
    /// Prefix of every stream key (`<prefix><topic>`). Default `mq:`.
    pub key_prefix: String,
}

impl Default for RedisStreamsSettings {
    fn default() -> RedisStreamsSettings {
        RedisStreamsSettings {
            max_len: 1_000_000,
            key_prefix: "mq:".to_string(),
        }
    }
}
