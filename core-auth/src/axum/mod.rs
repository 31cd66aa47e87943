//! axum integration: an extractor for the authenticated [`Principal`], a
//! layer that requires a permission, and 401/403 JSON bodies carrying the
//! shared error codes.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use core_auth::axum::{AuthState, Authenticated};
//! use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
//! use core_auth::rbac::{Rbac, RbacSettings};
//! use core_auth::tokens::{TokenService, TokenSettings};
//! use core_cache::{CacheSettings, connect};
//!
//! async fn me(Authenticated(principal): Authenticated) -> String {
//!     principal.subject
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
//! let keys = KeyRing::from_settings(&JwtSettings {
//!     signing_kid: "k1".into(),
//!     keys: vec![KeySettings::hmac("k1", SigningAlgorithm::HS256, "0123456789abcdef0123456789abcdef")],
//!     ..JwtSettings::default()
//! })?;
//! let cache = connect(&CacheSettings::from_url("memory://")).await?;
//! let tokens = TokenService::new(Arc::new(keys), cache, &TokenSettings::default())?;
//! let auth = AuthState::new(tokens, Rbac::from_settings(&RbacSettings::default())?);
//!
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "orders" }).layer(auth.require("orders:read")))
//!     .route("/me", get(me))
//!     .with_state(auth);
//! # let _ = app; Ok(()) }
//! ```

mod layer;
mod rejection;

pub use layer::{RequirePermission, RequirePermissionLayer};
pub use rejection::AuthRejection;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use core_error::{Error, Result};

use crate::Principal;
use crate::api_key::ApiKeys;
use crate::rbac::Rbac;
use crate::tokens::TokenService;

/// What the extractor and the layer need: the token service, the roles and,
/// optionally, API keys. Cheap to clone (one reference count); put it in
/// (or derive it from) the router's state.
#[derive(Debug, Clone)]
pub struct AuthState {
    // One `Arc` rather than one per part: the extractor clones the state
    // on every request, and each count it touches is shared by all the
    // runtime's threads.
    inner: Arc<Checks>,
}

#[derive(Debug, Clone)]
struct Checks {
    tokens: TokenService,
    rbac: Arc<Rbac>,
    api_keys: Option<ApiKeys>,
}

impl AuthState {
    /// Accepts bearer access tokens checked by `tokens`.
    pub fn new(tokens: TokenService, rbac: Rbac) -> AuthState {
        AuthState {
            inner: Arc::new(Checks {
                tokens,
                rbac: Arc::new(rbac),
                api_keys: None,
            }),
        }
    }

    /// Also accepts API keys (`Authorization: Bearer ck_...`).
    #[must_use]
    pub fn with_api_keys(self, api_keys: ApiKeys) -> AuthState {
        let mut checks = Arc::unwrap_or_clone(self.inner);
        checks.api_keys = Some(api_keys);
        AuthState {
            inner: Arc::new(checks),
        }
    }

    /// The roles permission checks use.
    pub fn rbac(&self) -> &Rbac {
        &self.inner.rbac
    }

    /// A layer that answers 401 without valid credentials and 403 without
    /// `permission`, and otherwise passes the request on with the
    /// [`Principal`] in its extensions.
    pub fn require(&self, permission: &str) -> RequirePermissionLayer {
        RequirePermissionLayer::new(self.clone(), permission)
    }

    /// The principal behind the request's `Authorization: Bearer` header.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) for a
    /// missing or malformed header and for credentials that do not verify;
    /// the cache's errors.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal> {
        let credential = bearer(headers)?;
        match &self.inner.api_keys {
            Some(api_keys) if api_keys.looks_like_key(credential) => {
                api_keys.authenticate(credential).await
            }
            _ => self.inner.tokens.authenticate(credential).await,
        }
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str> {
    let missing = || {
        Error::unauthenticated("an Authorization: Bearer header is required")
            .with_operation("auth.authenticate")
    };
    let value = headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, credential) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
        return Err(missing());
    }
    Ok(credential.trim())
}

/// The authenticated caller, as a handler argument.
///
/// Uses the principal a [`RequirePermissionLayer`] already found, or
/// authenticates the request itself; rejects with a 401 JSON body.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    AuthState: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Authenticated(principal.clone()));
        }
        let auth = AuthState::from_ref(state);
        // Not kept in the extensions for a second extractor: that copy (its
        // strings and lists) would cost every request for the rare handler
        // that extracts the caller twice.
        Ok(Authenticated(auth.authenticate(&parts.headers).await?))
    }
}
