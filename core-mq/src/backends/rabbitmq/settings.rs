//! The `mq.rabbitmq` section.

use serde::Deserialize;

/// RabbitMQ options (`mq.rabbitmq`).
///
/// ```
/// use core_mq::backends::rabbitmq::RabbitMqSettings;
///
/// assert_eq!(RabbitMqSettings::default().exchange, "core-mq");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitMqSettings {
    /// The durable topic exchange every topic is a routing key of.
    /// Default `core-mq`.
    pub exchange: String,
    /// Deletes a group's queue after it had no consumer for this long
    /// (RabbitMQ `x-expires`); messages in it are lost then. Default none:
    /// queues live until deleted. Fixed when the queue is first declared.
    pub queue_expires_ms: Option<u64>,
}

impl Default for RabbitMqSettings {
    fn default() -> RabbitMqSettings {
        RabbitMqSettings {
            exchange: "core-mq".to_string(),
            queue_expires_ms: None,
        }
    }
}
