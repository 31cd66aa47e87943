//! Opening every `ENC(...)` value of the merged settings.

use std::collections::BTreeSet;

use config::{Map, Value, ValueKind};
use secrecy::ExposeSecret;

use crate::crypto::{AES_SECRET_VAR, AesKey, EncValue, is_enc};
use crate::validate::Violations;

/// Where the key came from, and whether it could be read.
pub(crate) enum KeyState {
    /// `AES_SECRET` is set nowhere.
    Missing,
    /// `AES_SECRET` is set but is not a key; already reported as a violation.
    Malformed,
    /// The key.
    Ready(AesKey),
}

impl KeyState {
    /// Reads `AES_SECRET` from `text` (the first place that sets it). A
    /// malformed key is reported at `AES_SECRET` whether or not any value is
    /// encrypted: it would break the first `ENC(...)` value added later.
    pub(crate) fn read(text: Option<(&str, &str)>, violations: &mut Violations) -> KeyState {
        let Some((text, place)) = text else {
            return KeyState::Missing;
        };
        match AesKey::parse(text) {
            Ok(key) => KeyState::Ready(key),
            Err(err) => {
                violations.push(AES_SECRET_VAR, format!("(in {place}) {}", err.message()));
                KeyState::Malformed
            }
        }
    }
}

/// Walks the merged tree, replacing each `ENC(...)` text by its plaintext and
/// recording a violation for each one that does not open.
pub(crate) struct Decrypting<'a> {
    pub(crate) key: &'a KeyState,
    /// Where the key would be looked for, for the message when it is missing.
    pub(crate) key_places: &'a str,
    /// The paths of the values that were encrypted.
    pub(crate) encrypted: BTreeSet<String>,
    pub(crate) violations: &'a mut Violations,
}

impl Decrypting<'_> {
    /// The table with every encrypted value opened.
    pub(crate) fn table(&mut self, prefix: &str, table: Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, value) in table {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            out.insert(name, self.value(path, value));
        }
        out
    }

    fn value(&mut self, path: String, value: Value) -> Value {
        let origin = value.origin().map(str::to_string);
        let kind = match value.kind {
            ValueKind::Table(table) => ValueKind::Table(self.table(&path, table)),
            ValueKind::Array(items) => ValueKind::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| self.value(format!("{path}[{index}]"), item))
                    .collect(),
            ),
            ValueKind::String(text) if is_enc(&text) => self.open(path, text),
            other => other,
        };
        Value::new(origin.as_ref(), kind)
    }

    fn open(&mut self, path: String, text: String) -> ValueKind {
        let key = match self.key {
            KeyState::Ready(key) => key,
            KeyState::Missing => {
                self.violations.push(
                    path,
                    format!(
                        "is ENC(...) but {AES_SECRET_VAR} is set neither in {}",
                        self.key_places
                    ),
                );
                return ValueKind::String(text);
            }
            KeyState::Malformed => {
                self.violations.push(
                    path,
                    format!("is ENC(...) but {AES_SECRET_VAR} is not a valid key"),
                );
                return ValueKind::String(text);
            }
        };
        match EncValue::parse(&text).and_then(|value| value.decrypt(key)) {
            Ok(plain) => {
                self.encrypted.insert(path);
                // `config` holds text as `String`; the typed settings take it
                // back into a `SecretString`.
                ValueKind::String(plain.expose_secret().to_string())
            }
            Err(err) => {
                self.violations.push(path, format!("cannot decrypt: {err}"));
                ValueKind::String(String::new())
            }
        }
    }
}
