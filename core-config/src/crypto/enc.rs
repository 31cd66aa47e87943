//! Parsing, sealing and opening single `ENC(...)` values.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use secrecy::zeroize::Zeroize;

use super::AesKey;

/// Length of the random nonce at the front of every value.
pub const NONCE_LEN: usize = 12;
/// Length of the GCM authentication tag at the end of every value.
pub const TAG_LEN: usize = 16;

const OPEN: &str = "ENC(";
const CLOSE: &str = ")";

/// Why an `ENC(...)` value could not be read or opened.
///
/// No variant carries any part of the value: the caller adds the key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncError {
    /// The text is not of the form `ENC(...)`.
    #[error("not an ENC(...) value")]
    NotEnc,
    /// The text between the parentheses is not valid base64.
    #[error("the ENC(...) payload is not valid base64")]
    Base64,
    /// The payload is shorter than a nonce and a tag.
    #[error("the ENC(...) payload is truncated ({0} bytes, at least {min} needed)", min = NONCE_LEN + TAG_LEN)]
    Truncated(usize),
    /// Authentication failed: the key is wrong or the value was altered.
    #[error(
        "the ENC(...) value does not open with this key: wrong key, or the value was tampered with"
    )]
    Authentication,
    /// The decrypted bytes are not UTF-8 text.
    #[error("the ENC(...) value decrypts to bytes that are not UTF-8 text")]
    NotUtf8,
    /// The random source failed while sealing.
    #[error("the system random source failed")]
    Random,
    /// The plaintext is beyond what AES-GCM can seal under one nonce (64 GiB).
    #[error("the value is too long to encrypt")]
    TooLong,
}

/// A parsed `ENC(...)` value: nonce and sealed bytes (ciphertext and tag).
///
/// ```
/// use core_config::{AesKey, EncValue, encrypt};
/// use secrecy::ExposeSecret;
///
/// let key = AesKey::generate().unwrap();
/// let sealed = encrypt(&key, "hunter2").unwrap();
/// let text = sealed.to_string();
/// assert!(text.starts_with("ENC(") && !text.contains("hunter2"));
///
/// let parsed = EncValue::parse(&text).unwrap();
/// assert_eq!(parsed.nonce(), sealed.nonce());
/// assert_eq!(parsed.decrypt(&key).unwrap().expose_secret(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EncValue {
    nonce: [u8; NONCE_LEN],
    sealed: Vec<u8>,
}

impl EncValue {
    /// Reads `ENC(<base64>)`; whitespace around the whole value is ignored.
    pub fn parse(text: &str) -> Result<EncValue, EncError> {
        let inner = text
            .trim()
            .strip_prefix(OPEN)
            .and_then(|rest| rest.strip_suffix(CLOSE))
            .ok_or(EncError::NotEnc)?;
        let payload = STANDARD
            .decode(inner.trim())
            .map_err(|_| EncError::Base64)?;
        if payload.len() < NONCE_LEN + TAG_LEN {
            return Err(EncError::Truncated(payload.len()));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&payload[..NONCE_LEN]);
        Ok(EncValue {
            nonce,
            sealed: payload[NONCE_LEN..].to_vec(),
        })
    }

    /// The nonce this value was sealed with.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// Opens the value with `key`.
    pub fn decrypt(&self, key: &AesKey) -> Result<SecretString, EncError> {
        let opening = cipher(key);
        let mut buffer = self.sealed.clone();
        let plain_len = match opening.open_in_place(
            Nonce::assume_unique_for_key(self.nonce),
            Aad::empty(),
            &mut buffer,
        ) {
            Ok(plain) => plain.len(),
            Err(_) => {
                buffer.zeroize();
                return Err(EncError::Authentication);
            }
        };
        buffer.truncate(plain_len);
        match String::from_utf8(buffer) {
            Ok(text) => Ok(SecretString::from(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(EncError::NotUtf8)
            }
        }
    }
}

impl fmt::Display for EncValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = Vec::with_capacity(NONCE_LEN + self.sealed.len());
        payload.extend_from_slice(&self.nonce);
        payload.extend_from_slice(&self.sealed);
        write!(f, "{OPEN}{}{CLOSE}", STANDARD.encode(payload))
    }
}

impl fmt::Debug for EncValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ciphertext is safe to show, and showing it helps find the value.
        write!(f, "EncValue({self})")
    }
}

/// Whether `text` is meant as an encrypted value (starts with `ENC(`).
///
/// Such text is always decrypted at load, and a malformed one is an error
/// rather than being taken literally.
pub fn is_enc(text: &str) -> bool {
    text.trim_start().starts_with(OPEN)
}

/// Seals `plaintext` under `key` with a fresh random nonce.
pub fn encrypt(key: &AesKey, plaintext: &str) -> Result<EncValue, EncError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| EncError::Random)?;
    let mut sealed = plaintext.as_bytes().to_vec();
    cipher(key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| EncError::TooLong)?;
    Ok(EncValue { nonce, sealed })
}

/// Parses and opens `text` in one step.
pub fn decrypt(key: &AesKey, text: &str) -> Result<SecretString, EncError> {
    EncValue::parse(text)?.decrypt(key)
}

fn cipher(key: &AesKey) -> LessSafeKey {
    let unbound = UnboundKey::new(&AES_256_GCM, key.bytes())
        .unwrap_or_else(|_| unreachable!("AES-256 takes exactly the 32 bytes AesKey holds"));
    LessSafeKey::new(unbound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn empty_plaintext_round_trips() {
        let key = AesKey::generate().unwrap();
        let text = encrypt(&key, "").unwrap().to_string();
        assert_eq!(decrypt(&key, &text).unwrap().expose_secret(), "");
    }

    #[test]
    fn parse_refuses_shapes_that_are_not_enc() {
        assert_eq!(EncValue::parse("hunter2"), Err(EncError::NotEnc));
        assert_eq!(EncValue::parse("ENC(abc"), Err(EncError::NotEnc));
        assert_eq!(EncValue::parse("ENC(!!!)"), Err(EncError::Base64));
        assert_eq!(EncValue::parse("ENC(AAAA)"), Err(EncError::Truncated(3)));
    }
}
