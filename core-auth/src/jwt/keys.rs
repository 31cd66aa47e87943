//! The keys tokens are signed and verified with, and the checks a token
//! passes before its claims are trusted.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_error::{Error, Result};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::{Claims, JwtSettings, KeySettings, SigningAlgorithm, TokenType, unix_now};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

const VERIFY: &str = "auth.verify_token";

/// One signing key and the verification keys, each pinned to an algorithm.
///
/// Cheap to share behind an `Arc`; signing and verifying take `&self`.
///
/// ```
/// use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm, TokenType};
/// use core_auth::ErrorKind;
///
/// # fn main() -> core_error::Result<()> {
/// let old = KeySettings::hmac("old", SigningAlgorithm::HS256, "the-previous-secret-32-bytes-long!");
/// let new = KeySettings::hmac("new", SigningAlgorithm::HS256, "the-current-secret-32-bytes-long!!");
/// let before = KeyRing::from_settings(&JwtSettings {
///     signing_kid: "old".into(), keys: vec![old.clone()], ..JwtSettings::default()
/// })?;
/// let issued_before = before.sign(&before.claims("u1", TokenType::Access, std::time::Duration::from_secs(60)))?;
///
/// // After rotation the old key still verifies what it signed.
/// let after = KeyRing::from_settings(&JwtSettings {
///     signing_kid: "new".into(), keys: vec![new, old], ..JwtSettings::default()
/// })?;
/// assert_eq!(after.verify(&issued_before)?.sub, "u1");
///
/// let err = after.verify("not.a.token").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Unauthenticated);
/// # Ok(()) }
/// ```
pub struct KeyRing {
    signing: Option<SigningKey>,
    verifying: HashMap<String, VerifyingKey>,
    issuer: Option<String>,
    audience: Vec<String>,
    leeway: u64,
}

struct SigningKey {
    kid: String,
    key: EncodingKey,
    header: Header,
}

struct VerifyingKey {
    algorithm: SigningAlgorithm,
    key: DecodingKey,
    /// A shared secret's HMAC key, its inner and outer digests computed
    /// once here rather than on every verification (as `jsonwebtoken`
    /// does); `None` for public keys.
    hmac: Option<ring::hmac::Key>,
    /// The public half, for JWKS; `None` for shared secrets.
    jwk: Option<Jwk>,
}

/// The header fields verification looks at; parsed once, strictly.
#[derive(Deserialize)]
struct TokenHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the verifier must understand; none are, so any is refused.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<_> = self
            .verifying
            .iter()
            .map(|(kid, key)| format!("{kid}:{}", key.algorithm))
            .collect();
        kids.sort();
        f.debug_struct("KeyRing")
            .field("signing_kid", &self.signing.as_ref().map(|key| &key.kid))
            .field("keys", &kids)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway)
            .finish()
    }
}

fn rejected(message: &'static str) -> Error {
    Error::unauthenticated(message).with_operation(VERIFY)
}

/// Where a key came from, for the `key` context of its errors.
const KEYS_SETTING: &str = "auth.jwt.keys";
const SECRET_SETTING: &str = "auth.jwt.secret";

fn bad_key(kid: &str, message: impl fmt::Display) -> Error {
    Error::invalid_input(format!("JWT key {kid:?}: {message}"))
        .with_operation("auth.load_keys")
        .with_key(KEYS_SETTING)
}

impl KeyRing {
    /// Loads every key of `settings` (each of `keys`, plus the key the
    /// `secret` shorthand stands for) and checks them.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput), naming the key,
    /// for a duplicate or empty `kid`, key material that does not fit the
    /// algorithm, an HMAC secret shorter than the hash output, an unreadable
    /// PEM, a `signing_kid` that names no key able to sign, or a `secret`
    /// whose kid an entry of `keys` also uses.
    pub fn from_settings(settings: &JwtSettings) -> Result<KeyRing> {
        let shorthand = settings.shorthand_key();
        if let Some(short) = &shorthand
            && settings.keys.iter().any(|key| key.kid == short.kid)
        {
            return Err(Error::invalid_input(format!(
                "auth.jwt.secret and an entry of auth.jwt.keys both define the key with \
                 kid {:?}; keep only one of them",
                short.kid
            ))
            .with_operation("auth.load_keys")
            .with_key("auth.jwt.secret"));
        }
        let signing_kid = settings.effective_signing_kid();
        let keys = (settings.keys.iter().map(|key| (key, KEYS_SETTING)))
            .chain(shorthand.iter().map(|key| (key, SECRET_SETTING)));
        let mut verifying = HashMap::with_capacity(settings.keys.len() + 1);
        let mut signing = None;
        for (key, setting) in keys {
            if key.kid.trim().is_empty() {
                return Err(bad_key(&key.kid, "the kid is empty"));
            }
            if verifying.contains_key(&key.kid) {
                return Err(bad_key(&key.kid, "the kid is used by two keys"));
            }
            let (encoding, verifier) = load_key(key).map_err(|err| err.with_key(setting))?;
            if key.kid == signing_kid {
                let encoding = encoding.ok_or_else(|| {
                    bad_key(
                        &key.kid,
                        "it is the signing key but has only a public key; give private_key_pem",
                    )
                })?;
                let mut header = Header::new(key.algorithm.to_jsonwebtoken());
                header.kid = Some(key.kid.clone());
                signing = Some(SigningKey {
                    kid: key.kid.clone(),
                    key: encoding,
                    header,
                });
            }
            verifying.insert(key.kid.clone(), verifier);
        }
        if !settings.signing_kid.is_empty() && signing.is_none() {
            return Err(Error::invalid_input(format!(
                "auth.jwt.signing_kid is {:?} but no key has that kid",
                settings.signing_kid
            ))
            .with_operation("auth.load_keys")
            .with_key("auth.jwt.signing_kid"));
        }
        Ok(KeyRing {
            signing,
            verifying,
            issuer: Some(settings.issuer.clone()).filter(|issuer| !issuer.is_empty()),
            audience: settings.audience.clone(),
            leeway: settings.leeway_secs,
        })
    }

    /// Claims for `subject` carrying this ring's issuer and first audience.
    pub fn claims(
        &self,
        subject: impl Into<String>,
        token_type: TokenType,
        lifetime: Duration,
    ) -> Claims {
        let mut claims = Claims::new(subject, token_type, lifetime);
        claims.iss = self.issuer.clone();
        claims.aud = self.audience.first().cloned().into_iter().collect();
        claims
    }

    /// The clock skew tolerated, in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway
    }

    /// The `kid` new tokens are signed with, if this ring can sign.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|key| key.kid.as_str())
    }

    /// Signs `claims` with the signing key.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the ring
    /// has no signing key; [`Internal`](core_error::ErrorKind::Internal) if
    /// the signature cannot be made.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let signing = self.signing.as_ref().ok_or_else(|| {
            Error::invalid_input("this key ring verifies only; set auth.jwt.signing_kid to sign")
                .with_operation("auth.sign_token")
        })?;
        jsonwebtoken::encode(&signing.header, claims, &signing.key).map_err(|err| {
            Error::internal(format!("the token could not be signed: {err}"))
                .with_operation("auth.sign_token")
                .with_context("kid", &signing.kid)
        })
    }

    /// Checks `token` and returns its claims.
    ///
    /// In order: the size, the three-part shape, the header (`kid` known,
    /// `alg` exactly the key's pinned algorithm, no `crit`), the signature,
    /// then `exp`, `nbf`, `iat` (each with the leeway), `iss` and `aud`.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`](core_error::ErrorKind::Unauthenticated) with the
    /// reason (never the token) when any check fails.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(rejected("the token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(rejected(
                "the token is not a signed JWT (three dot-separated parts)",
            ));
        };
        let header: TokenHeader = decode_part(header)
            .ok_or_else(|| rejected("the token header is not valid base64url JSON"))?;
        if header.crit.is_some() {
            return Err(rejected(
                "the token header has critical extensions this verifier does not support",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| rejected("the token header names no key (kid)"))?;
        let key = self
            .verifying
            .get(&kid)
            .ok_or_else(|| rejected("the token was signed with an unknown key (kid)"))?;
        if header.alg != key.algorithm.name() {
            return Err(rejected(
                "the token's algorithm is not the one its key is pinned to",
            ));
        }
        // Both parts, with the dot between them, are what was signed.
        let signed = &token[..token.len() - signature.len() - 1];
        let valid = match &key.hmac {
            Some(hmac) => verify_hmac(hmac, signed, signature)?,
            None => jsonwebtoken::crypto::verify(
                signature,
                signed.as_bytes(),
                &key.key,
                key.algorithm.to_jsonwebtoken(),
            )
            .map_err(|_| rejected("the token signature is malformed"))?,
        };
        if !valid {
            return Err(rejected("the token signature is invalid"));
        }
        let claims: Claims = decode_part(payload)
            .ok_or_else(|| rejected("the token claims are malformed or of the wrong type"))?;
        self.validate(&claims)?;
        Ok(claims)
    }

    /// [`verify`](KeyRing::verify), and the token must be of `expected` type.
    ///
    /// # Errors
    ///
    /// As for `verify`; also when an access token is presented as a refresh
    /// token or the other way round.
    pub fn verify_type(&self, token: &str, expected: TokenType) -> Result<Claims> {
        let claims = self.verify(token)?;
        if claims.token_type != expected {
            return Err(match expected {
                TokenType::Access => rejected("a refresh token cannot be used for access"),
                TokenType::Refresh => rejected("an access token cannot be used to refresh"),
            });
        }
        Ok(claims)
    }

    fn validate(&self, claims: &Claims) -> Result<()> {
        let now = unix_now();
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(rejected("the token has expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(rejected("the token is not valid yet (nbf)"));
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(rejected("the token was issued in the future (iat)"));
        }
        if claims.sub.is_empty() {
            return Err(rejected("the token has no subject"));
        }
        if let Some(issuer) = &self.issuer
            && claims.iss.as_deref() != Some(issuer.as_str())
        {
            return Err(rejected("the token is from another issuer"));
        }
        if !self.audience.is_empty() && !claims.aud.iter().any(|aud| self.audience.contains(aud)) {
            return Err(rejected("the token is meant for another audience"));
        }
        Ok(())
    }

    /// The public keys as a JSON Web Key Set (`{"keys": [...]}`), for a
    /// `/.well-known/jwks.json` endpoint. Shared HMAC secrets are never
    /// included.
    ///
    /// ```
    /// use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
    ///
    /// let ring = KeyRing::from_settings(&JwtSettings {
    ///     keys: vec![KeySettings::hmac("h", SigningAlgorithm::HS256, "0123456789abcdef0123456789abcdef")],
    ///     ..JwtSettings::default()
    /// }).unwrap();
    /// assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 0);
    /// ```
    pub fn jwks(&self) -> serde_json::Value {
        let mut keys: Vec<(&String, &Jwk)> = self
            .verifying
            .iter()
            .filter_map(|(kid, key)| key.jwk.as_ref().map(|jwk| (kid, jwk)))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let keys: Vec<serde_json::Value> = keys
            .into_iter()
            .filter_map(|(_, jwk)| serde_json::to_value(jwk).ok())
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Whether `signature` (base64url) is the HMAC of `signed` under `key`,
/// compared in constant time.
fn verify_hmac(key: &ring::hmac::Key, signed: &str, signature: &str) -> Result<bool> {
    // The longest tag, HS512's, is 64 bytes; a longer one cannot match.
    let mut tag = [0_u8; 64];
    let length = URL_SAFE_NO_PAD
        .decode_slice(signature, &mut tag)
        .map_err(|_| rejected("the token signature is malformed"))?;
    Ok(ring::hmac::verify(key, signed.as_bytes(), &tag[..length]).is_ok())
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn load_key(settings: &KeySettings) -> Result<(Option<EncodingKey>, VerifyingKey)> {
    let kid = &settings.kid;
    let algorithm = settings.algorithm;
    if algorithm.is_symmetric() {
        if settings.private_key_pem.is_some() || settings.public_key_pem.is_some() {
            return Err(bad_key(
                kid,
                format!("{algorithm} takes a secret, not a PEM key"),
            ));
        }
        let secret = settings
            .secret
            .as_ref()
            .ok_or_else(|| bad_key(kid, format!("{algorithm} needs a secret")))?;
        let secret = secret.expose_secret().as_bytes();
        if secret.len() < algorithm.min_secret_bytes() {
            return Err(bad_key(
                kid,
                format!(
                    "the secret is {} bytes; {algorithm} needs at least {}",
                    secret.len(),
                    algorithm.min_secret_bytes()
                ),
            ));
        }
        let digest = match algorithm {
            SigningAlgorithm::HS384 => ring::hmac::HMAC_SHA384,
            SigningAlgorithm::HS512 => ring::hmac::HMAC_SHA512,
            _ => ring::hmac::HMAC_SHA256,
        };
        let verifier = VerifyingKey {
            algorithm,
            key: DecodingKey::from_secret(secret),
            hmac: Some(ring::hmac::Key::new(digest, secret)),
            jwk: None,
        };
        return Ok((Some(EncodingKey::from_secret(secret)), verifier));
    }
    if settings.secret.is_some() {
        return Err(bad_key(
            kid,
            format!("{algorithm} takes a PEM key, not a secret"),
        ));
    }
    let alg = algorithm.to_jsonwebtoken();
    let (encoding, mut jwk, decoding) = match (&settings.private_key_pem, &settings.public_key_pem)
    {
        (Some(private), None) => {
            let pem = private.expose_secret().as_bytes();
            let encoding = match algorithm {
                SigningAlgorithm::RS256 => EncodingKey::from_rsa_pem(pem),
                SigningAlgorithm::ES256 => EncodingKey::from_ec_pem(pem),
                _ => EncodingKey::from_ed_pem(pem),
            }
            .map_err(|err| {
                bad_key(
                    kid,
                    format!("the private key is not a {algorithm} PEM key: {err}"),
                )
            })?;
            let jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|err| {
                bad_key(
                    kid,
                    format!("the private key does not fit {algorithm}: {err}"),
                )
            })?;
            let decoding = DecodingKey::from_jwk(&jwk)
                .map_err(|err| bad_key(kid, format!("its public key cannot be derived: {err}")))?;
            (Some(encoding), jwk, decoding)
        }
        (None, Some(public)) => {
            let pem = public.as_bytes();
            let decoding = match algorithm {
                SigningAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem),
                SigningAlgorithm::ES256 => DecodingKey::from_ec_pem(pem),
                _ => DecodingKey::from_ed_pem(pem),
            }
            .map_err(|err| {
                bad_key(
                    kid,
                    format!("the public key is not a {algorithm} PEM key: {err}"),
                )
            })?;
            let jwk = Jwk::from_decoding_key(&decoding, Some(alg)).map_err(|err| {
                bad_key(
                    kid,
                    format!("the public key does not fit {algorithm}: {err}"),
                )
            })?;
            (None, jwk, decoding)
        }
        (Some(_), Some(_)) => {
            return Err(bad_key(
                kid,
                "give private_key_pem or public_key_pem, not both",
            ));
        }
        (None, None) => {
            return Err(bad_key(
                kid,
                format!("{algorithm} needs private_key_pem or public_key_pem"),
            ));
        }
    };
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let verifier = VerifyingKey {
        algorithm,
        key: decoding,
        hmac: None,
        jwk: Some(jwk),
    };
    Ok((encoding, verifier))
}
