//! This crate's own settings section.

use serde::Deserialize;

/// The setting that logs the redacted effective configuration at load.
pub const ECHO_SETTING: &str = "config.echo";
/// The setting that makes [`Loader::watch_if_enabled`](crate::Loader) reload
/// the settings when their files change.
pub const WATCH_SETTING: &str = "config.watch";

/// The `config` section a service nests to control this crate.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     #[serde(default)]
///     config: core_config::ConfigSection,
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Log the redacted effective configuration (with each value's source)
    /// through `tracing` after every successful [`load`](crate::load) and
    /// [`Loader::load`](crate::Loader::load), reloads included. The
    /// production rules refuse it in prod.
    pub echo: bool,
    /// Reload the settings when their files change, when the service starts
    /// them with `Loader::watch_if_enabled` (feature `reload`); off, the
    /// settings are loaded once.
    pub watch: bool,
    /// Read settings from etcd too (feature `etcd`), and with `watch` on,
    /// follow its changes. Off unless `endpoints` is set.
    pub etcd: crate::EtcdSettings,
    /// Settings allowed to name a server outside loopback without TLS in
    /// prod (by default, every such URL is a violation), such as
    /// `["cache.url"]`.
    pub allow_plaintext: Vec<String>,
}
