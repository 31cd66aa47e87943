//! Redis, through the `redis` crate: one server behind its reconnecting
//! connection manager, or (feature `redis-cluster`) a Redis Cluster.
//!
//! Both run the same [`RedisBackend`] code over a different connection; what
//! a cluster needs done differently (batches split per hash slot, `SCAN` on
//! every master) lives in [`RedisConnection`]'s two implementations.
//!
//! Settings: `cache.redis` ([`RedisSettings`]). URLs: `redis://`,
//! `rediss://` (feature `redis`); `redis-cluster://`, `rediss-cluster://`
//! (feature `redis-cluster`).

mod settings;
#[cfg(feature = "redis")]
mod store;

pub use settings::RedisSettings;
#[cfg(feature = "redis-cluster")]
pub use store::{ClusterConnection, RedisClusterBackend};
#[cfg(feature = "redis")]
pub use store::{RedisBackend, RedisConfig, RedisConnection, connect_error, open_client};

use crate::registration::{Connect, Registration, when_feature};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "Redis",
    schemes: &["redis", "rediss"],
    feature: "redis",
    connect: when_feature!("redis", Connect, store::open),
};

pub(crate) const CLUSTER_REGISTRATION: Registration = Registration {
    name: "Redis Cluster",
    schemes: &["redis-cluster", "rediss-cluster"],
    feature: "redis-cluster",
    connect: when_feature!("redis-cluster", Connect, store::open_cluster),
};
