//! The revocation list, kept in the cache.

use std::time::Duration;

use core_cache::Cache;
use core_error::Result;

/// Cache keys, under the caller's namespace. Joined rather than
/// `format!`ted: three of them are made on every authenticated request, and
/// `format!` took about 850 instructions a key where joining takes 150
/// (callgrind, `scripts/instructions-per-request.sh`).
fn revoked_token(jti: &str) -> String {
    joined("auth:revoked:", jti)
}

fn revoked_family(family: &str) -> String {
    joined("auth:revoked-family:", family)
}

/// When the subject's rights last changed (milliseconds since the epoch):
/// every token issued before is revoked.
fn subject_not_before(subject: &str) -> String {
    joined("auth:subject-not-before:", subject)
}

fn retired_refresh(jti: &str) -> String {
    joined("auth:retired:", jti)
}

fn joined(prefix: &str, id: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + id.len());
    key.push_str(prefix);
    key.push_str(id);
    key
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

    /// Whether the token `jti`, its family, or every token of its subject
    /// issued before it (`issued_at_ms`) has been revoked: one cache read.
    pub(crate) async fn is_revoked(
        &self,
        jti: &str,
        family: Option<&str>,
        subject: &str,
        issued_at_ms: u64,
    ) -> Result<bool> {
        let token_key = revoked_token(jti);
        let subject_key = subject_not_before(subject);
        let family_key = family.map(revoked_family);
        let mut keys = vec![token_key.as_str(), subject_key.as_str()];
        keys.extend(family_key.as_deref());
        // Markers hold 1; the subject's holds its not-before instant.
        let found: Vec<Option<u64>> = self.cache.get_many(&keys).await?;
        let subject_revoked = found[1].is_some_and(|not_before| issued_at_ms < not_before);
        Ok(subject_revoked || found[0].is_some() || found.get(2).is_some_and(Option::is_some))
    }

    /// Revokes every token of `subject` issued before `not_before_ms`.
    pub(crate) async fn revoke_subject(
        &self,
        subject: &str,
        not_before_ms: u64,
        remaining: Duration,
    ) -> Result<()> {
        self.cache
            .set(
                &subject_not_before(subject),
                &not_before_ms,
                Some(remaining),
            )
            .await
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
