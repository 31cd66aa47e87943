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
        // Every field of every event and span asks: lower the name once
        // (on the stack when it fits) rather than once per name and window.
        let mut stack = [0_u8; 64];
        let mut heap = Vec::new();
        let lowered: &[u8] = match stack.get_mut(..field.len()) {
            Some(lowered) => {
                lowered.copy_from_slice(field.as_bytes());
                lowered.make_ascii_lowercase();
                lowered
            }
            None => {
                heap.extend(field.bytes().map(|byte| byte.to_ascii_lowercase()));
                &heap
            }
        };
        self.names.iter().any(|name| contains(lowered, name))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    match needle.split_first() {
        None => true,
        Some((first, _)) => {
            haystack.len() >= needle.len()
                && haystack
                    .windows(needle.len())
                    .any(|window| window[0] == *first && window == needle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Masks;

    #[test]
    fn a_name_is_found_anywhere_in_the_field_ignoring_case() {
        let masks = Masks::new(["password", "API_Key", "x"]);
        for masked in [
            "password",
            "PASSWORD",
            "db_Password_hash",
            "apiKey_api_key",
            "ax",
        ] {
            assert!(masks.is_masked(masked), "{masked}");
        }
        for kept in ["user_id", "pass", "api-key", ""] {
            assert!(!masks.is_masked(kept), "{kept}");
        }
        let long = format!("{}_PassWord", "f".repeat(80));
        assert!(
            masks.is_masked(&long),
            "a field longer than the stack buffer"
        );
        assert!(!Masks::new(["token"]).is_masked(&"t".repeat(100)));
    }
}
