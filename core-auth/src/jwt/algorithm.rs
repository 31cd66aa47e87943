//! The algorithms a key can be pinned to.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A JWS signing algorithm; every key is pinned to exactly one.
///
/// `none` is deliberately absent: it cannot be configured, and a token whose
/// header names it never finds a key.
///
/// ```
/// use core_auth::jwt::SigningAlgorithm;
///
/// assert_eq!(SigningAlgorithm::ES256.name(), "ES256");
/// assert!(SigningAlgorithm::HS512.is_symmetric());
/// assert!(!SigningAlgorithm::EdDSA.is_symmetric());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// HMAC with SHA-256; a shared secret of at least 32 bytes.
    HS256,
    /// HMAC with SHA-384; a shared secret of at least 48 bytes.
    HS384,
    /// HMAC with SHA-512; a shared secret of at least 64 bytes.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    /// The name used in the JWT header's `alg`.
    pub const fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::HS256 => "HS256",
            SigningAlgorithm::HS384 => "HS384",
            SigningAlgorithm::HS512 => "HS512",
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// Whether signing and verifying share one secret (the HMAC family).
    pub const fn is_symmetric(self) -> bool {
        matches!(
            self,
            SigningAlgorithm::HS256 | SigningAlgorithm::HS384 | SigningAlgorithm::HS512
        )
    }

    /// The shortest HMAC secret accepted: the hash's output size (RFC 7518 §3.2).
    pub(crate) const fn min_secret_bytes(self) -> usize {
        match self {
            SigningAlgorithm::HS384 => 48,
            SigningAlgorithm::HS512 => 64,
            _ => 32,
        }
    }

    pub(crate) const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlgorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            SigningAlgorithm::HS384 => jsonwebtoken::Algorithm::HS384,
            SigningAlgorithm::HS512 => jsonwebtoken::Algorithm::HS512,
            SigningAlgorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            SigningAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            SigningAlgorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
