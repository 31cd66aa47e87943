//! Issuing, verifying, rotating and revoking token pairs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use core_cache::Cache;
use core_error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

use super::revocation::Revocations;
use super::subjects::{SubjectDirectory, SubjectRights};
use crate::Principal;
use crate::jwt::{Claims, KeyRing, TokenType, unix_now_ms};

/// Token lifetimes: the `auth.tokens` settings section.
///
/// ```
/// use core_auth::tokens::TokenSettings;
///
/// let settings: TokenSettings = serde_json::from_str(r#"{"access_ttl_secs": 300}"#).unwrap();
/// assert_eq!(settings.access_ttl_secs, 300);
/// assert_eq!(settings.refresh_ttl_secs, 14 * 24 * 3600);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// Lifetime of an access token. Default 900 s (15 minutes).
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token; each refresh starts a new one. Default 14 days.
    pub refresh_ttl_secs: u64,
    /// What an access token check does while the revocation cache cannot
    /// be reached. Default `refuse`.
    pub revocation_outage: RevocationOutage,
    /// The cache namespace revocations are written to and read from, on
    /// the server of the cache the service is given, whatever that cache's
    /// own namespace. Every service accepting the same tokens names the
    /// same one (`auth.revocations`, say), so a logout at one reaches all.
    /// Default: none, the given cache's own namespace.
    pub revocation_namespace: Option<String>,
}

impl Default for TokenSettings {
    fn default() -> TokenSettings {
        TokenSettings {
            access_ttl_secs: 900,
            refresh_ttl_secs: 14 * 24 * 3600,
            revocation_outage: RevocationOutage::default(),
            revocation_namespace: None,
        }
    }
}

/// Whether an access token is accepted while revocations cannot be read.
///
/// `refuse` keeps every revoked token out, at the cost of refusing every
/// request while the cache is down. `accept` keeps the service answering:
/// a token's signature, expiry, issuer and audience are still checked, and
/// only a revocation (logout, a user's rights changed) made before the
/// outage is missed, for at most the access lifetime. Each token accepted
/// so is counted in `auth_revocation_checks_skipped_total` and logged.
/// Refreshing always needs the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationOutage {
    /// Refuse the request with the cache's temporary error (503).
    #[default]
    Refuse,
    /// Accept a token that verifies, without its revocation check.
    Accept,
}

/// An access token and the refresh token that renews it.
///
/// Serializes as the usual OAuth token response body; `Debug` hides both
/// tokens.
#[derive(Clone, Serialize)]
pub struct TokenPair {
    /// Presented as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchanged once for the next pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[REDACTED]")
            .field("refresh_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .finish()
    }
}

/// Issues, verifies, rotates and revokes token pairs.
///
/// Cheap to clone; clones share the keys and the cache.
///
/// ```
/// use std::sync::Arc;
/// use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
/// use core_auth::tokens::{TokenService, TokenSettings};
/// use core_auth::ErrorKind;
/// use core_cache::{CacheSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let keys = KeyRing::from_settings(&JwtSettings {
///     signing_kid: "k1".into(),
///     keys: vec![KeySettings::hmac("k1", SigningAlgorithm::HS256, "0123456789abcdef0123456789abcdef")],
///     ..JwtSettings::default()
/// })?;
/// let cache = connect(&CacheSettings::from_url("memory://")).await?;
/// let tokens = TokenService::new(Arc::new(keys), cache, &TokenSettings::default())?;
///
/// let pair = tokens.issue("user-42", &["editor".into()], &[]).await?;
/// assert_eq!(tokens.authenticate(&pair.access_token).await?.subject, "user-42");
///
/// let next = tokens.refresh(&pair.refresh_token).await?;
/// // Replaying the retired refresh token revokes the whole session.
/// let replay = tokens.refresh(&pair.refresh_token).await.unwrap_err();
/// assert_eq!(replay.kind(), ErrorKind::Unauthenticated);
/// assert!(tokens.authenticate(&next.access_token).await.is_err());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenService {
    keys: Arc<KeyRing>,
    revocations: Revocations,
    subjects: Option<Arc<dyn SubjectDirectory>>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    revocation_outage: RevocationOutage,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("keys", &self.keys)
            .field("subjects", &self.subjects.is_some())
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

fn rejected(operation: &'static str, message: &'static str) -> Error {
    Error::unauthenticated(message).with_operation(operation)
}

impl TokenService {
    /// A service signing with `keys` and keeping revocations in `cache`, or
    /// on its server under `settings.revocation_namespace` when that is set.
    ///
    /// Give the cache a namespace of its own (`auth`, say) when it is shared.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a zero
    /// lifetime, an access lifetime longer than the refresh lifetime, or a
    /// key ring that cannot sign.
    pub fn new(keys: Arc<KeyRing>, cache: Cache, settings: &TokenSettings) -> Result<TokenService> {
        if settings.access_ttl_secs == 0 || settings.refresh_ttl_secs == 0 {
            return Err(
                Error::invalid_input("token lifetimes must be above zero").with_key("auth.tokens")
            );
        }
        if settings.access_ttl_secs > settings.refresh_ttl_secs {
            return Err(Error::invalid_input(
                "auth.tokens.access_ttl_secs is longer than refresh_ttl_secs",
            )
            .with_key("auth.tokens.access_ttl_secs"));
        }
        if keys.signing_kid().is_none() {
            return Err(Error::invalid_input(
                "the token service needs a signing key; set auth.jwt.signing_kid",
            )
            .with_key("auth.jwt.signing_kid"));
        }
        let cache = match &settings.revocation_namespace {
            Some(namespace) => Cache::builder(cache.backend().clone())
                .namespace(namespace.clone())
                .build()
                .map_err(|err| err.with_key("auth.tokens.revocation_namespace"))?,
            None => cache,
        };
        Ok(TokenService {
            keys,
            revocations: Revocations::new(cache),
            subjects: None,
            access_ttl: Duration::from_secs(settings.access_ttl_secs),
            refresh_ttl: Duration::from_secs(settings.refresh_ttl_secs),
            revocation_outage: settings.revocation_outage,
        })
    }

    /// Asks `subjects` for a subject's current roles and scopes on every
    /// [`refresh`](TokenService::refresh), so a session follows the rights
    /// its user holds now: a demoted user's next pair carries the new
    /// roles, and a deleted or disabled user's refresh is refused (and its
    /// session revoked).
    ///
    /// Without a directory, a refresh copies the roles of the token it
    /// replaces; then call [`revoke_subject`](TokenService::revoke_subject)
    /// whenever a user's rights change.
    #[must_use]
    pub fn with_subjects(mut self, subjects: Arc<dyn SubjectDirectory>) -> TokenService {
        self.subjects = Some(subjects);
        self
    }

    /// The keys tokens are signed and verified with.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Starts a login session for `subject`: a new family and its first pair.
    ///
    /// # Errors
    ///
    /// As for [`KeyRing::sign`].
    pub async fn issue(
        &self,
        subject: &str,
        roles: &[String],
        scopes: &[String],
    ) -> Result<TokenPair> {
        let family = uuid::Uuid::new_v4().to_string();
        self.pair(subject, roles, scopes, &family)
    }

    fn pair(
        &self,
        subject: &str,
        roles: &[String],
        scopes: &[String],
        family: &str,
    ) -> Result<TokenPair> {
        let make = |token_type, lifetime| {
            let mut claims = self
                .keys
                .claims(subject, token_type, lifetime)
                .with_roles(roles.iter().cloned())
                .with_scopes(scopes.iter().cloned());
            claims.fam = Some(family.to_string());
            self.keys.sign(&claims)
        };
        Ok(TokenPair {
            access_token: make(TokenType::Access, self.access_ttl)?,
            refresh_token: make(TokenType::Refresh, self.refresh_ttl)?,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
            refresh_expires_in: self.refresh_ttl.as_secs(),
        })
    }

    /// Checks an access token, including that neither it nor its family has
    /// been revoked, and returns its claims.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) for a bad,
    /// expired, refresh or revoked token; the cache's errors (then the token
    /// is not accepted: revocation fails closed).
    pub async fn verify_access(&self, token: &str) -> Result<Claims> {
        let claims = self.keys.verify_type(token, TokenType::Access)?;
        let revoked = match self.is_revoked(&claims).await {
            Ok(revoked) => revoked,
            Err(err)
                if self.revocation_outage == RevocationOutage::Accept
                    && matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) =>
            {
                metrics::counter!("auth_revocation_checks_skipped_total").increment(1);
                tracing::warn!(error = %err, "revocations unreachable; accepting a verified access token unchecked");
                false
            }
            Err(err) => return Err(err),
        };
        if revoked {
            return Err(rejected("auth.verify_token", "the token has been revoked"));
        }
        Ok(claims)
    }

    /// [`verify_access`](TokenService::verify_access), as a [`Principal`].
    ///
    /// # Errors
    ///
    /// As for `verify_access`.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        self.verify_access(access_token).await.map(Principal::from)
    }

    /// Exchanges a refresh token for a new pair and retires it.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) for a bad,
    /// expired, access or revoked token, and for a refresh token that was
    /// already used — which also revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        const OPERATION: &str = "auth.refresh";
        let claims = self
            .keys
            .verify_type(refresh_token, TokenType::Refresh)
            .map_err(|err| err.with_operation(OPERATION))?;
        let family = claims
            .fam
            .as_deref()
            .ok_or_else(|| rejected(OPERATION, "the refresh token belongs to no session"))?;
        if self.is_revoked(&claims).await? {
            return Err(rejected(OPERATION, "the refresh token has been revoked"));
        }
        // Looked up before the token is retired, so that a store error
        // leaves the session usable once the store is back.
        let rights = match &self.subjects {
            Some(subjects) => subjects
                .current_rights(&claims.sub)
                .await
                .map_err(|err| err.with_operation(OPERATION))?,
            None => Some(SubjectRights {
                roles: claims.roles.clone(),
                scopes: claims.scopes.clone(),
            }),
        };
        let retired = self
            .revocations
            .retire(&claims.jti, self.remaining(&claims))
            .await?;
        if !retired || rights.is_none() {
            self.revocations
                .revoke_family(family, self.family_lifetime())
                .await?;
        }
        if !retired {
            return Err(rejected(
                OPERATION,
                "the refresh token was already used; its session has been revoked",
            ));
        }
        let Some(rights) = rights else {
            return Err(rejected(
                OPERATION,
                "the account no longer exists or is disabled",
            ));
        };
        self.pair(&claims.sub, &rights.roles, &rights.scopes, family)
    }

    /// Ends every session of `subject`: each token issued to it until now,
    /// access or refresh, stops working, on every instance sharing the
    /// cache. Tokens issued afterwards (its next login) work.
    ///
    /// Call it when the subject is deleted or disabled, loses a role, or
    /// changes its password. Access tokens are checked against it in the
    /// same cache read as the other revocations.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
    /// # use core_auth::tokens::{TokenService, TokenSettings};
    /// # use core_cache::{CacheSettings, connect};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
    /// # let keys = KeyRing::from_settings(&JwtSettings {
    /// #     signing_kid: "k1".into(),
    /// #     keys: vec![KeySettings::hmac("k1", SigningAlgorithm::HS256, "0123456789abcdef0123456789abcdef")],
    /// #     ..JwtSettings::default()
    /// # })?;
    /// # let cache = connect(&CacheSettings::from_url("memory://")).await?;
    /// let tokens = TokenService::new(Arc::new(keys), cache, &TokenSettings::default())?;
    /// let before = tokens.issue("user-42", &["admin".into()], &[]).await?;
    /// tokens.revoke_subject("user-42").await?;
    /// assert!(tokens.authenticate(&before.access_token).await.is_err());
    /// assert!(tokens.refresh(&before.refresh_token).await.is_err());
    ///
    /// let after = tokens.issue("user-42", &["user".into()], &[]).await?;
    /// assert!(tokens.authenticate(&after.access_token).await.is_ok());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The cache's errors.
    pub async fn revoke_subject(&self, subject: &str) -> Result<()> {
        // Every token issued up to this millisecond is revoked; waiting for
        // the next one makes sure a token issued after the call is not.
        let not_before = unix_now_ms() + 1;
        self.revocations
            .revoke_subject(subject, not_before, self.family_lifetime())
            .await
            .map_err(|err| err.with_operation("auth.revoke_subject"))?;
        while unix_now_ms() < not_before {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(())
    }

    async fn is_revoked(&self, claims: &Claims) -> Result<bool> {
        self.revocations
            .is_revoked(
                &claims.jti,
                claims.fam.as_deref(),
                &claims.sub,
                claims.issued_at_ms(),
            )
            .await
    }

    /// Revokes one token (access or refresh) until it would have expired.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) for a
    /// token that does not verify; the cache's errors.
    pub async fn revoke(&self, token: &str) -> Result<()> {
        let claims = self
            .keys
            .verify(token)
            .map_err(|err| err.with_operation("auth.revoke"))?;
        self.revocations
            .revoke_token(&claims.jti, self.remaining(&claims))
            .await
    }

    /// Ends the login session `token` (access or refresh) belongs to: every
    /// token of its family stops working.
    ///
    /// # Errors
    ///
    /// As for [`revoke`](TokenService::revoke).
    pub async fn logout(&self, token: &str) -> Result<()> {
        let claims = self
            .keys
            .verify(token)
            .map_err(|err| err.with_operation("auth.logout"))?;
        self.revocations
            .revoke_token(&claims.jti, self.remaining(&claims))
            .await?;
        if let Some(family) = &claims.fam {
            self.revocations
                .revoke_family(family, self.family_lifetime())
                .await?;
        }
        Ok(())
    }

    /// How long a revocation of `claims` must be remembered: until the
    /// token would fail verification on its own.
    fn remaining(&self, claims: &Claims) -> Duration {
        Duration::from_secs(claims.remaining_secs() + self.keys.leeway_secs())
    }

    /// No token of a family outlives the newest refresh token, issued at
    /// the latest now.
    fn family_lifetime(&self) -> Duration {
        self.refresh_ttl + Duration::from_secs(self.keys.leeway_secs())
    }
}
