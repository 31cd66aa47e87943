//! Which field values never reach an output.

use std::sync::Arc;

/// What a masked value is written as.
pub const MASK: &str = "***";

/// The field names whose values are replaced by [`MASK`].
///
/// A field is masked when its name contains one of the names, ignoring ASCII
/// case, so `password` also covers `db_password` and `PasswordHash`.
/// `secrecy` values need no entry: their `Debug` output is already
/// `[REDACTED]`, and they have no `Display`.
///
/// ```
/// use core_log::Masks;
///
/// let masks = Masks::new(["password", "token"]);
/// assert!(masks.is_masked("db_password"));
/// assert!(masks.is_masked("Access_Token"));
/// assert!(!masks.is_masked("user_id"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Masks {
    names: Arc<[Box<[u8]>]>,
}

impl Masks {
    /// Masks every field whose name contains one of `names`.
    pub fn new<I, S>(names: I) -> Masks
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let names: Vec<Box<[u8]>> = names
            .into_iter()
            .filter(|name| !name.as_ref().is_empty())
            .map(|name| name.as_ref().to_ascii_lowercase().into_bytes().into())
            .collect();
        Masks {
            names: names.into(),
        }
    }

    /// Whether a field called `field` is written as [`MASK`].
    pub fn is_masked(&self, field: &str) -> bool {
        let field = field.as_bytes();
        self.names
            .iter()
            .any(|name| contains_ignore_case(field, name))
    }
}

fn contains_ignore_case(haystack: &[u8], lowercase_needle: &[u8]) -> bool {
    haystack.len() >= lowercase_needle.len()
        && haystack
            .windows(lowercase_needle.len())
            .any(|window| window.eq_ignore_ascii_case(lowercase_needle))
}
