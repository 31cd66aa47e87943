//! The `cache.tiered` section.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// Settings of the in-process L1 of a tiered cache (`cache.tiered`).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TieredSettings {
    /// How long a value stays in L1. Default 30 000 ms.
    pub l1_ttl_ms: u64,
    /// The most entries in L1. Default 10 000.
    pub l1_max_entries: u64,
    /// The Redis server whose pub/sub carries invalidations; defaults to
    /// `url` when that is a Redis URL.
    pub invalidation_url: Option<SecretString>,
}

impl Default for TieredSettings {
    fn default() -> TieredSettings {
        TieredSettings {
            l1_ttl_ms: 30_000,
            l1_max_entries: 10_000,
            invalidation_url: None,
        }
    }
}

impl fmt::Debug for TieredSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredSettings")
            .field("l1_ttl_ms", &self.l1_ttl_ms)
            .field("l1_max_entries", &self.l1_max_entries)
            .field(
                "invalidation_url",
                &self
                    .invalidation_url
                    .as_ref()
                    .map(|url| core_error::redact_endpoint(url.expose_secret())),
            )
            .finish()
    }
}
