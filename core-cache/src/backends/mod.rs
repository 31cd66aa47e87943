//! One folder per backend: its settings section (always compiled, so a
//! configuration names it whatever the features), its store code (behind
//! its cargo feature) and its `REGISTRATION` (name, URL schemes, feature,
//! connect function).
//!
//! | backend | feature | URL | module |
//! |---|---|---|---|
//! | in-memory (moka) | `memory` | `memory://` | [`memory`] |
//! | Redis | `redis` | `redis://`, `rediss://` | [`redis`] |
//! | Redis Cluster | `redis-cluster` | `redis-cluster://`, `rediss-cluster://` | [`redis`] |
//! | Memcached | `memcached` | `memcached://` | [`memcached`] |
//! | memory in front of any remote cache | `tiered` | `[cache.tiered]` | [`tiered`] |
//!
//! Adding one: a folder like these, a line in `REGISTRY` below, its field in
//! [`CacheSettings`](crate::CacheSettings) and its feature in Cargo.toml
//! (docs/BACKENDS.md).

pub mod memcached;
pub mod memory;
pub mod redis;
pub mod tiered;

use crate::registration::Registration;

/// Every backend this crate knows, compiled in or not, one line each;
/// [`connect`](crate::connect) picks by URL scheme.
pub(crate) const REGISTRY: &[Registration] = &[
    memory::REGISTRATION,
    redis::REGISTRATION,
    redis::CLUSTER_REGISTRATION,
    memcached::REGISTRATION,
];
