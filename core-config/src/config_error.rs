//! Turning the `config` crate's errors into messages that hold no values.

use config::ConfigError;

/// The setting path an error is about, and a message without any value.
///
/// `config` and `serde` put the offending value in some messages (`invalid
/// type: string "hunter2"`); those values may be secrets, so every variant is
/// rendered here from its parts, and file parse errors keep only their first
/// and last lines (position and reason, not the quoted source line).
pub(crate) fn describe(err: &ConfigError) -> (Option<String>, String) {
    match err {
        ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key.clone(),
            format!("expected {expected}, found {}", kind_of(unexpected)),
        ),
        ConfigError::At { error, key, .. } => {
            let (inner_key, message) = describe(error);
            (key.clone().or(inner_key), message)
        }
        ConfigError::NotFound(key) => (Some(key.clone()), "is required but not set".to_string()),
        ConfigError::FileParse { uri, cause } => {
            let text = cause.to_string();
            let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
            let first = lines.next().unwrap_or("unreadable");
            let last = lines.next_back();
            let reason = match last {
                Some(last) if !last.starts_with('|') && !last.contains('=') => {
                    format!("{first}: {last}")
                }
                _ => first.to_string(),
            };
            (
                uri.clone(),
                format!("cannot parse the file: {}", first_clause(&reason)),
            )
        }
        ConfigError::Message(message) => (None, message.clone()),
        ConfigError::PathParse { .. } => (None, "a setting name cannot be parsed".to_string()),
        ConfigError::Foreign(cause) => (None, cause.to_string()),
        other => (None, other.to_string()),
    }
}

/// The kind of an unexpected value, never the value itself.
fn kind_of(unexpected: &impl std::fmt::Display) -> &'static str {
    // `config` does not export the type, only its rendering, which starts
    // with the kind and ends with the value.
    let shown = unexpected.to_string();
    let kinds = [
        ("string", "text"),
        ("boolean", "a boolean"),
        ("floating", "a floating point number"),
        ("unit", "nothing"),
        ("sequence", "a list"),
        ("map", "a table"),
    ];
    kinds
        .iter()
        .find(|(start, _)| shown.starts_with(start))
        .map(|(_, kind)| *kind)
        .unwrap_or_else(|| {
            if shown.contains("integer") {
                "an integer"
            } else {
                "a value of another type"
            }
        })
}

fn first_clause(reason: &str) -> String {
    reason.chars().take(200).collect()
}
