//! The revocation list, kept in the cache.

use std::time::Duration;

use core_cache::Cache;
use core_error::Result;

/// Cache keys, under the caller's namespace.
fn revoked_token(jti: &str) -> String {
    format!("auth:revoked:{jti}")
}

fn revoked_family(family: &str) -> String {
    format!("auth:revoked-family:{family}")
}

fn retired_refresh(jti: &str) -> String {
    format!("auth:retired:{jti}")
}

/// The revocation list and the retired refresh tokens.
#[derive(Debug, Clone)]
pub(crate) struct Revocations {
    cache: Cache,
}

impl Revocations {
    pub(crate) fn new(cache: Cache) -> Revocations {
        Revocations { cache }
    }

    /// Whether the token `jti`, or its family, has been revoked.
    pub(crate) async fn is_revoked(&self, jti: &str, family: Option<&str>) -> Result<bool> {
        let token_key = revoked_token(jti);
        let Some(family) = family else {
            return self.cache.exists(&token_key).await;
        };
        let family_key = revoked_family(family);
        let found: Vec<Option<u8>> = self.cache.get_many(&[&token_key, &family_key]).await?;
        Ok(found.iter().any(Option::is_some))
    }

    pub(crate) async fn revoke_token(&self, jti: &str, remaining: Duration) -> Result<()> {
        if remaining.is_zero() {
            return Ok(());
        }
        self.cache
            .set(&revoked_token(jti), &1_u8, Some(remaining))
            .await
    }

    pub(crate) async fn revoke_family(&self, family: &str, remaining: Duration) -> Result<()> {
        self.cache
            .set(&revoked_family(family), &1_u8, Some(remaining))
            .await
    }

    /// Marks a refresh token used; false if it already was (a replay).
    pub(crate) async fn retire(&self, jti: &str, remaining: Duration) -> Result<bool> {
        let remaining = remaining.max(Duration::from_secs(1));
        self.cache
            .set_if_absent(&retired_refresh(jti), &1_u8, Some(remaining))
            .await
    }
}
