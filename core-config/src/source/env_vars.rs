//! Prefixed variables as a `config` source.

use std::fmt;

use config::{ConfigError, Map, Source, Value, ValueKind};

use super::Origin;

/// Variables named `<PREFIX>__A__B`, turned into the setting `a.b`.
///
/// Values stay strings: `config` converts them when a typed field asks, and
/// keeping them as text spares a password like `0123` from becoming `123`.
#[derive(Clone)]
pub(crate) struct EnvVars {
    pub(crate) vars: Vec<(String, String)>,
    pub(crate) prefix: String,
    /// `None` for the process environment, else the variables file.
    pub(crate) file: Option<std::path::PathBuf>,
    /// Settings whose value is a comma-separated list.
    pub(crate) list_keys: Vec<String>,
}

impl EnvVars {
    /// The setting path a variable sets, if it carries the prefix.
    pub(crate) fn key_of(&self, var: &str) -> Option<String> {
        setting_key(&self.prefix, var)
    }
}

/// `a, b,c` as a list of text items, each tagged with `origin`: how a
/// variable or an etcd key declared a list holds one.
pub(crate) fn comma_list(text: &str, origin: &String) -> ValueKind {
    ValueKind::Array(
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| Value::new(Some(origin), item))
            .collect(),
    )
}

/// The setting path the variable `var` sets under `prefix` (`APP__A__B` →
/// `a.b`), if it sets one.
pub(crate) fn setting_key(prefix: &str, var: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(var, prefix)?;
    let rest = rest.strip_prefix("__")?;
    let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if segments
        .iter()
        .any(|segment| segment.is_empty() || segment.contains('.'))
    {
        return None;
    }
    Some(segments.join("."))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: only names are shown.
        f.debug_struct("EnvVars")
            .field("prefix", &self.prefix)
            .field("file", &self.file)
            .field(
                "names",
                &self.vars.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Source for EnvVars {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        let mut map = Map::new();
        for (var, value) in &self.vars {
            let Some(key) = self.key_of(var) else {
                continue;
            };
            let origin = match &self.file {
                Some(file) => Origin::VarFile {
                    file: file.clone(),
                    var: var.clone(),
                },
                None => Origin::Environment { var: var.clone() },
            }
            .encode();
            let kind = if self.list_keys.contains(&key) {
                comma_list(value, &origin)
            } else {
                ValueKind::String(value.clone())
            };
            map.insert(key, Value::new(Some(&origin), kind));
        }
        Ok(map)
    }
}
