//! This crate's own settings section.

use serde::Deserialize;

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
#[serde(default)]
pub struct ConfigSection {
    /// Print the redacted effective configuration at start-up. Must be off
    /// in prod.
    pub echo: bool,
    /// Reload the settings when their files change.
    pub watch: bool,
}
