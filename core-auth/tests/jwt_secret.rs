//! The `auth.jwt.secret` shorthand: one HS256 key from one setting, the
//! layout core-config's templates and `keygen` produce.

mod common;

use std::time::Duration;

use common::{HS_SECRET, assert_hidden};
use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm, TokenType};
use core_auth::{AuthSettings, ErrorKind};
use serde_json::json;

const PLANTED: &str = "pl4nted-shorthand-s3cret-32-bytes-long!";

fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    header["kid"].as_str().unwrap().to_string()
}

fn sign(ring: &KeyRing, subject: &str) -> String {
    ring.sign(&ring.claims(subject, TokenType::Access, Duration::from_secs(60)))
        .unwrap()
}

#[test]
fn a_secret_alone_signs_and_verifies_under_the_default_kid() {
    let settings: AuthSettings = serde_json::from_value(json!({
        "jwt": {"issuer": "https://auth.example.com", "secret": PLANTED}
    }))
    .unwrap();
    let ring = KeyRing::from_settings(&settings.jwt).unwrap();
    assert_eq!(ring.signing_kid(), Some("default"));
    let token = sign(&ring, "user-1");
    assert_eq!(header_kid(&token), "default");
    let claims = ring.verify(&token).unwrap();
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.iss.as_deref(), Some("https://auth.example.com"));
    // Another ring from the same setting (another instance of the service)
    // verifies it; one with another secret does not.
    let again: JwtSettings = serde_json::from_value(json!({
        "issuer": "https://auth.example.com", "secret": PLANTED
    }))
    .unwrap();
    assert_eq!(
        KeyRing::from_settings(&again)
            .unwrap()
            .verify(&token)
            .unwrap()
            .sub,
        "user-1"
    );
    let other: JwtSettings = serde_json::from_value(json!({
        "issuer": "https://auth.example.com", "secret": HS_SECRET
    }))
    .unwrap();
    let err = KeyRing::from_settings(&other)
        .unwrap()
        .verify(&token)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

#[test]
fn the_secret_takes_the_signing_kid_and_listed_keys_still_verify() {
    let before = KeyRing::from_settings(&JwtSettings {
        signing_kid: "2025-01".into(),
        keys: vec![KeySettings::hmac(
            "2025-01",
            SigningAlgorithm::HS256,
            HS_SECRET,
        )],
        ..JwtSettings::default()
    })
    .unwrap();
    let old_token = sign(&before, "user-old");

    let settings: JwtSettings = serde_json::from_value(json!({
        "signing_kid": "2025-06",
        "secret": PLANTED,
        "keys": [{"kid": "2025-01", "algorithm": "HS256", "secret": HS_SECRET}]
    }))
    .unwrap();
    let after = KeyRing::from_settings(&settings).unwrap();
    assert_eq!(after.signing_kid(), Some("2025-06"));
    let new_token = sign(&after, "user-new");
    assert_eq!(header_kid(&new_token), "2025-06");
    assert_eq!(after.verify(&new_token).unwrap().sub, "user-new");
    assert_eq!(after.verify(&old_token).unwrap().sub, "user-old");
    assert!(before.verify(&new_token).is_err());
}

#[test]
fn the_secret_never_shows_in_debug_or_errors() {
    let settings: AuthSettings =
        serde_json::from_value(json!({"jwt": {"secret": PLANTED}})).unwrap();
    for shown in [
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{:?}", settings.jwt),
        format!("{:?}", KeyRing::from_settings(&settings.jwt).unwrap()),
    ] {
        assert!(!shown.contains(PLANTED), "{shown}");
        assert!(!shown.contains(&PLANTED[..12]), "{shown}");
    }

    let short: JwtSettings =
        serde_json::from_value(json!({"secret": "pl4nted-too-short"})).unwrap();
    let err = KeyRing::from_settings(&short).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("auth.jwt.secret"));
    assert!(err.to_string().contains("at least 32"), "{err}");
    assert!(err.to_string().contains("\"default\""), "{err}");
    assert_hidden(&err, "pl4nted");
}

#[test]
fn an_explicit_key_with_the_same_kid_is_a_clear_error() {
    for (signing_kid, kid) in [("", "default"), ("k1", "k1")] {
        let settings: JwtSettings = serde_json::from_value(json!({
            "signing_kid": signing_kid,
            "secret": PLANTED,
            "keys": [{"kid": kid, "algorithm": "HS256", "secret": HS_SECRET}]
        }))
        .unwrap();
        let err = KeyRing::from_settings(&settings).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.context_value("key"), Some("auth.jwt.secret"));
        let text = err.to_string();
        assert!(text.contains("auth.jwt.secret"), "{text}");
        assert!(text.contains("auth.jwt.keys"), "{text}");
        assert!(text.contains(&format!("{kid:?}")), "{text}");
        assert_hidden(&err, "pl4nted");
    }
}

#[test]
fn a_blank_secret_adds_no_key() {
    for blank in ["", "   "] {
        let settings: JwtSettings = serde_json::from_value(json!({"secret": blank})).unwrap();
        let ring = KeyRing::from_settings(&settings).unwrap();
        assert_eq!(ring.signing_kid(), None);
        let err = ring
            .sign(&ring.claims("u", TokenType::Access, Duration::from_secs(60)))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);

        // With a blank secret the listed keys work as before.
        let listed: JwtSettings = serde_json::from_value(json!({
            "signing_kid": "default",
            "secret": blank,
            "keys": [{"kid": "default", "algorithm": "HS256", "secret": HS_SECRET}]
        }))
        .unwrap();
        let ring = KeyRing::from_settings(&listed).unwrap();
        assert_eq!(ring.verify(&sign(&ring, "u")).unwrap().sub, "u");
    }
}
