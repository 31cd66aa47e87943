//! `CacheBase`: one API over in-memory, Redis, Memcached and two-level
//! caches, chosen at run time from configuration.
//!
//! - [`Cache`] is what services use: typed serde values, namespaces, a value
//!   size limit, [`get_or_set`](Cache::get_or_set) with single-flight
//!   loading, negative caching and TTL jitter, and [distributed locks](Lock).
//! - [`CacheBase`] is the trait each backend implements, over raw bytes;
//!   [`Capabilities`] says which optional operations a backend has.
//! - [`backends`] holds one module per backend, each behind its feature.
//! - [`layers`] holds retry, timeout, metrics and tracing, applied to any
//!   backend the same way.
//! - [`connect`] builds all of it from a [`CacheSettings`] section.
//!
//! ```
//! use std::time::Duration;
//! use core_cache::{CacheSettings, connect};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
//! // `memory://` here; `redis://cache:6379` in production, same code.
//! let cache = connect(&CacheSettings::from_url("memory://")).await?;
//! let views = cache.incr("page:/home:views", 1).await?;
//! assert_eq!(views, 1);
//! # Ok(()) }
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod backends;
mod bypass;
mod cache;
mod capability;
mod codec;
mod connect;
mod key;
pub mod layers;
mod lock;
mod registration;
mod settings;
mod single_flight;

pub use backend::{CacheBase, ListEnd, Ttl};
pub use backends::tiered::TieredSettings;
pub use bypass::BypassSettings;
pub use cache::{Cache, CacheBuilder, DEFAULT_MAX_VALUE_BYTES, Fetched, FetchedFrom};
pub use capability::Capabilities;
pub use codec::Codec;
pub use connect::{connect, connect_backend};
pub use core_error::{Error, ErrorKind, Result};
pub use key::{MAX_KEY_BYTES, validate_key};
pub use lock::{Lock, LockOptions};
pub use settings::CacheSettings;
