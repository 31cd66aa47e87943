//! The `auth` section of a service's settings.

use serde::Deserialize;

use crate::jwt::JwtSettings;
use crate::password::PasswordSettings;
use crate::rbac::RbacSettings;
use crate::throttle::ThrottleSettings;
use crate::tokens::TokenSettings;

/// Everything this crate reads from configuration, as one serde section
/// that `core-config` nests under `auth`.
///
/// Secrets (HMAC secrets, private keys) are `SecretString`s: `Debug` shows
/// `[REDACTED]` in their place.
///
/// ```
/// use core_auth::AuthSettings;
///
/// let settings: AuthSettings = serde_json::from_str(r#"{
///     "jwt": {
///         "issuer": "https://auth.example.com",
///         "signing_kid": "k1",
///         "keys": [{"kid": "k1", "algorithm": "HS256", "secret": "pl4nted-s3cret-that-is-32-bytes-long"}]
///     },
///     "tokens": {"access_ttl_secs": 600},
///     "rbac": {"roles": {"admin": {"permissions": ["*"]}}},
///     "throttle": {"max_account_failures": 10}
/// }"#).unwrap();
/// assert_eq!(settings.tokens.access_ttl_secs, 600);
/// assert_eq!(settings.api_keys.prefix, "ck");
/// assert!(!format!("{settings:?}").contains("pl4nted"));
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Token signing keys, issuer, audience and leeway.
    pub jwt: JwtSettings,
    /// Access and refresh token lifetimes.
    pub tokens: TokenSettings,
    /// Password hashing cost and policy.
    pub passwords: PasswordSettings,
    /// Roles and their permissions.
    pub rbac: RbacSettings,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// API key format.
    pub api_keys: ApiKeySettings,
}

/// The `auth.api_keys` settings section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiKeySettings {
    /// The visible prefix of every key. Default `ck`.
    pub prefix: String,
}

impl Default for ApiKeySettings {
    fn default() -> ApiKeySettings {
        ApiKeySettings {
            prefix: "ck".to_string(),
        }
    }
}
