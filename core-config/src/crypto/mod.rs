//! `ENC(...)` values: AES-256-GCM encryption of single settings, the key that
//! opens them, and rotation of a whole file to a new key.
//!
//! An encrypted value is written `ENC(<base64>)`, where the base64 (standard
//! alphabet, padded) holds a 12-byte nonce, then the ciphertext, then the
//! 16-byte GCM tag. Every encryption draws a fresh random nonce from the
//! operating system, so encrypting the same plaintext twice gives two
//! different values.

mod enc;
mod key;
mod rotate;

pub use enc::{EncError, EncValue, NONCE_LEN, TAG_LEN, decrypt, encrypt, is_enc};
pub use key::{AES_SECRET_VAR, AesKey};
pub use rotate::{Rotation, rotate_file};
