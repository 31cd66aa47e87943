//! argon2id: the scheme of every new hash.

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use core_error::{Error, Result};
use serde::Deserialize;

use super::malformed;

/// The cost of new argon2id hashes.
///
/// The default is OWASP's recommendation for argon2id: 19 MiB of memory,
/// 2 iterations, 1 degree of parallelism.
///
/// ```
/// use core_auth::password::Argon2Settings;
///
/// let owasp = Argon2Settings::default();
/// assert_eq!((owasp.memory_kib, owasp.iterations, owasp.parallelism), (19 * 1024, 2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Settings {
    /// Memory per hash, in KiB (`m`). Default 19456.
    pub memory_kib: u32,
    /// Passes over memory (`t`). Default 2.
    pub iterations: u32,
    /// Lanes (`p`). Default 1.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Argon2Settings {
        Argon2Settings {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Argon2Hasher {
    params: Params,
}

impl Argon2Hasher {
    pub(super) fn new(settings: &Argon2Settings) -> Result<Argon2Hasher> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|err| {
            Error::invalid_input(format!("argon2 refuses these parameters: {err}"))
                .with_key("auth.passwords.argon2")
        })?;
        Ok(Argon2Hasher { params })
    }

    pub(super) fn recommended() -> Argon2Hasher {
        Argon2Hasher {
            params: Params::DEFAULT,
        }
    }

    pub(super) fn params(&self) -> &Params {
        &self.params
    }

    pub(super) fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return true;
        };
        if parsed.algorithm.as_str() != Algorithm::Argon2id.as_str()
            || parsed.version != Some(Version::V0x13.into())
        {
            return true;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
    }
}

/// Verifies with the algorithm, version and parameters the hash records.
pub(super) fn verify(password: &str, hash: &str) -> Result<bool> {
    let parsed = PasswordHash::new(hash).map_err(|_| malformed("argon2"))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(malformed("argon2")),
    }
}
