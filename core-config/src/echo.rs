//! The redacted dump of the effective configuration.

use std::fmt;

use crate::source::Origin;
use crate::{AppEnv, ConfigTree, Leaf};

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
            .map(|(path, leaf)| EchoEntry {
                origin: leaf.origin(),
                shown: shown_value(tree, &path, leaf),
                path,
            })
            .collect();
        Echo {
            env,
            prefix: prefix.to_string(),
            entries,
        }
    }

    /// Logs the header and every line as `tracing` `info` events with target
    /// `core_config::echo`; the values are already redacted.
    pub fn log(&self) {
        tracing::info!(
            target: "core_config::echo",
            env = %self.env,
            prefix = %self.prefix,
            settings = self.entries.len(),
            "effective configuration"
        );
        for entry in &self.entries {
            tracing::info!(
                target: "core_config::echo",
                setting = %entry.path,
                value = %entry.shown,
                source = %entry.origin,
                "config"
            );
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

/// How a value is shown: `***` for a secret, URL credentials hidden.
fn shown_value(tree: &ConfigTree, path: &str, leaf: Leaf<'_>) -> String {
    if tree.is_secret(path) {
        return "***".to_string();
    }
    match leaf.as_str() {
        Some(text) => format!("{:?}", redact_url(text).unwrap_or_else(|| text.to_string())),
        None => leaf.display_text(),
    }
}

/// `scheme://user:password@host/path?name=value#fragment` with the password,
/// every query value and the fragment replaced by `***`, if the text has the
/// shape of a URL. Query parameters (`?password=`, `?token=`, `?sig=`) carry
/// credentials too often to guess which are safe, so none is shown.
///
/// A password may hold an unencoded `/`, `?` or `#`, so the credentials end
/// at the last `@`; when that `@` turns out to sit in the path or query, the
/// text before it is not taken for credentials.
pub(crate) fn redact_url(text: &str) -> Option<String> {
    let scheme_end = text.find("://")? + 3;
    let rest = &text[scheme_end..];
    let mut shown = text[..scheme_end].to_string();
    let mut location = rest;
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        match userinfo.split_once(':') {
            Some((user, _password)) => {
                shown.push_str(&mask_user(user));
                shown.push_str(":***@");
                location = &rest[at + 1..];
            }
            None if !userinfo.contains(['/', '?', '#']) => {
                shown.push_str(&mask_user(userinfo));
                shown.push('@');
                location = &rest[at + 1..];
            }
            None => {}
        }
    }
    let (location, fragment) = match location.split_once('#') {
        Some((location, _)) => (location, Some("***")),
        None => (location, None),
    };
    match location.split_once('?') {
        Some((base, query)) => {
            shown.push_str(base);
            shown.push('?');
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) => format!("{name}=***"),
                    None => pair.to_string(),
                })
                .collect();
            shown.push_str(&masked.join("&"));
        }
        None => shown.push_str(location),
    }
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    Some(shown)
}

/// A user name is shown unless it looks like a credential itself (a token
/// passed as the user, as some services take it).
fn mask_user(user: &str) -> String {
    if user.len() > 24 {
        "***".to_string()
    } else {
        user.to_string()
    }
}

impl fmt::Debug for ConfigTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (path, leaf) in self.leaves() {
            map.entry(&path, &format_args!("{}", shown_value(self, &path, leaf)));
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn url_passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/app").as_deref(),
            Some("postgres://app:***@db:5432/app")
        );
        assert_eq!(
            redact_url("redis://cache:6379").as_deref(),
            Some("redis://cache:6379")
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0").as_deref(),
            Some("redis://:***@cache:6379/0")
        );
        assert_eq!(redact_url("not a url"), None);
    }

    #[test]
    fn query_credentials_and_unencoded_slashes_are_hidden() {
        for (text, secret) in [
            ("postgres://db/app?password=s3cret", "s3cret"),
            (
                "postgres://db/app?sslmode=require&password=s3cret#s3cret",
                "s3cret",
            ),
            ("postgres://app:pa/ss@db:5432/app", "pa/ss"),
            ("postgres://app:p?a#s/s@db:5432/app", "p?a#s/s"),
            ("mysql://db/app?user=me&password=x@y", "x@y"),
            ("postgres://app:pw@db/app?token=t0k@n", "t0k"),
        ] {
            let shown = redact_url(text).unwrap();
            assert!(!shown.contains(secret), "{text} shown as {shown}");
            let hidden = if secret.contains('/') { "pa" } else { secret };
            assert!(!shown.contains(hidden), "{text} shown as {shown}");
        }
        assert_eq!(
            redact_url("postgres://app:pa/ss@db:5432/app?sslmode=require").as_deref(),
            Some("postgres://app:***@db:5432/app?sslmode=***")
        );
    }
}
