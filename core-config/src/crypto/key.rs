//! The AES-256 key that opens `ENC(...)` values.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use core_error::{Error, Result};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretBox, SecretString};

/// The variable holding the key, read from the process environment first and
/// from `.secrets` second.
pub const AES_SECRET_VAR: &str = "AES_SECRET";

const KEY_LEN: usize = 32;

/// A 32-byte AES-256 key, zeroed when dropped and never printed.
///
/// ```
/// use core_config::AesKey;
///
/// let key = AesKey::generate().unwrap();
/// let text = key.to_base64();
/// let again = AesKey::parse(secrecy::ExposeSecret::expose_secret(&text)).unwrap();
/// assert_eq!(format!("{again:?}"), "AesKey(***)");
/// ```
pub struct AesKey(SecretBox<[u8; KEY_LEN]>);

impl AesKey {
    /// Draws a new key from the operating system's random source.
    pub fn generate() -> Result<AesKey> {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        SystemRandom::new().fill(bytes.as_mut()).map_err(|_| {
            Error::internal("the system random source failed").with_operation("config.keygen")
        })?;
        Ok(AesKey(SecretBox::new(bytes)))
    }

    /// Reads a key written as base64 (standard or URL-safe, padded or not) or
    /// as 64 hex digits. Surrounding whitespace is ignored.
    ///
    /// The error says what was wrong without repeating any of the text.
    pub fn parse(text: &str) -> Result<AesKey> {
        let text = text.trim();
        let decoded = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        let Some(mut bytes) = decoded else {
            return Err(invalid_key("it is neither base64 nor hex"));
        };
        if bytes.len() != KEY_LEN {
            let length = bytes.len();
            bytes.zeroize();
            return Err(invalid_key(&format!(
                "it decodes to {length} bytes, not {KEY_LEN}"
            )));
        }
        let mut key = Box::new([0u8; KEY_LEN]);
        key.copy_from_slice(&bytes);
        bytes.zeroize();
        Ok(AesKey(SecretBox::new(key)))
    }

    /// The key as padded standard base64, the form `keygen` prints.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }
}

fn invalid_key(reason: &str) -> Error {
    Error::invalid_input(format!(
        "{AES_SECRET_VAR} must be 32 bytes written as base64 or hex, but {reason}"
    ))
    .with_key(AES_SECRET_VAR)
    .with_operation("config.parse_key")
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::AesKey;
    use secrecy::ExposeSecret;

    #[test]
    fn hex_and_base64_forms_give_the_same_key() {
        let key = AesKey::generate().unwrap();
        let hex_form = hex::encode(key.bytes());
        let from_hex = AesKey::parse(&hex_form).unwrap();
        let from_b64 = AesKey::parse(key.to_base64().expose_secret()).unwrap();
        assert_eq!(from_hex.bytes(), key.bytes());
        assert_eq!(from_b64.bytes(), key.bytes());
    }

    #[test]
    fn wrong_lengths_and_garbage_are_refused_without_echo() {
        for text in ["c2hvcnQ=", "not a key at all!", "", &"ab".repeat(31)] {
            let err = AesKey::parse(text).unwrap_err();
            if !text.is_empty() {
                assert!(!err.to_string().contains(text), "{err}");
            }
        }
    }
}
