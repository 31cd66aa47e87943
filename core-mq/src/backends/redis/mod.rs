//! Redis Streams: `XADD … MAXLEN ~` to publish, consumer groups with
//! `XREADGROUP` and `XACK`, `XAUTOCLAIM` of messages a dead consumer left
//! pending, dead letters in a stream of their own.
//!
//! Each topic is the stream `<key_prefix><topic>`; each message one entry
//! whose fields carry the message (see its `codec` module). Each consumer reads on a
//! connection of its own, because a blocking `XREADGROUP` holds its
//! connection until it answers.
//!
//! Retries wait in the consumer (the entry stays pending meanwhile, and is
//! claimed by another consumer if this one dies). [`Consumer::lag`](crate::Consumer::lag)
//! is the group's `lag` plus `pending` from `XINFO GROUPS`.
//!
//! Settings: `mq.redis` ([`RedisStreamsSettings`]). URLs: `redis://`,
//! `rediss://` (TLS files as URL parameters, as for the Redis cache).

#[cfg(feature = "redis-streams")]
mod broker;
mod settings;

#[cfg(feature = "redis-streams")]
pub use broker::RedisBackend;
pub use settings::RedisStreamsSettings;

use crate::registration::{Registration, connector};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "Redis Streams",
    schemes: &["redis", "rediss"],
    feature: "redis-streams",
    connect: connector!("redis-streams", broker::open),
};
