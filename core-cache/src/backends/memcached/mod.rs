//! Memcached, through `async-memcached` connections in a `deadpool` pool.
//!
//! Settings: `cache.memcached` ([`MemcachedSettings`]). URL:
//! `memcached://host:port`. No TLS: `async-memcached` has none (the Debian
//! server could serve it with `-Z`).

mod settings;
#[cfg(feature = "memcached")]
mod store;

pub use settings::MemcachedSettings;
#[cfg(feature = "memcached")]
pub use store::{MemcachedBackend, MemcachedConfig};

use crate::registration::{Connect, Registration, when_feature};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "Memcached",
    schemes: &["memcached", "memcache"],
    feature: "memcached",
    connect: when_feature!("memcached", Connect, store::open),
};
