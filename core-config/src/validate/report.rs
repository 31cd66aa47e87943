//! The list of everything wrong with a configuration.

use std::fmt;

use core_error::Error;

/// One thing wrong with the settings: where, and what. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The setting's dotted path, such as `database.password`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every violation found by one load; the source of the load's error.
///
/// ```
/// use core_config::Violations;
///
/// let mut found = Violations::default();
/// found.push("server.port", "must be between 1 and 65535");
/// found.push("auth.jwt.secret", "is required in prod");
/// assert_eq!(found.len(), 2);
/// assert!(found.to_string().contains("server.port: must be between 1 and 65535"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Records a violation at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Violation {
            path: path.into(),
            message: message.into(),
        });
    }

    /// How many violations were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// Whether some violation is about `path`.
    pub fn mentions(&self, path: &str) -> bool {
        self.0.iter().any(|violation| violation.path == path)
    }

    /// The violations behind a failed load, if that is why it failed.
    pub fn from_error(error: &Error) -> Option<&Violations> {
        std::error::Error::source(error)?.downcast_ref::<Violations>()
    }

    /// Appends `(what)` to each violation for whose path `note` has something.
    pub(crate) fn annotate(&mut self, note: impl Fn(&str) -> Option<String>) {
        for violation in &mut self.0 {
            if let Some(what) = note(&violation.path) {
                violation.message = format!("{} ({what})", violation.message);
            }
        }
    }

    pub(crate) fn map_messages(&mut self, scrub: impl Fn(&str) -> String) {
        for violation in &mut self.0 {
            violation.message = scrub(&violation.message);
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, violation) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {violation}")?;
        }
        Ok(())
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
