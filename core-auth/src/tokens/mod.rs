//! Access and refresh token pairs, rotation, and revocation.
//!
//! [`TokenService`] issues a pair at login. Each [`refresh`](TokenService::refresh)
//! retires the presented refresh token and returns a new pair in the same
//! *family* (login session). Presenting a retired refresh token again means
//! it was stolen or replayed: the whole family is revoked, so neither the
//! thief nor the user keeps a working token, and the user logs in again.
//!
//! A session follows its user's rights: with a [`SubjectDirectory`], each
//! refresh reads the subject's current roles (and refuses a deleted or
//! disabled one), and [`TokenService::revoke_subject`] ends every session
//! of a user whose rights or password changed.
//!
//! Revocations are written to a [`core_cache::Cache`] with a TTL equal to the
//! remaining lifetime of what they revoke, so the list never outgrows the
//! live tokens. Every instance sharing the cache (Redis in production) sees
//! them. When the cache cannot be reached, verification fails closed with a
//! temporary [`Unavailable`](core_error::ErrorKind::Unavailable) error.

mod revocation;
mod service;
mod subjects;

pub use service::{RevocationOutage, TokenPair, TokenService, TokenSettings};
pub use subjects::{SubjectDirectory, SubjectRights};
