//! Where revoked tokens live, shared by every service that accepts the
//! user service's tokens.
//!
//! A logout at the user service must reach every other service checking
//! those tokens, so revocations sit in one cache namespace that all of them
//! name by the same setting (`revocations.namespace`,
//! `APP__REVOCATIONS__NAMESPACE`), on the same cache server. It is separate
//! from each service's own `cache.namespace`: a service renaming its cached
//! data must not lose sight of the logouts.

use core_sdk::cache::Cache;
use core_sdk::error::Result;
use serde::Deserialize;

/// The namespace both services use unless told otherwise.
pub(crate) const DEFAULT_REVOCATION_NAMESPACE: &str = "auth.revocations";

/// The `revocations` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RevocationSettings {
    /// The cache namespace revoked tokens are written to and read from; the
    /// same value in every service. Default `auth.revocations`.
    pub(crate) namespace: String,
}

impl Default for RevocationSettings {
    fn default() -> RevocationSettings {
        RevocationSettings {
            namespace: DEFAULT_REVOCATION_NAMESPACE.to_string(),
        }
    }
}

impl RevocationSettings {
    /// A view of `cache`'s server under the revocation namespace, whatever
    /// namespace `cache` itself has.
    pub(crate) fn cache(&self, cache: &Cache) -> Result<Cache> {
        Cache::builder(cache.backend().clone())
            .namespace(self.namespace.clone())
            .build()
            .map_err(|err| err.with_key("revocations.namespace"))
    }
}
