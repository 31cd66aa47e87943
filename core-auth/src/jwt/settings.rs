//! The `auth.jwt` settings section.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::SigningAlgorithm;

/// How tokens are signed and checked.
///
/// Keys come from [`keys`](JwtSettings::keys), from the one-variable
/// shorthand [`secret`](JwtSettings::secret), or both:
///
/// ```
/// use core_auth::jwt::{JwtSettings, KeyRing, TokenType};
///
/// // `APP__AUTH__JWT__SECRET=...` in the environment is all this needs.
/// let settings: JwtSettings = serde_json::from_str(
///     r#"{"secret": "0123456789abcdef0123456789abcdef"}"#,
/// ).unwrap();
/// let ring = KeyRing::from_settings(&settings).unwrap();
/// assert_eq!(ring.signing_kid(), Some("default"));
/// let token = ring.sign(&ring.claims("u1", TokenType::Access, std::time::Duration::from_secs(60))).unwrap();
/// assert_eq!(ring.verify(&token).unwrap().sub, "u1");
/// ```
///
/// Several keys, for rotation or asymmetric algorithms:
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
    /// Shorthand for one HS256 signing key, so a single setting
    /// (`auth.jwt.secret`, env `APP__AUTH__JWT__SECRET`) is enough.
    ///
    /// When set and not blank it becomes a key whose kid is
    /// [`signing_kid`](JwtSettings::signing_kid), or `"default"` when that is
    /// empty, and it signs. It joins the ring beside
    /// [`keys`](JwtSettings::keys), so older keys listed there still verify;
    /// an entry of `keys` with the same kid is a configuration error. Like any
    /// HS256 secret it must be at least 32 bytes.
    pub secret: Option<SecretString>,
}

/// The kid of the [`JwtSettings::secret`] key when `signing_kid` is empty.
pub(crate) const DEFAULT_KID: &str = "default";

impl JwtSettings {
    /// The key [`secret`](JwtSettings::secret) stands for, if it is set and
    /// not blank.
    pub(crate) fn shorthand_key(&self) -> Option<KeySettings> {
        let secret = self.shorthand_secret()?;
        Some(KeySettings {
            kid: self.effective_signing_kid().to_string(),
            algorithm: SigningAlgorithm::HS256,
            secret: Some(secret.clone()),
            private_key_pem: None,
            public_key_pem: None,
        })
    }

    /// The kid new tokens are signed with: `signing_kid`, or the shorthand
    /// key's `"default"` when only [`secret`](JwtSettings::secret) names it.
    pub(crate) fn effective_signing_kid(&self) -> &str {
        if self.signing_kid.is_empty() && self.shorthand_secret().is_some() {
            DEFAULT_KID
        } else {
            &self.signing_kid
        }
    }

    /// [`secret`](JwtSettings::secret) unless it is unset or blank (an empty
    /// `APP__AUTH__JWT__SECRET=` means "no shorthand key").
    fn shorthand_secret(&self) -> Option<&SecretString> {
        self.secret
            .as_ref()
            .filter(|secret| !secret.expose_secret().trim().is_empty())
    }
}

impl Default for JwtSettings {
    fn default() -> JwtSettings {
        JwtSettings {
            issuer: String::new(),
            audience: Vec::new(),
            leeway_secs: 30,
            signing_kid: String::new(),
            keys: Vec::new(),
            secret: None,
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
