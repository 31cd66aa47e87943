//! etcd as a settings source: the keys under a service's prefix
//! (`/config/<service>/<env>/database/url`) become settings
//! (`database.url`), above the files and `.env.<env>`, below `.secrets` and
//! the process environment.

mod settings;
pub use settings::EtcdSettings;

#[cfg(feature = "etcd")]
mod client;
#[cfg(feature = "etcd")]
mod snapshot;
#[cfg(feature = "etcd")]
mod store;
#[cfg(feature = "etcd")]
pub use store::{EtcdDiff, EtcdListing, EtcdStore};
#[cfg(feature = "etcd")]
mod tls;
#[cfg(all(feature = "etcd", feature = "reload"))]
pub(crate) mod watch;

#[cfg(feature = "etcd")]
pub(crate) use client::{EtcdClient, Kv};

use config::{Map, Value, ValueKind};

use super::Origin;
use crate::validate::Violations;

/// What the loader read from etcd: the prefix, its keys (relative to it) and
/// the revision they were read at.
#[derive(Clone)]
// The settings and revision serve the watch, which needs `etcd` and `reload`.
#[cfg_attr(not(all(feature = "etcd", feature = "reload")), allow(dead_code))]
pub(crate) struct Remote {
    pub(crate) settings: EtcdSettings,
    pub(crate) prefix: String,
    pub(crate) revision: i64,
    pub(crate) kvs: Vec<(String, String)>,
}

impl Remote {
    /// The keys as settings, each tagged with its full etcd key. A key that
    /// cannot name a setting is reported, never skipped.
    pub(crate) fn to_map(
        &self,
        list_keys: &[String],
        violations: &mut Violations,
    ) -> Map<String, Value> {
        let mut map = Map::new();
        for (key, value) in &self.kvs {
            let full = format!("{}{key}", self.prefix);
            let segments: Vec<String> = key.split('/').map(str::to_ascii_lowercase).collect();
            if segments.iter().any(|s| s.is_empty() || s.contains('.')) {
                violations.push(
                    format!("etcd key {full}"),
                    "does not name a setting: write section/name segments without '.' or \
                     empty parts (database/url for database.url)",
                );
                continue;
            }
            let path = segments.join(".");
            if path == "config.etcd" || path.starts_with("config.etcd.") {
                violations.push(
                    format!("etcd key {full}"),
                    "config.etcd cannot be set from etcd itself: set it in the files or the \
                     environment",
                );
                continue;
            }
            let origin = Origin::Etcd { key: full }.encode();
            let kind = if let Some(items) = json_list(value) {
                ValueKind::Array(
                    items
                        .into_iter()
                        .map(|item| Value::new(Some(&origin), item))
                        .collect(),
                )
            } else if list_keys.contains(&path) {
                super::comma_list(value, &origin)
            } else {
                ValueKind::String(value.clone())
            };
            map.insert(path, Value::new(Some(&origin), kind));
        }
        map
    }
}

/// The items of a value written as a JSON array of scalars (`["a", "b"]`):
/// how a list is kept in one key.
#[cfg(not(feature = "etcd"))]
fn json_list(_: &str) -> Option<Vec<String>> {
    None
}

/// The items of a value written as a JSON array of scalars (`["a", "b"]`):
/// how a list is kept in one key.
#[cfg(feature = "etcd")]
fn json_list(value: &str) -> Option<Vec<String>> {
    let text = value.trim();
    if !text.starts_with('[') {
        return None;
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    items
        .into_iter()
        .map(|item| match item {
            serde_json::Value::String(text) => Some(text),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        })
        .collect()
}

/// Reads the prefix of `settings` for `env`; with etcd unreachable, the
/// snapshot when one is configured, else a clear error.
#[cfg(feature = "etcd")]
pub(crate) fn read(settings: &EtcdSettings, env: crate::AppEnv) -> core_error::Result<Remote> {
    let prefix = settings.key_prefix(env)?;
    let client = EtcdClient::new(settings)?;
    let listed = block_on(async { client.list(&prefix).await })?;
    match listed {
        Ok(listing) => {
            let remote = Remote {
                settings: settings.clone(),
                prefix,
                revision: listing.revision,
                kvs: listing
                    .kvs
                    .into_iter()
                    .map(|kv| (kv.key, kv.value))
                    .collect(),
            };
            if let Some(path) = &settings.snapshot
                && let Err(err) = snapshot::write(path, &remote)
            {
                tracing::warn!(snapshot = %path.display(), error = %err, "cannot keep the etcd snapshot");
            }
            Ok(remote)
        }
        Err(err) if err.kind() == core_error::ErrorKind::Unavailable => {
            let Some(path) = &settings.snapshot else {
                return Err(err.with_context(
                    "hint",
                    "start etcd, or set config.etcd.snapshot to start from the last copy",
                ));
            };
            let remote = snapshot::read(path, settings, &prefix).map_err(|snapshot_err| {
                err.with_context("snapshot", snapshot_err.message().to_string())
            })?;
            tracing::warn!(
                prefix = %prefix,
                revision = remote.revision,
                snapshot = %path.display(),
                "etcd is unreachable; starting from its last snapshot"
            );
            Ok(remote)
        }
        Err(err) => Err(err),
    }
}

/// Without the `etcd` feature, a `config.etcd` section is refused rather
/// than ignored.
#[cfg(not(feature = "etcd"))]
pub(crate) fn read(_: &EtcdSettings, _: crate::AppEnv) -> core_error::Result<Remote> {
    Err(core_error::Error::unsupported(
        "config.etcd is set but core-config was built without its `etcd` feature",
    )
    .with_key("config.etcd.endpoints")
    .with_operation("config.load"))
}

/// Runs `future` to completion on a runtime of its own, on a thread of its
/// own: the loader is synchronous and may be called from inside a runtime.
#[cfg(feature = "etcd")]
pub(crate) fn block_on<F>(future: F) -> core_error::Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|err| core_error::Error::from(err).with_operation("config.etcd"))?;
                Ok(runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|_| {
                Err(core_error::Error::internal("the etcd reader panicked")
                    .with_operation("config.etcd"))
            })
    })
}
