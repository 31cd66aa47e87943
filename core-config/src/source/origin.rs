//! Which source set a value.

use std::fmt;
use std::path::PathBuf;

use config::{Map, Source, Value, ValueKind};

// The origin travels inside `config::Value`'s free-text origin field; a unit
// separator keeps the parts apart without ambiguity.
const SEP: char = '\u{1f}';

/// The source a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in defaults given to the loader.
    Default,
    /// A config file (`config/default.toml`, `config/prod.yaml`, ...),
    /// relative to the loader's folder.
    File(PathBuf),
    /// A variable in a variables file (`.env.<env>` or `.secrets`).
    VarFile {
        /// The file, relative to the loader's folder.
        file: PathBuf,
        /// The variable's name.
        var: String,
    },
    /// A variable of the process environment.
    Environment {
        /// The variable's name.
        var: String,
    },
    /// A key in etcd (or in the local snapshot of its prefix).
    Etcd {
        /// The full key, such as `/config/orders/prod/database/url`.
        key: String,
    },
    /// Not recorded.
    Unknown,
}

impl Origin {
    pub(crate) fn encode(&self) -> String {
        match self {
            Origin::Default => "default".to_string(),
            Origin::File(path) => format!("file{SEP}{}", path.display()),
            Origin::VarFile { file, var } => format!("varfile{SEP}{}{SEP}{var}", file.display()),
            Origin::Environment { var } => format!("env{SEP}{var}"),
            Origin::Etcd { key } => format!("etcd{SEP}{key}"),
            Origin::Unknown => String::new(),
        }
    }

    pub(crate) fn decode(text: Option<&str>) -> Origin {
        let Some(text) = text else {
            return Origin::Unknown;
        };
        let mut parts = text.split(SEP);
        match (parts.next(), parts.next(), parts.next()) {
            (Some("default"), None, None) => Origin::Default,
            (Some("file"), Some(path), None) => Origin::File(PathBuf::from(path)),
            (Some("varfile"), Some(file), Some(var)) => Origin::VarFile {
                file: PathBuf::from(file),
                var: var.to_string(),
            },
            (Some("env"), Some(var), None) => Origin::Environment {
                var: var.to_string(),
            },
            (Some("etcd"), Some(key), None) => Origin::Etcd {
                key: key.to_string(),
            },
            _ => Origin::Unknown,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::VarFile { file, var } => write!(f, "{var} in {}", file.display()),
            Origin::Environment { var } => write!(f, "environment variable {var}"),
            Origin::Etcd { key } => write!(f, "etcd key {key}"),
            Origin::Unknown => f.write_str("unknown"),
        }
    }
}

/// Wraps a `config` source and stamps every value it yields with one origin.
#[derive(Debug, Clone)]
pub(crate) struct Tagged<S> {
    pub(crate) inner: S,
    pub(crate) origin: Origin,
}

impl<S> Source for Tagged<S>
where
    S: Source + Clone + Send + Sync + 'static,
{
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        let origin = self.origin.encode();
        Ok(self
            .inner
            .collect()?
            .into_iter()
            .map(|(key, value)| (key, retag(value, &origin)))
            .collect())
    }
}

pub(crate) fn retag(value: Value, origin: &str) -> Value {
    let origin = origin.to_string();
    let kind = match value.kind {
        ValueKind::Table(table) => ValueKind::Table(
            table
                .into_iter()
                .map(|(key, child)| (key, retag(child, &origin)))
                .collect(),
        ),
        ValueKind::Array(items) => {
            ValueKind::Array(items.into_iter().map(|item| retag(item, &origin)).collect())
        }
        other => other,
    };
    Value::new(Some(&origin), kind)
}
