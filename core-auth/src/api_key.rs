//! API keys: a visible prefix and id, a secret shown once, a stored hash.
//!
//! A key reads `<prefix>_<id>_<secret>`, for example
//! `ck_3f9a1c0e7b2d4a68_Jq2...`. The prefix says what the key is for (and
//! lets secret scanners find leaked keys), the id finds the stored record,
//! and the secret — 32 random bytes — is never stored: only its SHA-256
//! digest is. A slow password hash is unnecessary for a secret with 256
//! bits of entropy, and SHA-256 keeps verification fast. The digest is
//! compared in constant time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_cache::Cache;
use core_error::{Error, Result};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom as _, SystemRandom};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::jwt::unix_now;
use crate::{Principal, PrincipalKind};

/// What is kept about a key: never the secret, only its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The public id, the part after the prefix.
    pub id: String,
    /// The visible prefix.
    pub prefix: String,
    /// The subject the key acts for.
    pub owner: String,
    /// Permission patterns the key grants (`orders:read`, `orders:*`).
    pub scopes: Vec<String>,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// When it was made, Unix seconds.
    pub created_at: u64,
    /// When it stops working, Unix seconds, if ever.
    pub expires_at: Option<u64>,
}

impl ApiKeyRecord {
    /// The principal a request made with this key acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: self.owner.clone(),
            roles: Vec::new(),
            scopes: self.scopes.clone(),
            kind: PrincipalKind::ApiKey {
                key_id: self.id.clone(),
            },
        }
    }
}

/// Where key records live.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug {
    /// Stores `record` under its id.
    async fn put(&self, record: &ApiKeyRecord) -> Result<()>;
    /// The record with `id`, if any.
    async fn get(&self, id: &str) -> Result<Option<ApiKeyRecord>>;
    /// Removes the record with `id`; returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool>;
}

/// Key records in a [`Cache`] (Redis with persistence in production), each
/// kept until its key expires or forever.
#[derive(Debug, Clone)]
pub struct CacheApiKeyStore {
    cache: Cache,
}

impl CacheApiKeyStore {
    /// Records under `auth:api-key:<id>` in `cache`.
    pub fn new(cache: Cache) -> CacheApiKeyStore {
        CacheApiKeyStore { cache }
    }
}

fn record_key(id: &str) -> String {
    format!("auth:api-key:{id}")
}

#[async_trait]
impl ApiKeyStore for CacheApiKeyStore {
    async fn put(&self, record: &ApiKeyRecord) -> Result<()> {
        let ttl = record
            .expires_at
            .map(|at| Duration::from_secs(at.saturating_sub(unix_now()).max(1)));
        self.cache.set(&record_key(&record.id), record, ttl).await
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        self.cache.get(&record_key(id)).await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        self.cache.delete(&record_key(id)).await
    }
}

/// A freshly generated key: the full text, shown to its owner once.
pub struct GeneratedKey {
    /// `<prefix>_<id>_<secret>`; hand it over and forget it.
    pub key: SecretString,
    /// What was stored.
    pub record: ApiKeyRecord,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("key", &"[REDACTED]")
            .field("record", &self.record)
            .finish()
    }
}

/// Generates, verifies and revokes API keys.
///
/// ```
/// use std::sync::Arc;
/// use core_auth::api_key::{ApiKeys, CacheApiKeyStore};
/// use core_cache::{CacheSettings, connect};
/// use secrecy::ExposeSecret as _;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let store = CacheApiKeyStore::new(connect(&CacheSettings::from_url("memory://")).await?);
/// let keys = ApiKeys::new("ck", Arc::new(store))?;
/// let generated = keys.generate("svc-billing", &["invoices:*".into()], None).await?;
/// assert!(generated.key.expose_secret().starts_with("ck_"));
///
/// let principal = keys.authenticate(generated.key.expose_secret()).await?;
/// assert_eq!(principal.subject, "svc-billing");
///
/// keys.revoke(&generated.record.id).await?;
/// assert!(keys.authenticate(generated.key.expose_secret()).await.is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ApiKeys {
    prefix: String,
    store: Arc<dyn ApiKeyStore>,
}

fn rejected(message: &'static str) -> Error {
    Error::unauthenticated(message).with_operation("auth.verify_api_key")
}

fn sha256_hex(bytes: &[u8]) -> String {
    digest(&SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl ApiKeys {
    /// Keys starting `<prefix>_`, kept in `store`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) unless the
    /// prefix is 1 to 16 lowercase ASCII letters and digits.
    pub fn new(prefix: impl Into<String>, store: Arc<dyn ApiKeyStore>) -> Result<ApiKeys> {
        let prefix = prefix.into();
        let valid = (1..=16).contains(&prefix.len())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !valid {
            return Err(Error::invalid_input(format!(
                "the API key prefix {prefix:?} must be 1 to 16 lowercase letters and digits"
            ))
            .with_key("auth.api_keys.prefix"));
        }
        Ok(ApiKeys { prefix, store })
    }

    /// Makes a key for `owner` granting `scopes`, expiring after `lifetime`
    /// if given, and stores its record.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an invalid
    /// scope; the store's errors.
    pub async fn generate(
        &self,
        owner: &str,
        scopes: &[String],
        lifetime: Option<Duration>,
    ) -> Result<GeneratedKey> {
        for scope in scopes {
            crate::rbac::Permission::parse(scope)?;
        }
        let rng = SystemRandom::new();
        let mut id = [0_u8; 8];
        let mut secret = [0_u8; 32];
        rng.fill(&mut id)
            .and_then(|()| rng.fill(&mut secret))
            .map_err(|_| {
                Error::internal("the system RNG failed").with_operation("auth.generate_api_key")
            })?;
        let id: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let now = unix_now();
        let record = ApiKeyRecord {
            id: id.clone(),
            prefix: self.prefix.clone(),
            owner: owner.to_string(),
            scopes: scopes.to_vec(),
            secret_sha256: sha256_hex(secret.as_bytes()),
            created_at: now,
            expires_at: lifetime.map(|lifetime| now.saturating_add(lifetime.as_secs())),
        };
        self.store.put(&record).await?;
        Ok(GeneratedKey {
            key: SecretString::from(format!("{}_{id}_{secret}", self.prefix)),
            record,
        })
    }

    /// Checks a presented key and returns its record.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) for a
    /// malformed, unknown, revoked, expired or wrong key (never echoed); the
    /// store's errors.
    pub async fn verify(&self, presented: &str) -> Result<ApiKeyRecord> {
        let mut parts = presented.splitn(3, '_');
        let (Some(prefix), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(rejected("the API key is malformed"));
        };
        if prefix != self.prefix || id.len() != 16 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(rejected("the API key is malformed"));
        }
        let record = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| rejected("the API key is unknown or revoked"))?;
        let presented_digest = sha256_hex(secret.as_bytes());
        let matches: bool = presented_digest
            .as_bytes()
            .ct_eq(record.secret_sha256.as_bytes())
            .into();
        if !matches {
            return Err(rejected("the API key is invalid"));
        }
        if record.expires_at.is_some_and(|at| unix_now() >= at) {
            return Err(rejected("the API key has expired"));
        }
        Ok(record)
    }

    /// [`verify`](ApiKeys::verify), as the [`Principal`] the key acts for.
    ///
    /// # Errors
    ///
    /// As for `verify`.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal> {
        self.verify(presented)
            .await
            .map(|record| record.principal())
    }

    /// Revokes the key with `id`; returns whether it existed.
    ///
    /// # Errors
    ///
    /// The store's errors.
    pub async fn revoke(&self, id: &str) -> Result<bool> {
        self.store.delete(id).await
    }

    /// Whether `presented` looks like one of this service's keys (its
    /// prefix), to tell API keys from bearer tokens without verifying.
    pub fn looks_like_key(&self, presented: &str) -> bool {
        presented
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.starts_with('_'))
    }
}
