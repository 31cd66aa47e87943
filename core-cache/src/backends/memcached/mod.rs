//! Memcached: its meta protocol, spoken by the backend itself on connections
//! in a `deadpool` pool, in plaintext or over TLS (rustls).
//!
//! Settings: `cache.memcached` ([`MemcachedSettings`]). URL:
//! `memcached://host:port`, or `memcacheds://host:port` for TLS (a server
//! started with `-Z`), verified against `sslrootcert=` (or Mozilla's roots),
//! with an optional client certificate (`sslcert=`, `sslkey=`).

mod settings;
#[cfg(feature = "memcached")]
mod store;

pub use settings::MemcachedSettings;
#[cfg(feature = "memcached")]
pub use store::{MemcachedBackend, MemcachedConfig};

use crate::registration::{Connect, Registration, when_feature};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "Memcached",
    schemes: &["memcached", "memcache", "memcacheds"],
    feature: "memcached",
    connect: when_feature!("memcached", Connect, store::open),
};
