//! What a token says.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::{unix_now, unix_now_ms};

/// Whether a token grants access or only the right to get new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// Presented with each request; short-lived.
    Access,
    /// Exchanged for a new pair; long-lived, rotated on every use.
    Refresh,
}

/// The claims of a token issued or accepted by this crate.
///
/// Every time claim is a whole number of seconds since the Unix epoch. The
/// types are strict: an `exp` sent as a string fails to parse and the token
/// is rejected, rather than being treated as having no expiry.
///
/// ```
/// use std::time::Duration;
/// use core_auth::jwt::{Claims, TokenType};
///
/// let claims = Claims::new("user-42", TokenType::Access, Duration::from_secs(60))
///     .with_roles(["editor"]);
/// assert_eq!(claims.exp - claims.iat, 60);
/// assert_eq!(claims.roles, ["editor"]);
/// assert_eq!(claims.jti.len(), 36);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Whom the token is about (a user or service id).
    pub sub: String,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Issued at, in milliseconds: what a subject's revocation
    /// ([`TokenService::revoke_subject`](crate::tokens::TokenService::revoke_subject))
    /// is compared with, so that a token issued in the same second just
    /// after it stays valid. Absent from tokens minted elsewhere, which are
    /// then taken as issued at the start of their `iat` second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<u64>,
    /// Not valid before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audiences; a single string in the token is read as one audience.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub aud: Vec<String>,
    /// The token's unique id, the handle revocation uses.
    pub jti: String,
    /// Role names, resolved to permissions by [`Rbac`](crate::rbac::Rbac).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Permission patterns granted directly, such as `orders:read`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Access or refresh.
    #[serde(rename = "typ")]
    pub token_type: TokenType,
    /// The login session (token family) the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    /// Claims for `subject`, issued now, expiring after `lifetime`, with a
    /// fresh random `jti`.
    pub fn new(subject: impl Into<String>, token_type: TokenType, lifetime: Duration) -> Claims {
        let now_ms = unix_now_ms();
        let now = now_ms / 1000;
        Claims {
            sub: subject.into(),
            exp: now.saturating_add(lifetime.as_secs()),
            iat: now,
            iat_ms: Some(now_ms),
            nbf: None,
            iss: None,
            aud: Vec::new(),
            jti: uuid::Uuid::new_v4().to_string(),
            roles: Vec::new(),
            scopes: Vec::new(),
            token_type,
            fam: None,
        }
    }

    /// Sets the roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Claims
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Claims
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// When the token was issued, in milliseconds since the Unix epoch:
    /// `iat_ms`, or the start of the `iat` second.
    pub fn issued_at_ms(&self) -> u64 {
        self.iat_ms.unwrap_or(self.iat.saturating_mul(1000))
    }

    /// Seconds until the token expires, zero if it has.
    pub fn remaining_secs(&self) -> u64 {
        self.exp.saturating_sub(unix_now())
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}
