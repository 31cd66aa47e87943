//! The `auth.jwt` settings section.

use secrecy::SecretString;
use serde::Deserialize;

use super::SigningAlgorithm;

/// How tokens are signed and checked.
///
/// ```
/// use core_auth::jwt::JwtSettings;
///
/// let settings: JwtSettings = serde_json::from_str(r#"{
///     "issuer": "https://auth.example.com",
///     "audience": ["orders-api"],
///     "signing_kid": "2025-06",
///     "keys": [
///         {"kid": "2025-06", "algorithm": "HS256", "secret": "0123456789abcdef0123456789abcdef"},
///         {"kid": "2025-01", "algorithm": "HS256", "secret": "fedcba9876543210fedcba9876543210"}
///     ]
/// }"#).unwrap();
/// assert_eq!(settings.leeway_secs, 30);
/// assert!(!format!("{settings:?}").contains("0123456789abcdef"));
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// The `iss` put into issued tokens and required of verified ones.
    /// Empty: none is issued and none is checked.
    pub issuer: String,
    /// The audiences accepted; the first is put into issued tokens. Empty:
    /// none is issued and none is checked.
    pub audience: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. Default 30.
    pub leeway_secs: u64,
    /// The `kid` of the key new tokens are signed with.
    pub signing_kid: String,
    /// Every key: the signing key and those still accepted for verification.
    pub keys: Vec<KeySettings>,
}

impl Default for JwtSettings {
    fn default() -> JwtSettings {
        JwtSettings {
            issuer: String::new(),
            audience: Vec::new(),
            leeway_secs: 30,
            signing_kid: String::new(),
            keys: Vec::new(),
        }
    }
}

/// One key, pinned to one algorithm.
///
/// HMAC keys take `secret`. RSA, ECDSA and Ed25519 keys take
/// `private_key_pem` (PKCS#8, or PKCS#1 for RSA) to sign and verify, or
/// `public_key_pem` alone to verify tokens another service signs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// The key id carried in each token's header.
    pub kid: String,
    /// The one algorithm this key signs and verifies with.
    pub algorithm: SigningAlgorithm,
    /// The shared secret of an HMAC key.
    #[serde(default)]
    pub secret: Option<SecretString>,
    /// The PEM private key of an asymmetric key.
    #[serde(default)]
    pub private_key_pem: Option<SecretString>,
    /// The PEM public key of a verification-only asymmetric key.
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

impl KeySettings {
    /// An HMAC key.
    pub fn hmac(
        kid: impl Into<String>,
        algorithm: SigningAlgorithm,
        secret: impl Into<String>,
    ) -> KeySettings {
        KeySettings {
            kid: kid.into(),
            algorithm,
            secret: Some(SecretString::from(secret.into())),
            private_key_pem: None,
            public_key_pem: None,
        }
    }

    /// An asymmetric key that signs (and verifies) with a PEM private key.
    pub fn private_pem(
        kid: impl Into<String>,
        algorithm: SigningAlgorithm,
        pem: impl Into<String>,
    ) -> KeySettings {
        KeySettings {
            kid: kid.into(),
            algorithm,
            secret: None,
            private_key_pem: Some(SecretString::from(pem.into())),
            public_key_pem: None,
        }
    }

    /// An asymmetric key that only verifies, from a PEM public key.
    pub fn public_pem(
        kid: impl Into<String>,
        algorithm: SigningAlgorithm,
        pem: impl Into<String>,
    ) -> KeySettings {
        KeySettings {
            kid: kid.into(),
            algorithm,
            secret: None,
            private_key_pem: None,
            public_key_pem: Some(pem.into()),
        }
    }
}
