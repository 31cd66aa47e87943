//! One error vocabulary for every `core-*` crate.
//!
//! Whatever backend a service runs on, its errors come back as one
//! [`Error`] type with:
//!
//! - a [`kind`](ErrorKind) from a small closed set (not found, conflict,
//!   invalid input, unauthenticated, permission denied, timeout, unavailable,
//!   unsupported, internal);
//! - a stable machine-readable [`code`](Error::code) and the
//!   [`HTTP status`](Error::http_status) it maps to;
//! - whether it is [temporary](Error::is_temporary), i.e. worth retrying;
//! - context: which operation, key, backend and endpoint (credentials removed);
//! - the driver error underneath, as its [`source`](std::error::Error::source).
//!
//! ```
//! use core_error::{Error, ErrorKind, Result};
//!
//! fn find_user(id: u64) -> Result<String> {
//!     Err(Error::not_found("no such user")
//!         .with_operation("users.get")
//!         .with_key(id.to_string()))
//! }
//!
//! let err = find_user(7).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! assert_eq!(err.http_status(), 404);
//! assert_eq!(err.to_string(), "not_found: no such user (operation=users.get, key=7)");
//! ```
//!
//! This crate is deliberately tiny (it depends on `thiserror` and `url`
//! only) so every other crate can depend on it. Its `redis` feature adds the
//! one driver mapping two crates share, [`redis_error_kind`].
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod kind;
mod redact;
#[cfg(feature = "redis")]
mod redis;
mod secret_names;
mod tls;

pub use error::{BoxError, Error, Result};
pub use kind::ErrorKind;
pub use redact::redact_endpoint;
#[cfg(feature = "redis")]
pub use redis::{redis_error, redis_error_kind, redis_tls_failure};
pub use secret_names::SECRET_NAME_FRAGMENTS;
#[cfg(feature = "rustls")]
pub use tls::install_ring_provider;
pub use tls::{TlsFailure, TlsFiles};
