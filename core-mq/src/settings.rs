//! The `mq` section of a service's settings: what every backend shares,
//! and one sub-section per backend, each defined in the backend's folder.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::DEFAULT_MAX_MESSAGE_BYTES;
use crate::backends::kafka::KafkaSettings;
use crate::backends::memory::MemorySettings;
use crate::backends::nats::NatsSettings;
use crate::backends::rabbitmq::RabbitMqSettings;
use crate::backends::redis::RedisStreamsSettings;
use crate::layers::LayerSettings;

/// Settings for one message broker, as a service's configuration holds them.
///
/// The backend is picked by the scheme of `url`, so switching from the
/// in-memory queue to Kafka is a configuration change:
///
/// | `url` | backend | feature |
/// |---|---|---|
/// | `memory://` | in-process | `memory` |
/// | `redis://[:password@]host:port[/db]`, `rediss://…` | Redis Streams | `redis-streams` |
/// | `amqp://user:password@host:port/vhost`, `amqps://…` | RabbitMQ | `rabbitmq` |
/// | `kafka://host:port[,host:port…]` | Kafka | `kafka` |
/// | `nats://[user:password@]host:port` | NATS JetStream | `nats` |
///
/// ```
/// use core_mq::MqSettings;
///
/// let settings: MqSettings = serde_json::from_str(r#"{
///     "url": "amqp://app:s3cret@rabbit:5672/%2f",
///     "max_message_bytes": 65536
/// }"#).unwrap();
/// assert_eq!(settings.max_message_bytes, 65536);
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqSettings {
    /// Which backend and where; may carry a password. Default `memory://`.
    pub url: SecretString,
    /// The largest message (body, key and headers) accepted by `publish`.
    /// Default 1 MiB.
    pub max_message_bytes: usize,
    /// In-memory backend limits.
    pub memory: MemorySettings,
    /// Redis Streams options.
    pub redis: RedisStreamsSettings,
    /// RabbitMQ options.
    pub rabbitmq: RabbitMqSettings,
    /// Kafka options.
    pub kafka: KafkaSettings,
    /// NATS JetStream options.
    pub nats: NatsSettings,
    /// Metrics and tracing.
    pub layers: LayerSettings,
}

impl Default for MqSettings {
    fn default() -> MqSettings {
        MqSettings {
            url: SecretString::from("memory://"),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            memory: MemorySettings::default(),
            redis: RedisStreamsSettings::default(),
            rabbitmq: RabbitMqSettings::default(),
            kafka: KafkaSettings::default(),
            nats: NatsSettings::default(),
            layers: LayerSettings::default(),
        }
    }
}

impl fmt::Debug for MqSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqSettings")
            .field(
                "url",
                &core_error::redact_endpoint(self.url.expose_secret()),
            )
            .field("max_message_bytes", &self.max_message_bytes)
            .field("memory", &self.memory)
            .field("redis", &self.redis)
            .field("rabbitmq", &self.rabbitmq)
            .field("kafka", &self.kafka)
            .field("nats", &self.nats)
            .field("layers", &self.layers)
            .finish()
    }
}

impl MqSettings {
    /// Settings for `url` with every other value at its default.
    pub fn from_url(url: impl Into<String>) -> MqSettings {
        MqSettings {
            url: SecretString::from(url.into()),
            ..MqSettings::default()
        }
    }
}
