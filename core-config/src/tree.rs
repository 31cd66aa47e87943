//! The merged, decrypted settings before they become the service's type.

use std::collections::BTreeSet;

use config::{Map, Value, ValueKind};

use crate::sensitive::{is_sensitive_name, last_segment};

/// Sections whose every value is hidden in echoes, whatever its name.
const SECRET_SECTIONS: &[&str] = &["secrets", "credentials", "passwords"];
use crate::source::Origin;

/// The effective settings as a tree of values, each remembering its
/// [`Origin`]; what validation rules and the echo look at.
///
/// Paths are dotted, with `[n]` for list items: `cors.allowed_origins[0]`.
///
/// ```
/// use core_config::{AppEnv, Loader};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("config")).unwrap();
/// std::fs::write(dir.path().join("config/default.toml"), "[server]\nport = 8080\n").unwrap();
///
/// let loaded = Loader::new()
///     .dir(dir.path())
///     .env(AppEnv::Dev)
///     .environment::<&str, &str>([])
///     .load_untyped()
///     .unwrap();
/// let tree = loaded.tree();
/// assert_eq!(tree.get_i64("server.port"), Some(8080));
/// assert!(tree.contains("server.port"));
/// assert!(!tree.contains("server.host"));
/// ```
#[derive(Clone, Default)]
pub struct ConfigTree {
    root: Map<String, Value>,
    encrypted: BTreeSet<String>,
}

/// One value of a [`ConfigTree`]: a scalar, or a list item.
#[derive(Clone, Copy)]
pub struct Leaf<'a> {
    value: &'a Value,
}

impl std::fmt::Debug for Leaf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A leaf does not know its path, so cannot know whether it is secret.
        f.debug_struct("Leaf")
            .field("origin", &self.origin())
            .finish_non_exhaustive()
    }
}

impl<'a> Leaf<'a> {
    /// The value if it is text.
    pub fn as_str(&self) -> Option<&'a str> {
        match &self.value.kind {
            ValueKind::String(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a boolean: a boolean, or text such as `true`, `off`, `1`.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value.kind {
            ValueKind::Boolean(flag) => Some(*flag),
            ValueKind::I64(number) => Some(*number != 0),
            ValueKind::U64(number) => Some(*number != 0),
            ValueKind::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Some(true),
                "false" | "off" | "no" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value as an integer: an integer, or text that parses as one.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.value.kind {
            ValueKind::I64(number) => Some(*number),
            ValueKind::U64(number) => i64::try_from(*number).ok(),
            ValueKind::I128(number) => i64::try_from(*number).ok(),
            ValueKind::U128(number) => i64::try_from(*number).ok(),
            ValueKind::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// Whether the value is empty: nil, or blank text.
    pub fn is_empty(&self) -> bool {
        match &self.value.kind {
            ValueKind::Nil => true,
            ValueKind::String(text) => text.trim().is_empty(),
            ValueKind::Array(items) => items.is_empty(),
            ValueKind::Table(table) => table.is_empty(),
            _ => false,
        }
    }

    /// The source that set this value.
    pub fn origin(&self) -> Origin {
        Origin::decode(self.value.origin())
    }

    /// The value as plain text, for the echo (before redaction).
    pub(crate) fn display_text(&self) -> String {
        match &self.value.kind {
            ValueKind::String(text) => format!("{text:?}"),
            ValueKind::Nil => "null".to_string(),
            ValueKind::Array(items) if items.is_empty() => "[]".to_string(),
            ValueKind::Table(_) => "{}".to_string(),
            _ => self.value.to_string(),
        }
    }
}

impl ConfigTree {
    pub(crate) fn new(root: Map<String, Value>, encrypted: BTreeSet<String>) -> ConfigTree {
        ConfigTree { root, encrypted }
    }

    pub(crate) fn root(&self) -> &Map<String, Value> {
        &self.root
    }

    /// The value at `path`, if it is a scalar or an empty list or table.
    pub fn get(&self, path: &str) -> Option<Leaf<'_>> {
        let mut segments = split_path(path)?.into_iter();
        let first = segments.next()?;
        let mut current = match first {
            Segment::Key(key) => self.root.get(key)?,
            Segment::Index(_) => return None,
        };
        for segment in segments {
            current = match (segment, &current.kind) {
                (Segment::Key(key), ValueKind::Table(table)) => table.get(key)?,
                (Segment::Index(index), ValueKind::Array(items)) => items.get(index)?,
                _ => return None,
            };
        }
        Some(Leaf { value: current })
    }

    /// Whether `path` holds a non-empty value.
    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some_and(|leaf| !leaf.is_empty())
    }

    /// The text at `path`.
    pub fn get_str(&self, path: &str) -> Option<&str> {
        self.get(path)?.as_str()
    }

    /// The boolean at `path` (see [`Leaf::as_bool`]).
    pub fn get_bool(&self, path: &str) -> Option<bool> {
        self.get(path)?.as_bool()
    }

    /// The integer at `path` (see [`Leaf::as_i64`]).
    pub fn get_i64(&self, path: &str) -> Option<i64> {
        self.get(path)?.as_i64()
    }

    /// Every scalar and list item with its path, sorted by path. Empty tables
    /// and lists appear as one leaf each.
    pub fn leaves(&self) -> Vec<(String, Leaf<'_>)> {
        let mut out = Vec::new();
        for (key, value) in &self.root {
            collect_leaves(key.clone(), value, &mut out);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether the value at `path` was written as `ENC(...)`.
    pub fn was_encrypted(&self, path: &str) -> bool {
        self.encrypted.contains(path)
    }

    /// Whether the value at `path` is hidden in echoes and messages: it was
    /// encrypted, its name marks it secret, or it came from `.secrets`.
    pub fn is_secret(&self, path: &str) -> bool {
        if self.was_encrypted(path) {
            return true;
        }
        // A leaf is judged by its own name (`auth.tokens.access_ttl_secs` is
        // not a secret); a section named for secrets hides all it holds.
        let named_secret = is_sensitive_name(last_segment(path))
            || path
                .split('.')
                .map(|segment| segment.split('[').next().unwrap_or(segment))
                .any(|section| SECRET_SECTIONS.contains(&section.to_ascii_lowercase().as_str()));
        if named_secret {
            return true;
        }
        matches!(
            self.get(path).map(|leaf| leaf.origin()),
            Some(Origin::VarFile { file, .. }) if file.ends_with(".secrets")
        )
    }

    /// Replaces every secret value of this tree that occurs in `message` with
    /// `***`: the last line of defence for text that came from a library.
    pub fn scrub(&self, message: &str) -> String {
        let mut secrets: Vec<&str> = self
            .leaves()
            .into_iter()
            .filter(|(path, _)| self.is_secret(path))
            .filter_map(|(_, leaf)| leaf.as_str())
            .filter(|text| text.len() >= 3)
            .collect();
        // Longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|text| std::cmp::Reverse(text.len()));
        let mut scrubbed = message.to_string();
        for secret in secrets {
            scrubbed = if secret.chars().count() >= WHOLE_WORD_BELOW {
                scrubbed.replace(secret, "***")
            } else {
                replace_whole_words(&scrubbed, secret)
            };
        }
        scrubbed
    }

    /// The name a path would be written with as a variable: `database.url`
    /// under prefix `APP` is `APP__DATABASE__URL`.
    pub fn var_name(prefix: &str, path: &str) -> String {
        let mut name = prefix.to_ascii_uppercase();
        for segment in path.split('.') {
            name.push_str("__");
            name.push_str(&segment.to_ascii_uppercase());
        }
        name
    }
}

/// Secrets shorter than this are hidden only where they stand as a word of
/// their own: hiding `short` inside "shorter" would tell where it is
/// ("***er than 32 bytes") rather than hide it.
const WHOLE_WORD_BELOW: usize = 8;

/// `text` with each occurrence of `word` not touching a letter or digit on
/// either side replaced by `***`.
fn replace_whole_words(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        let stands_alone =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..at]);
        out.push_str(if stands_alone { "***" } else { word });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

fn collect_leaves<'a>(path: String, value: &'a Value, out: &mut Vec<(String, Leaf<'a>)>) {
    match &value.kind {
        ValueKind::Table(table) if !table.is_empty() => {
            for (key, child) in table {
                collect_leaves(format!("{path}.{key}"), child, out);
            }
        }
        ValueKind::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                collect_leaves(format!("{path}[{index}]"), item, out);
            }
        }
        _ => out.push((path, Leaf { value })),
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(path: &str) -> Option<Vec<Segment<'_>>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, mut indexes) = match part.find('[') {
            Some(open) => (&part[..open], &part[open..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return None;
        }
        segments.push(Segment::Key(key));
        while let Some(rest) = indexes.strip_prefix('[') {
            let close = rest.find(']')?;
            segments.push(Segment::Index(rest[..close].parse().ok()?));
            indexes = &rest[close + 1..];
        }
        if !indexes.is_empty() {
            return None;
        }
    }
    Some(segments)
}
