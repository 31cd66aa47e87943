//! Keys, settings and token forging shared by the test binaries.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
use core_auth::tokens::{TokenService, TokenSettings};
use core_cache::{Cache, CacheSettings, connect};

pub(crate) const HS_SECRET: &str = "pl4nted-hmac-s3cret-of-32-bytes-at-least!";
pub(crate) const RSA_PRIVATE: &str = include_str!("../keys/rsa_private.pem");
pub(crate) const RSA_PUBLIC: &str = include_str!("../keys/rsa_public.pem");
pub(crate) const EC_PRIVATE: &str = include_str!("../keys/ec_private.pem");
pub(crate) const EC_PUBLIC: &str = include_str!("../keys/ec_public.pem");
pub(crate) const ED_PRIVATE: &str = include_str!("../keys/ed_private.pem");
pub(crate) const ED_PUBLIC: &str = include_str!("../keys/ed_public.pem");

pub(crate) const ISSUER: &str = "https://auth.test";
pub(crate) const AUDIENCE: &str = "orders-api";

/// Every supported key, one per algorithm, signing with `signing_kid`.
pub(crate) fn settings(signing_kid: &str) -> JwtSettings {
    JwtSettings {
        issuer: ISSUER.into(),
        audience: vec![AUDIENCE.into()],
        leeway_secs: 30,
        signing_kid: signing_kid.into(),
        keys: vec![
            KeySettings::hmac("hs256", SigningAlgorithm::HS256, HS_SECRET),
            KeySettings::hmac("hs384", SigningAlgorithm::HS384, HS_SECRET.repeat(2)),
            KeySettings::hmac("hs512", SigningAlgorithm::HS512, HS_SECRET.repeat(2)),
            KeySettings::private_pem("rs256", SigningAlgorithm::RS256, RSA_PRIVATE),
            KeySettings::private_pem("es256", SigningAlgorithm::ES256, EC_PRIVATE),
            KeySettings::private_pem("eddsa", SigningAlgorithm::EdDSA, ED_PRIVATE),
        ],
        secret: None,
    }
}

pub(crate) fn ring(signing_kid: &str) -> KeyRing {
    KeyRing::from_settings(&settings(signing_kid)).expect("the test keys load")
}

pub(crate) fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// A token with any header and claims, HMAC-signed with `secret` under
/// `alg` (or unsigned when `secret` is `None`), as an attacker would make.
pub(crate) fn forge(
    header: serde_json::Value,
    claims: serde_json::Value,
    alg: jsonwebtoken::Algorithm,
    secret: Option<&[u8]>,
) -> String {
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let signature = match secret {
        Some(secret) => jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret),
            alg,
        )
        .unwrap(),
        None => String::new(),
    };
    format!("{message}.{signature}")
}

/// Claims that would pass every check, as JSON to tamper with.
pub(crate) fn valid_claims_json() -> serde_json::Value {
    let now = core_auth::jwt::unix_now();
    serde_json::json!({
        "sub": "user-1", "exp": now + 600, "iat": now, "iss": ISSUER, "aud": AUDIENCE,
        "jti": "7d1d8c1e-0000-4000-8000-000000000001", "typ": "access", "roles": ["admin"]
    })
}

pub(crate) async fn memory_cache() -> Cache {
    let mut settings = CacheSettings::from_url("memory://");
    settings.namespace = Some(core_testkit::unique_name("auth"));
    connect(&settings).await.expect("the memory cache")
}

pub(crate) fn service(cache: Cache, tokens: &TokenSettings) -> TokenService {
    TokenService::new(Arc::new(ring("hs256")), cache, tokens).expect("the token service")
}

/// Asserts the error neither shows nor debugs `secret`.
pub(crate) fn assert_hidden(err: &core_auth::Error, secret: &str) {
    assert!(
        !err.to_string().contains(secret),
        "leaked in Display: {err}"
    );
    assert!(
        !format!("{err:?}").contains(secret),
        "leaked in Debug: {err:?}"
    );
}
