//! The `mq.nats` section.

use serde::Deserialize;

/// NATS JetStream options (`mq.nats`).
///
/// ```
/// use core_mq::backends::nats::NatsSettings;
///
/// assert_eq!(NatsSettings::default().stream, "core-mq");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// The stream every topic is stored in; created (file storage) if
    /// missing. Default `core-mq`.
    pub stream: String,
    /// Topics are the subjects `<subject_prefix>.<topic>`. Default `core-mq`.
    pub subject_prefix: String,
    /// Messages the stream keeps; the oldest go first past it, read or not:
    /// size it for the longest consumer outage. Default 1 000 000.
    pub max_messages: i64,
    /// How long the server remembers message ids to drop a publish sent
    /// twice. Default 120 000 (two minutes, the server's default).
    pub duplicate_window_ms: u64,
}

impl Default for NatsSettings {
    fn default() -> NatsSettings {
        NatsSettings {
            stream: "core-mq".to_string(),
            subject_prefix: "core-mq".to_string(),
            max_messages: 1_000_000,
            duplicate_window_ms: 120_000,
        }
    }
}
