//! HS256 access and refresh tokens, and argon2id password hashes with the
//! SDK's default parameters (OWASP: 19 MiB, 2 passes, 1 lane).

use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "core-sdk-examples";
/// Access tokens live 15 minutes, refresh tokens 14 days, as in the SDK's
/// service.
pub(crate) const ACCESS_TTL_SECS: u64 = 900;
const REFRESH_TTL_SECS: u64 = 1_209_600;

/// What a token says.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) exp: u64,
    pub(crate) iat: u64,
    pub(crate) iat_ms: u64,
    pub(crate) iss: String,
    pub(crate) jti: String,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    pub(crate) typ: String,
    pub(crate) fam: String,
}

/// Signs and verifies tokens with one shared secret.
pub(crate) struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Tokens {
    pub(crate) fn new(secret: &[u8]) -> Tokens {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// An access and a refresh token of one new session.
    pub(crate) fn issue(
        &self,
        subject: &str,
        roles: &[String],
    ) -> Result<(String, String), jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let family = uuid::Uuid::new_v4().to_string();
        let make = |typ: &str, ttl: u64| {
            let claims = Claims {
                sub: subject.to_string(),
                exp: now.as_secs() + ttl,
                iat: now.as_secs(),
                iat_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
                iss: ISSUER.to_string(),
                jti: uuid::Uuid::new_v4().to_string(),
                roles: roles.to_vec(),
                typ: typ.to_string(),
                fam: family.clone(),
            };
            jsonwebtoken::encode(&Header::default(), &claims, &self.encoding)
        };
        Ok((
            make("access", ACCESS_TTL_SECS)?,
            make("refresh", REFRESH_TTL_SECS)?,
        ))
    }

    /// The claims of a valid access token.
    pub(crate) fn verify_access(&self, token: &str) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.typ == "access").then_some(claims)
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP's argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` (blocking: run it off the async workers).
pub(crate) fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(argon2().hash_password(password.as_bytes())?.to_string())
}

/// Whether `password` matches the PHC string `hash` (blocking).
pub(crate) fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}
