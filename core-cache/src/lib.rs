//! `CacheBase`: one API over in-memory, Redis, Memcached and two-level caches,
//! chosen at run time from configuration.

pub use core_error::{Error, ErrorKind, Result};
