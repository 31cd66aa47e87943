//! The schemes older systems stored: bcrypt and PBKDF2. Verified so users
//! can log in, then replaced with argon2id (see `needs_rehash`).

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use core_error::{Error, Result};
use ring::pbkdf2;
use ring::rand::{SecureRandom as _, SystemRandom};

use super::malformed;

/// Stored hashes are trusted, but a corrupted iteration count should not
/// stall a login thread for minutes.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The format a stored password hash is in.
///
/// ```
/// use core_auth::password::HashScheme;
///
/// assert_eq!(HashScheme::identify("$2b$12$abc"), Some(HashScheme::Bcrypt));
/// assert_eq!(HashScheme::identify("pbkdf2_sha256$600000$s$h"), Some(HashScheme::DjangoPbkdf2));
/// assert_eq!(HashScheme::identify("md5:abc"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashScheme {
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` (PHC strings).
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$` (modular crypt format).
    Bcrypt,
    /// `$pbkdf2-sha256$i=N[,l=L]$salt$hash` and `$pbkdf2-sha512$...` (PHC,
    /// base64 without padding).
    Pbkdf2,
    /// Django's `pbkdf2_sha256$N$salt$hash`.
    DjangoPbkdf2,
}

impl HashScheme {
    /// The scheme `hash` is in, or `None` for an unsupported one.
    pub fn identify(hash: &str) -> Option<HashScheme> {
        if hash.starts_with("$argon2") {
            Some(HashScheme::Argon2)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            Some(HashScheme::Bcrypt)
        } else if hash.starts_with("$pbkdf2-sha256$") || hash.starts_with("$pbkdf2-sha512$") {
            Some(HashScheme::Pbkdf2)
        } else if hash.starts_with("pbkdf2_sha256$") {
            Some(HashScheme::DjangoPbkdf2)
        } else {
            None
        }
    }
}

pub(super) fn bcrypt_verify(password: &str, hash: &str) -> Result<bool> {
    // The bcrypt crate compares in constant time. Passwords past 72 bytes are
    // truncated, as every bcrypt implementation that made these hashes did.
    bcrypt::verify(password, hash).map_err(|_| malformed("bcrypt"))
}

/// A bcrypt hash of `password` at `cost` (4 to 31).
///
/// For migration tooling and tests only: new passwords should be hashed
/// with [`Passwords::hash`](super::Passwords::hash).
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a cost out of range.
pub fn bcrypt_hash(password: &str, cost: u32) -> Result<String> {
    bcrypt::hash(password, cost).map_err(|err| {
        Error::invalid_input(format!("bcrypt could not hash: {err}"))
            .with_operation("auth.hash_password")
    })
}

/// A PBKDF2-HMAC-SHA256 hash of `password` as a PHC string
/// (`$pbkdf2-sha256$i=N,l=32$salt$hash`), with a random 16-byte salt.
///
/// For migration tooling and tests only, like [`bcrypt_hash`].
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for zero iterations;
/// [`Internal`](core_error::ErrorKind::Internal) if the system RNG fails.
pub fn pbkdf2_sha256_hash(password: &str, iterations: u32) -> Result<String> {
    let rounds = NonZeroU32::new(iterations).ok_or_else(|| {
        Error::invalid_input("PBKDF2 needs at least one iteration")
            .with_operation("auth.hash_password")
    })?;
    let mut salt = [0_u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| {
        Error::internal("the system RNG failed").with_operation("auth.hash_password")
    })?;
    let mut derived = [0_u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        password.as_bytes(),
        &mut derived,
    );
    Ok(format!(
        "$pbkdf2-sha256$i={iterations},l=32${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(derived)
    ))
}

struct Pbkdf2Hash {
    algorithm: pbkdf2::Algorithm,
    iterations: NonZeroU32,
    salt: Vec<u8>,
    derived: Vec<u8>,
}

pub(super) fn pbkdf2_verify(scheme: HashScheme, password: &str, hash: &str) -> Result<bool> {
    let parsed = match scheme {
        HashScheme::DjangoPbkdf2 => parse_django(hash),
        _ => parse_phc(hash),
    }
    .ok_or_else(|| malformed("PBKDF2"))?;
    // ring compares the derived key in constant time.
    Ok(pbkdf2::verify(
        parsed.algorithm,
        parsed.iterations,
        &parsed.salt,
        password.as_bytes(),
        &parsed.derived,
    )
    .is_ok())
}

fn iterations(text: &str) -> Option<NonZeroU32> {
    let count: u32 = text.parse().ok()?;
    if count > MAX_PBKDF2_ITERATIONS {
        return None;
    }
    NonZeroU32::new(count)
}

/// `$pbkdf2-sha256$i=N[,l=L]$salt$hash`, base64 without padding.
fn parse_phc(hash: &str) -> Option<Pbkdf2Hash> {
    let mut fields = hash.strip_prefix('$')?.split('$');
    let algorithm = match fields.next()? {
        "pbkdf2-sha256" => pbkdf2::PBKDF2_HMAC_SHA256,
        "pbkdf2-sha512" => pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return None,
    };
    let params = fields.next()?;
    let mut rounds = None;
    for param in params.split(',') {
        match param.split_once('=')? {
            ("i", value) => rounds = Some(iterations(value)?),
            ("l", _) => {}
            _ => return None,
        }
    }
    let salt = STANDARD_NO_PAD.decode(fields.next()?).ok()?;
    let derived = STANDARD_NO_PAD.decode(fields.next()?).ok()?;
    if fields.next().is_some() || derived.is_empty() {
        return None;
    }
    Some(Pbkdf2Hash {
        algorithm,
        iterations: rounds?,
        salt,
        derived,
    })
}

/// Django: `pbkdf2_sha256$N$salt$hash`, the salt as text, the hash padded base64.
fn parse_django(hash: &str) -> Option<Pbkdf2Hash> {
    let mut fields = hash.split('$');
    if fields.next()? != "pbkdf2_sha256" {
        return None;
    }
    let rounds = iterations(fields.next()?)?;
    let salt = fields.next()?.as_bytes().to_vec();
    let derived = STANDARD.decode(fields.next()?).ok()?;
    if fields.next().is_some() || derived.is_empty() {
        return None;
    }
    Some(Pbkdf2Hash {
        algorithm: pbkdf2::PBKDF2_HMAC_SHA256,
        iterations: rounds,
        salt,
        derived,
    })
}
