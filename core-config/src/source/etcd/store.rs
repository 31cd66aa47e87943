//! The operator's side of the etcd source: read, write, compare and push a
//! prefix (what `core-config etcd …` does).

use std::collections::BTreeMap;
use std::fmt;

use core_error::Result;

use super::{EtcdClient, EtcdSettings, Kv, block_on};
use crate::Loader;
use crate::echo::redact_url;
use crate::sensitive::is_sensitive_name;

/// A connection to etcd for reading and writing settings keys.
///
/// ```no_run
/// use core_config::{AppEnv, EtcdSettings, EtcdStore, Loader};
///
/// let settings = EtcdSettings::new(["http://127.0.0.1:2379"], "orders");
/// let store = EtcdStore::connect(&settings)?;
/// let prefix = settings.key_prefix(AppEnv::Prod)?;
/// // Validate the service's files for prod, then make the prefix hold them.
/// let changes = store.push(&Loader::new().dir("configs/orders").env(AppEnv::Prod), &prefix)?;
/// println!("{changes}");
/// # Ok::<(), core_error::Error>(())
/// ```
#[derive(Clone)]
pub struct EtcdStore {
    client: EtcdClient,
}

/// The keys under a prefix (relative to it) and the revision read at.
#[derive(Clone, Default)]
pub struct EtcdListing {
    /// The store's revision when read.
    pub revision: i64,
    /// Each key relative to the prefix, with its value, sorted by key.
    pub kvs: Vec<(String, String)>,
}

impl EtcdListing {
    /// The keys with their values as safe to show: `***` for a key whose
    /// name marks a secret, `ENC(…)` for an encrypted value, URL passwords
    /// and query values masked.
    pub fn redacted(&self) -> Vec<(String, String)> {
        self.kvs
            .iter()
            .map(|(key, value)| (key.clone(), redacted_value(key, value)))
            .collect()
    }
}

impl fmt::Debug for EtcdListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdListing")
            .field("revision", &self.revision)
            .field("kvs", &self.redacted())
            .finish()
    }
}

/// What separates a prefix from the settings of a folder: keys only, never
/// values (they may be secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdDiff {
    /// In the files, not in etcd.
    pub added: Vec<String>,
    /// In etcd, not in the files.
    pub removed: Vec<String>,
    /// In both, with different values.
    pub changed: Vec<String>,
    /// In both, equal.
    pub unchanged: usize,
}

impl EtcdDiff {
    /// Whether the prefix already holds exactly the files' settings.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl fmt::Display for EtcdDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for key in &self.added {
            writeln!(f, "+ {key}")?;
        }
        for key in &self.removed {
            writeln!(f, "- {key}")?;
        }
        for key in &self.changed {
            writeln!(f, "~ {key}")?;
        }
        write!(
            f,
            "{} added, {} removed, {} changed, {} unchanged",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.unchanged
        )
    }
}

impl EtcdStore {
    /// Connects as `settings` say (endpoints, TLS, user); nothing is sent
    /// until the first call.
    pub fn connect(settings: &EtcdSettings) -> Result<EtcdStore> {
        Ok(EtcdStore {
            client: EtcdClient::new(settings)?,
        })
    }

    /// Every key under `prefix`.
    pub fn list(&self, prefix: &str) -> Result<EtcdListing> {
        let listing = block_on(self.client.list(prefix))??;
        let mut kvs: Vec<(String, String)> = listing
            .kvs
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        kvs.sort();
        Ok(EtcdListing {
            revision: listing.revision,
            kvs,
        })
    }

    /// Sets the full key `key`; returns the new revision.
    pub fn put(&self, key: &str, value: &str) -> Result<i64> {
        block_on(self.client.put(key, value))?
    }

    /// Makes `prefix` hold exactly `kvs` (keys relative to it) in one
    /// transaction (up to 128 changes: etcd's default `--max-txn-ops`; more
    /// go in several); returns the new revision.
    pub fn replace(&self, prefix: &str, kvs: &[(String, String)]) -> Result<i64> {
        let kvs: Vec<Kv> = kvs
            .iter()
            .map(|(key, value)| Kv {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        block_on(self.client.replace(prefix, &kvs))?
    }

    /// How `prefix` differs from the settings in the config files of
    /// `loader` (`config/default.*` and `config/<env>.*`, values as written:
    /// `ENC(...)` stays encrypted).
    pub fn diff(&self, loader: &Loader, prefix: &str) -> Result<EtcdDiff> {
        let wanted = loader.file_settings()?;
        let have: BTreeMap<String, String> = self.list(prefix)?.kvs.into_iter().collect();
        Ok(compare(&wanted, &have))
    }

    /// Validates the settings of `loader` as the service would load them
    /// without etcd (every rule, every `ENC(...)` opened), then makes
    /// `prefix` hold the values of its config files, in one transaction.
    /// Nothing is written when validation fails. Returns what changed.
    pub fn push(&self, loader: &Loader, prefix: &str) -> Result<EtcdDiff> {
        loader.clone().without_etcd().load_untyped()?;
        let wanted = loader.file_settings()?;
        let have: BTreeMap<String, String> = self.list(prefix)?.kvs.into_iter().collect();
        let diff = compare(&wanted, &have);
        if !diff.is_empty() {
            let kvs: Vec<(String, String)> = wanted.into_iter().collect();
            self.replace(prefix, &kvs)?;
        }
        Ok(diff)
    }
}

fn compare(wanted: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> EtcdDiff {
    let mut diff = EtcdDiff::default();
    for (key, value) in wanted {
        match have.get(key) {
            None => diff.added.push(key.clone()),
            Some(old) if old != value => diff.changed.push(key.clone()),
            Some(_) => diff.unchanged += 1,
        }
    }
    diff.removed = have
        .keys()
        .filter(|key| !wanted.contains_key(*key))
        .cloned()
        .collect();
    diff
}

fn redacted_value(key: &str, value: &str) -> String {
    if crate::is_enc(value) {
        return "ENC(…)".to_string();
    }
    if key.split('/').any(is_sensitive_name) {
        return "***".to_string();
    }
    redact_url(value).unwrap_or_else(|| value.to_string())
}
