//! One folder per backend: its settings section (always compiled, so a
//! configuration names it whatever the features), its broker code (behind
//! its cargo feature) and its `REGISTRATION` (name, URL schemes, feature,
//! connect function).
//!
//! | backend | feature | URL | module |
//! |---|---|---|---|
//! | in-process | `memory` | `memory://` | [`memory`] |
//! | Redis Streams | `redis-streams` | `redis://`, `rediss://` | [`redis`] |
//! | RabbitMQ | `rabbitmq` | `amqp://`, `amqps://` | [`rabbitmq`] |
//! | Kafka | `kafka` | `kafka://` | [`kafka`] |
//! | NATS JetStream | `nats` | `nats://` | [`nats`] |
//!
//! Adding one: a folder like these, a line in `REGISTRY` below, its field in
//! [`MqSettings`](crate::MqSettings) and its feature in Cargo.toml
//! (docs/BACKENDS.md).

pub mod kafka;
pub mod memory;
pub mod nats;
pub mod rabbitmq;
pub mod redis;

use crate::registration::Registration;

/// Every backend this crate knows, compiled in or not, one line each;
/// [`connect`](crate::connect) picks by URL scheme.
pub(crate) const REGISTRY: &[Registration] = &[
    memory::REGISTRATION,
    redis::REGISTRATION,
    rabbitmq::REGISTRATION,
    kafka::REGISTRATION,
    nats::REGISTRATION,
];
