//! One module per backend, each compiled only under its cargo feature.
//!
//! | backend | feature | module |
//! |---|---|---|
//! | in-process | `memory` | [`memory`] |
//! | Redis Streams | `redis-streams` | [`redis`] |
//! | RabbitMQ | `rabbitmq` | [`rabbitmq`] |
//! | Kafka | `kafka` | [`kafka`] |

#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(feature = "redis-streams")]
pub mod redis;
