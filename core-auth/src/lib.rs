//! Tokens, passwords and permissions for services built on the SDK.
//!
//! - [`jwt`]: signing and verifying JSON Web Tokens with HS256/384/512,
//!   RS256, ES256 and EdDSA. Each key pins its algorithm, so `alg: none` and
//!   algorithm confusion are rejected; keys carry ids (`kid`) for rotation,
//!   and asymmetric keys export as a [JWKS](jwt::KeyRing::jwks).
//! - [`tokens`]: access and refresh pairs. Each refresh rotates the refresh
//!   token; reusing a retired one revokes its whole family. Revocations live
//!   in a [`core_cache::Cache`], so every instance sharing the cache sees them.
//! - [`password`]: argon2id hashing with OWASP parameters, verification of
//!   bcrypt and PBKDF2 hashes from older systems, `needs_rehash`, and a
//!   [`PasswordPolicy`](password::PasswordPolicy).
//! - [`rbac`]: roles, permissions, inheritance and wildcards (`orders:*`),
//!   defined in configuration.
//! - [`api_key`]: keys with a visible prefix and a secret, stored as hashes.
//! - [`throttle`]: login throttling per account and per client address.
//! - `axum` (feature `axum`): an extractor for the [`Principal`], a layer
//!   that requires a permission, and 401/403 JSON bodies.
//! - [`AuthSettings`]: the `auth` section of a service's settings.
//!
//! ```
//! use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm, TokenType};
//!
//! # fn main() -> core_error::Result<()> {
//! let settings = JwtSettings {
//!     issuer: "https://auth.example.com".into(),
//!     audience: vec!["orders-api".into()],
//!     signing_kid: "2025-01".into(),
//!     keys: vec![KeySettings::hmac("2025-01", SigningAlgorithm::HS256, "a-32-byte-or-longer-secret-value!!")],
//!     ..JwtSettings::default()
//! };
//! let keys = KeyRing::from_settings(&settings)?;
//! // Claims carrying the ring's issuer and audience.
//! let claims = keys.claims("user-42", TokenType::Access, std::time::Duration::from_secs(900));
//! let token = keys.sign(&claims)?;
//! let verified = keys.verify(&token)?;
//! assert_eq!(verified.sub, "user-42");
//! # Ok(()) }
//! ```
//!
//! Every failure is a [`core_error::Error`]: bad, expired or revoked
//! credentials are [`Unauthenticated`](ErrorKind::Unauthenticated), missing
//! permissions [`PermissionDenied`](ErrorKind::PermissionDenied). No error
//! ever carries a token, a password or a key.
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api_key;
#[cfg(feature = "axum")]
pub mod axum;
pub mod jwt;
pub mod password;
mod principal;
pub mod rbac;
mod settings;
pub mod throttle;
pub mod tokens;

pub use core_error::{Error, ErrorKind, Result};
pub use principal::{Principal, PrincipalKind};
pub use settings::{ApiKeySettings, AuthSettings};
