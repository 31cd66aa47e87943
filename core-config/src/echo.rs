//! The redacted dump of the effective configuration.

use std::fmt;

use crate::source::Origin;
use crate::{AppEnv, ConfigTree};

/// One line of an [`Echo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoEntry {
    /// The setting's dotted path.
    pub path: String,
    /// The value as shown: `***` for a secret, URL passwords replaced by `***`.
    pub shown: String,
    /// The source that set the value.
    pub origin: Origin,
}

/// Every effective setting, its redacted value and the source that set it.
///
/// ```
/// use core_config::{AppEnv, Loader};
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::create_dir(dir.path().join("config")).unwrap();
/// std::fs::write(dir.path().join("config/default.toml"), "[db]\nhost = \"h\"\npassword = \"hunter2\"\n").unwrap();
///
/// let echo = Loader::new()
///     .dir(dir.path())
///     .env(AppEnv::Dev)
///     .environment([("APP__DB__HOST", "db.internal")])
///     .load_untyped()
///     .unwrap()
///     .echo();
/// let shown = echo.to_string();
/// assert!(shown.contains(r#"db.host = "db.internal"  <- environment variable APP__DB__HOST"#));
/// assert!(shown.contains("db.password = ***  <- file config/default.toml"));
/// assert!(!shown.contains("hunter2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    env: AppEnv,
    prefix: String,
    entries: Vec<EchoEntry>,
}

impl Echo {
    pub(crate) fn new(tree: &ConfigTree, env: AppEnv, prefix: &str) -> Echo {
        let entries = tree
            .leaves()
            .into_iter()
            .map(|(path, leaf)| {
                let shown = if tree.is_secret(&path) {
                    "***".to_string()
                } else {
                    let text = leaf.display_text();
                    redact_url_password(&text).unwrap_or(text)
                };
                EchoEntry {
                    origin: leaf.origin(),
                    path,
                    shown,
                }
            })
            .collect();
        Echo {
            env,
            prefix: prefix.to_string(),
            entries,
        }
    }

    /// The lines, sorted by path.
    pub fn entries(&self) -> &[EchoEntry] {
        &self.entries
    }

    /// The line for `path`, if it is set.
    pub fn entry(&self, path: &str) -> Option<&EchoEntry> {
        self.entries.iter().find(|entry| entry.path == path)
    }
}

impl fmt::Display for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# effective configuration for {} (variables prefixed {}__)",
            self.env, self.prefix
        )?;
        for entry in &self.entries {
            writeln!(f, "{} = {}  <- {}", entry.path, entry.shown, entry.origin)?;
        }
        Ok(())
    }
}

/// `scheme://user:password@host/...` with the password replaced by `***`, if
/// the text has that shape.
pub(crate) fn redact_url_password(text: &str) -> Option<String> {
    let scheme_end = text.find("://")? + 3;
    let rest = &text[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some(format!(
        "{}{}:***{}",
        &text[..scheme_end],
        &authority[..colon],
        &text[scheme_end + at..]
    ))
}

impl fmt::Debug for ConfigTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (path, leaf) in self.leaves() {
            if self.is_secret(&path) {
                map.entry(&path, &"***");
            } else {
                let text = leaf.display_text();
                map.entry(&path, &redact_url_password(&text).unwrap_or(text));
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url_password;

    #[test]
    fn url_passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redact_url_password("\"postgres://app:s3cret@db:5432/app\"").as_deref(),
            Some("\"postgres://app:***@db:5432/app\"")
        );
        assert_eq!(redact_url_password("redis://cache:6379"), None);
        assert_eq!(
            redact_url_password("redis://:pw@cache:6379/0").as_deref(),
            Some("redis://:***@cache:6379/0")
        );
    }
}
