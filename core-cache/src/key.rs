//! What makes a key acceptable to every backend.

use core_error::{Error, Result};

/// The longest key, namespace included, that every backend accepts
/// (Memcached's limit).
pub const MAX_KEY_BYTES: usize = 250;

/// Checks that `key` works on every backend: not empty, at most
/// [`MAX_KEY_BYTES`] bytes, and free of whitespace and control characters
/// (which would split a text-protocol command).
///
/// ```
/// use core_cache::validate_key;
///
/// assert!(validate_key("user:42").is_ok());
/// assert!(validate_key("has space").is_err());
/// assert!(validate_key("").is_err());
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the problem.
pub fn validate_key(key: &str) -> Result<()> {
    // Every call checks its keys, so the common case (printable ASCII, the
    // bytes 0x21..=0x7e) is one pass over bytes; anything else takes the
    // character-by-character path below, which also names the culprit.
    if !key.is_empty() && key.len() <= MAX_KEY_BYTES && printable_ascii(key) {
        return Ok(());
    }
    let problem = if key.is_empty() {
        Some("a cache key must not be empty".to_string())
    } else if key.len() > MAX_KEY_BYTES {
        Some(format!(
            "the key is {} bytes long; the limit is {MAX_KEY_BYTES}",
            key.len()
        ))
    } else {
        key.chars()
            .find(|c| c.is_whitespace() || c.is_control())
            .map(|bad| {
                format!(
                    "the key contains the character {bad:?}; \
                 whitespace and control characters are not allowed"
                )
            })
    };
    match problem {
        None => Ok(()),
        Some(message) => {
            let shown: String = key.chars().take(64).collect();
            Err(Error::invalid_input(message)
                .with_operation("cache.key")
                .with_key(shown.escape_debug().to_string()))
        }
    }
}

/// Whether every byte of `key` is in 0x21..=0x7e. Without an early exit
/// the loop is vectorised: every call checks its keys, and with one the
/// check went a byte at a time, about 500 instructions for a namespaced
/// token key against 120 now (callgrind).
fn printable_ascii(key: &str) -> bool {
    let outside = key.bytes().fold(0_u8, |outside, byte| {
        outside | u8::from(byte.wrapping_sub(0x21) > 0x7e - 0x21)
    });
    outside == 0
}

#[cfg(test)]
mod tests {
    use super::{MAX_KEY_BYTES, validate_key};

    #[test]
    fn the_ascii_fast_path_and_the_character_path_agree() {
        for good in [
            "user:42",
            "a",
            "!~",
            "clé:été",
            "名前:1",
            &"k".repeat(MAX_KEY_BYTES),
        ] {
            assert!(validate_key(good).is_ok(), "{good:?} refused");
        }
        let too_long = "k".repeat(MAX_KEY_BYTES + 1);
        for bad in [
            "",
            "has space",
            "tab\there",
            "del\u{7f}",
            "nul\0",
            "nbsp\u{a0}",
            "line\u{2028}sep",
            "c1\u{85}",
            too_long.as_str(),
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
