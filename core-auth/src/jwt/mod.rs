//! Signing and verifying JSON Web Tokens.
//!
//! A [`KeyRing`] holds one signing key and any number of verification keys,
//! each under its own key id (`kid`) and each pinned to one
//! [`SigningAlgorithm`]. Verification picks the key by the token's `kid` and
//! refuses the token unless its header names exactly that key's algorithm:
//! `alg: none`, HS256 tokens signed with an RSA public key and every other
//! algorithm-confusion trick fail there, before any signature is checked.
//!
//! Rotation: add the new key, make it the signing key, and keep the old one
//! as a verification key until the last token it signed has expired.

mod algorithm;
mod claims;
mod keys;
mod settings;
mod time;

pub use algorithm::SigningAlgorithm;
pub use claims::{Claims, TokenType};
pub use keys::{KeyRing, MAX_TOKEN_BYTES};
pub use settings::{JwtSettings, KeySettings};
pub use time::{unix_now, unix_now_ms};
