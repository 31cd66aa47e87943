//! Password hashing, verification of older hashes, and a password policy.
//!
//! New hashes are argon2id with the OWASP-recommended parameters (19 MiB of
//! memory, 2 iterations, 1 lane). [`Passwords::verify`] also accepts the
//! bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) of the systems this SDK replaces
//! and PBKDF2 hashes (`$pbkdf2-sha256$`, `$pbkdf2-sha512$`, Django's
//! `pbkdf2_sha256$`); after a successful login,
//! [`needs_rehash`](Passwords::needs_rehash) says when to store a fresh
//! argon2id hash instead. Every comparison of derived keys is constant-time.
//!
//! Hashing is deliberately slow (tens of milliseconds) and memory-hungry: in
//! async code call [`hash_bounded`](Passwords::hash_bounded) and
//! [`verify_bounded`](Passwords::verify_bounded), which run on the blocking
//! pool, a bounded number at once ([`HashingSettings`]).

mod argon;
mod legacy;
mod limit;
mod policy;
mod pool;

pub use argon::Argon2Settings;
pub use legacy::{HashScheme, bcrypt_hash, pbkdf2_sha256_hash};
pub use limit::HashingSettings;
pub use policy::{CustomRule, PasswordPolicy, PolicySettings};

use core_error::{Error, Result};
use serde::Deserialize;

/// The longest password accepted for hashing or verification, in bytes:
/// hashing is slow, and an unbounded input would make it slower still.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// The `auth.passwords` settings section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// The argon2id cost of new hashes.
    pub argon2: Argon2Settings,
    /// What a new password must satisfy.
    pub policy: PolicySettings,
    /// How many hashes run at once.
    pub hashing: HashingSettings,
}

/// Hashes new passwords with argon2id and verifies argon2, bcrypt and PBKDF2.
///
/// ```
/// use core_auth::password::{Argon2Settings, Passwords};
///
/// # fn main() -> core_error::Result<()> {
/// // Light parameters to keep the example fast; services use the default.
/// let light = Argon2Settings { memory_kib: 256, iterations: 1, parallelism: 1 };
/// let passwords = Passwords::new(&light)?;
/// let hash = passwords.hash("correct horse battery staple")?;
/// assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
/// assert!(passwords.verify("correct horse battery staple", &hash)?);
/// assert!(!passwords.verify("Correct horse battery staple", &hash)?);
/// assert!(!passwords.needs_rehash(&hash));
/// assert!(Passwords::new(&Argon2Settings::default())?.needs_rehash(&hash));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Passwords {
    argon2: argon::Argon2Hasher,
    limit: limit::HashingLimit,
    pool: std::sync::Arc<pool::BlockPool>,
}

impl Passwords {
    /// A hasher producing argon2id hashes at `settings`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for parameters
    /// argon2 refuses (memory below 8 KiB per lane, zero iterations...).
    pub fn new(settings: &Argon2Settings) -> Result<Passwords> {
        Ok(Passwords::assemble(
            argon::Argon2Hasher::new(settings)?,
            &HashingSettings::default(),
            settings.memory_kib,
        ))
    }

    fn assemble(
        argon2: argon::Argon2Hasher,
        hashing: &HashingSettings,
        memory_kib: u32,
    ) -> Passwords {
        let limit = limit::HashingLimit::new(hashing, memory_kib);
        // One buffer per slot: the most the bounded calls use at once.
        let pool = pool::BlockPool::new(argon2.params(), limit.size());
        Passwords {
            argon2,
            limit,
            pool,
        }
    }

    /// A hasher at `settings.argon2`, bounded by `settings.hashing`.
    ///
    /// # Errors
    ///
    /// As for [`new`](Passwords::new).
    pub fn from_settings(settings: &PasswordSettings) -> Result<Passwords> {
        Ok(Passwords::assemble(
            argon::Argon2Hasher::new(&settings.argon2)?,
            &settings.hashing,
            settings.argon2.memory_kib,
        ))
    }

    /// A hasher at the OWASP-recommended parameters.
    pub fn recommended() -> Passwords {
        Passwords::assemble(
            argon::Argon2Hasher::recommended(),
            &HashingSettings::default(),
            Argon2Settings::default().memory_kib,
        )
    }

    /// How many bounded hashes or checks run at once.
    pub fn max_concurrent(&self) -> usize {
        self.limit.size()
    }

    /// [`hash`](Passwords::hash) on tokio's blocking pool, at most
    /// [`max_concurrent`](Passwords::max_concurrent) at once across every
    /// clone.
    ///
    /// ```
    /// # use core_auth::password::{Argon2Settings, Passwords};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
    /// let light = Argon2Settings { memory_kib: 256, iterations: 1, parallelism: 1 };
    /// let passwords = Passwords::new(&light)?;
    /// let hash = passwords.hash_bounded("correct horse".to_owned()).await?;
    /// assert!(passwords.verify_bounded("correct horse".to_owned(), hash.into()).await?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Unavailable`](core_error::ErrorKind::Unavailable), with
    /// `retry_after_secs`, when no slot frees up within
    /// [`HashingSettings::max_wait_ms`]; as for `hash` otherwise.
    pub async fn hash_bounded(&self, password: String) -> Result<String> {
        let passwords = self.clone();
        self.limit
            .run("auth.hash_password", move || passwords.hash(&password))
            .await
    }

    /// [`verify`](Passwords::verify), bounded like
    /// [`hash_bounded`](Passwords::hash_bounded).
    ///
    /// # Errors
    ///
    /// As for `hash_bounded` and `verify`.
    pub async fn verify_bounded(
        &self,
        password: String,
        hash: std::sync::Arc<str>,
    ) -> Result<bool> {
        let passwords = self.clone();
        self.limit
            .run("auth.verify_password", move || {
                passwords.verify(&password, &hash)
            })
            .await
    }

    /// Hashes `password` with argon2id and a fresh random salt; returns the
    /// PHC string (`$argon2id$v=19$m=...`).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a password
    /// longer than [`MAX_PASSWORD_BYTES`].
    pub fn hash(&self, password: &str) -> Result<String> {
        check_length(password, "auth.hash_password")?;
        self.pool.hash(self.argon2.params(), password)
    }

    /// Whether `password` matches `hash`, whatever supported scheme made it.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a hash in no
    /// supported format or a malformed one (the hash is not echoed), or a
    /// password longer than [`MAX_PASSWORD_BYTES`].
    pub fn verify(&self, password: &str, hash: &str) -> Result<bool> {
        check_length(password, "auth.verify_password")?;
        match HashScheme::identify(hash) {
            Some(HashScheme::Argon2) => self
                .pool
                .verify(self.argon2.params(), password, hash)
                .unwrap_or_else(|| argon::verify(password, hash)),
            Some(HashScheme::Bcrypt) => legacy::bcrypt_verify(password, hash),
            Some(scheme @ (HashScheme::Pbkdf2 | HashScheme::DjangoPbkdf2)) => {
                legacy::pbkdf2_verify(scheme, password, hash)
            }
            None => Err(unknown_scheme()),
        }
    }

    /// Whether `hash` should be replaced by a fresh [`hash`](Passwords::hash)
    /// at the next successful login: it is not argon2id, or its version or
    /// parameters differ from this hasher's, or it cannot be read.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        match HashScheme::identify(hash) {
            Some(HashScheme::Argon2) => self.argon2.needs_rehash(hash),
            _ => true,
        }
    }
}

fn check_length(password: &str, operation: &'static str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid_input(format!(
            "the password is longer than {MAX_PASSWORD_BYTES} bytes"
        ))
        .with_operation(operation));
    }
    Ok(())
}

fn unknown_scheme() -> Error {
    Error::invalid_input(
        "the stored password hash is in no supported format (argon2, bcrypt, PBKDF2)",
    )
    .with_operation("auth.verify_password")
}

fn malformed(scheme: &'static str) -> Error {
    Error::invalid_input(format!("the stored {scheme} password hash is malformed"))
        .with_operation("auth.verify_password")
}
