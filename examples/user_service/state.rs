//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use core_sdk::auth::axum::AuthState;
use core_sdk::auth::password::{PasswordPolicy, Passwords};
use core_sdk::auth::rbac::Rbac;
use core_sdk::auth::throttle::LoginThrottle;
use core_sdk::auth::tokens::TokenService;
use core_sdk::cache::Cache;
use core_sdk::error::Result;
use core_sdk::mq::MessageQueueBase;

use crate::settings::UsersSettings;
use crate::store::UserStore;

/// The router's state: one reference count to clone, since every handler
/// and extractor clones it per request.
#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What the handlers share.
pub(crate) struct Services {
    pub(crate) store: UserStore,
    /// User reads, under `user:<id>`.
    pub(crate) cache: Cache,
    pub(crate) tokens: TokenService,
    pub(crate) auth: AuthState,
    pub(crate) throttle: LoginThrottle,
    pub(crate) passwords: Passwords,
    pub(crate) policy: Arc<PasswordPolicy>,
    pub(crate) queue: Arc<dyn MessageQueueBase>,
    pub(crate) users: Arc<UsersSettings>,
    /// Verified when the user name is unknown, so that a miss costs as much
    /// as a wrong password and does not reveal which names exist.
    pub(crate) decoy_hash: Arc<str>,
}

impl FromRef<AppState> for AuthState {
    fn from_ref(state: &AppState) -> AuthState {
        state.auth.clone()
    }
}

impl AppState {
    /// The roles and permissions.
    pub(crate) fn rbac(&self) -> &Rbac {
        self.auth.rbac()
    }

    /// How long a user read stays cached.
    pub(crate) fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.users.cache_ttl_secs)
    }

    /// Hashes `password` off the async workers, a bounded number at once:
    /// argon2id is meant to be slow and takes 19 MiB a hash.
    pub(crate) async fn hash_password(&self, password: String) -> Result<String> {
        self.passwords.hash_bounded(password).await
    }

    /// Whether `password` matches `hash`, bounded like `hash_password`.
    pub(crate) async fn verify_password(&self, password: String, hash: Arc<str>) -> Result<bool> {
        self.passwords.verify_bounded(password, hash).await
    }
}

/// The cache key of a user read.
pub(crate) fn user_key(id: &str) -> String {
    format!("user:{id}")
}
