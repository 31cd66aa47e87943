//! Signing and verifying: every algorithm round-trips, and every rejection
//! path the issue lists is refused as Unauthenticated without echoing the
//! token.

mod common;

use std::time::Duration;

use common::*;
use core_auth::ErrorKind;
use core_auth::jwt::{Claims, JwtSettings, KeyRing, KeySettings, SigningAlgorithm, TokenType};
use jsonwebtoken::Algorithm;
use serde_json::json;

const KIDS: [&str; 6] = ["hs256", "hs384", "hs512", "rs256", "es256", "eddsa"];

fn rejected(ring: &KeyRing, token: &str, reason: &str) {
    let err = ring.verify(token).expect_err(reason);
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{reason}: {err}");
    assert!(
        err.to_string().contains(reason),
        "expected {reason:?}, got {err}"
    );
    // Neither the token nor any of its parts is echoed.
    for part in token.split('.').filter(|part| part.len() > 8) {
        assert_hidden(&err, part);
    }
}

#[test]
fn every_algorithm_round_trips() {
    for kid in KIDS {
        let ring = ring(kid);
        let claims = ring
            .claims("user-1", TokenType::Access, Duration::from_secs(60))
            .with_roles(["editor"])
            .with_scopes(["orders:read"]);
        let token = ring.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(kid));
        assert_eq!(ring.verify(&token).unwrap(), claims, "{kid}");
    }
}

#[test]
fn an_expired_token_is_rejected_but_the_leeway_is_honoured() {
    let ring = ring("hs256");
    let mut claims = ring.claims("user-1", TokenType::Access, Duration::ZERO);
    claims.exp = core_auth::jwt::unix_now() - 31;
    rejected(&ring, &ring.sign(&claims).unwrap(), "expired");
    claims.exp = core_auth::jwt::unix_now() - 20;
    assert!(
        ring.verify(&ring.sign(&claims).unwrap()).is_ok(),
        "within the 30 s leeway"
    );
}

#[test]
fn a_token_not_yet_valid_is_rejected() {
    let ring = ring("es256");
    let mut claims = ring.claims("user-1", TokenType::Access, Duration::from_secs(600));
    claims.nbf = Some(core_auth::jwt::unix_now() + 120);
    rejected(&ring, &ring.sign(&claims).unwrap(), "not valid yet");
    claims.nbf = Some(core_auth::jwt::unix_now() + 10);
    assert!(
        ring.verify(&ring.sign(&claims).unwrap()).is_ok(),
        "within the leeway"
    );
    claims.nbf = None;
    claims.iat = core_auth::jwt::unix_now() + 3600;
    rejected(&ring, &ring.sign(&claims).unwrap(), "issued in the future");
}

#[test]
fn a_wrong_issuer_or_audience_is_rejected() {
    let ring = ring("rs256");
    let base = ring.claims("user-1", TokenType::Access, Duration::from_secs(60));

    let mut claims = base.clone();
    claims.iss = Some("https://evil.test".into());
    rejected(&ring, &ring.sign(&claims).unwrap(), "another issuer");
    claims.iss = None;
    rejected(&ring, &ring.sign(&claims).unwrap(), "another issuer");

    let mut claims = base.clone();
    claims.aud = vec!["billing-api".into()];
    rejected(&ring, &ring.sign(&claims).unwrap(), "another audience");
    claims.aud = vec![];
    rejected(&ring, &ring.sign(&claims).unwrap(), "another audience");
    claims.aud = vec!["billing-api".into(), AUDIENCE.into()];
    assert!(
        ring.verify(&ring.sign(&claims).unwrap()).is_ok(),
        "one audience matches"
    );
}

#[test]
fn a_tampered_token_is_rejected() {
    for kid in KIDS {
        let ring = ring(kid);
        let token = ring
            .sign(&ring.claims("user-1", TokenType::Access, Duration::from_secs(60)))
            .unwrap();
        let [header, _, signature]: [&str; 3] =
            token.split('.').collect::<Vec<_>>().try_into().unwrap();

        // Escalate the roles, keep the signature.
        let mut claims = valid_claims_json();
        claims["roles"] = json!(["superuser"]);
        let escalated = format!("{header}.{}.{signature}", b64(&claims));
        rejected(&ring, &escalated, "signature is invalid");

        // Flip one bit of the signature.
        let mut bytes = signature.as_bytes().to_vec();
        bytes[4] = if bytes[4] == b'A' { b'B' } else { b'A' };
        let flipped = format!(
            "{}.{}",
            &token[..token.len() - signature.len() - 1],
            String::from_utf8(bytes).unwrap()
        );
        let err = ring.verify(&flipped).expect_err(kid);
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{kid}");
        assert!(err.to_string().contains("signature"), "{kid}: {err}");
    }
}

#[test]
fn alg_none_is_rejected() {
    let ring = ring("hs256");
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": "hs256"});
        let message = format!("{}.{}", b64(&header), b64(&valid_claims_json()));
        rejected(&ring, &format!("{message}."), "pinned to");
    }
    // Without a kid there is no key to fall back on either.
    let header = json!({"alg": "none"});
    let token = format!("{}.{}.", b64(&header), b64(&valid_claims_json()));
    rejected(&ring, &token, "names no key");
}

#[test]
fn hs_rs_confusion_is_rejected() {
    let ring = ring("rs256");
    // The classic attack: HMAC-sign with the RSA *public* key as the secret,
    // and name the RSA key.
    let forged = forge(
        json!({"alg": "HS256", "kid": "rs256"}),
        valid_claims_json(),
        Algorithm::HS256,
        Some(RSA_PUBLIC.as_bytes()),
    );
    rejected(&ring, &forged, "pinned to");
    // The other way round: an HMAC key named with an RSA algorithm.
    let forged = forge(
        json!({"alg": "RS256", "kid": "hs256"}),
        valid_claims_json(),
        Algorithm::HS256,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "pinned to");
    // Same family, other hash: still not the pinned algorithm.
    let forged = forge(
        json!({"alg": "HS512", "kid": "hs256"}),
        valid_claims_json(),
        Algorithm::HS512,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "pinned to");
}

#[test]
fn an_unknown_or_missing_kid_is_rejected() {
    let ring = ring("hs256");
    let forged = forge(
        json!({"alg": "HS256", "kid": "retired-2019"}),
        valid_claims_json(),
        Algorithm::HS256,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "unknown key");
    let forged = forge(
        json!({"alg": "HS256"}),
        valid_claims_json(),
        Algorithm::HS256,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "names no key");
}

#[test]
fn claims_of_the_wrong_type_are_rejected_not_ignored() {
    let ring = ring("hs256");
    // A string `nbf` far in the future must not read as "no nbf".
    for (claim, value) in [("nbf", json!("99999999999")), ("exp", json!("never"))] {
        let mut claims = valid_claims_json();
        claims[claim] = value;
        let forged = forge(
            json!({"alg": "HS256", "kid": "hs256"}),
            claims,
            Algorithm::HS256,
            Some(HS_SECRET.as_bytes()),
        );
        rejected(&ring, &forged, "malformed or of the wrong type");
    }
    let mut claims = valid_claims_json();
    claims.as_object_mut().unwrap().remove("exp");
    let forged = forge(
        json!({"alg": "HS256", "kid": "hs256"}),
        claims,
        Algorithm::HS256,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "malformed or of the wrong type");
}

#[test]
fn malformed_tokens_and_critical_headers_are_rejected() {
    let ring = ring("hs256");
    for token in ["", "a.b", "a.b.c.d", "!!!.???.***", &"x".repeat(20_000)] {
        let err = ring.verify(token).expect_err("malformed");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    }
    let forged = forge(
        json!({"alg": "HS256", "kid": "hs256", "crit": ["exp-v2"]}),
        valid_claims_json(),
        Algorithm::HS256,
        Some(HS_SECRET.as_bytes()),
    );
    rejected(&ring, &forged, "critical extensions");
}

#[test]
fn a_token_of_the_wrong_type_is_rejected() {
    let ring = ring("hs256");
    let refresh = ring
        .sign(&ring.claims("user-1", TokenType::Refresh, Duration::from_secs(60)))
        .unwrap();
    let err = ring.verify_type(&refresh, TokenType::Access).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(ring.verify_type(&refresh, TokenType::Refresh).is_ok());
}

#[test]
fn rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped() {
    let old_settings = JwtSettings {
        signing_kid: "2024".into(),
        keys: vec![KeySettings::private_pem(
            "2024",
            SigningAlgorithm::ES256,
            EC_PRIVATE,
        )],
        ..JwtSettings::default()
    };
    let old = KeyRing::from_settings(&old_settings).unwrap();
    let old_token = old
        .sign(&old.claims("user-1", TokenType::Access, Duration::from_secs(60)))
        .unwrap();

    let mut rotated_settings = JwtSettings {
        signing_kid: "2025".into(),
        keys: vec![KeySettings::private_pem(
            "2025",
            SigningAlgorithm::EdDSA,
            ED_PRIVATE,
        )],
        ..JwtSettings::default()
    };
    // The old key stays, verification-only, from its public half.
    rotated_settings.keys.push(KeySettings::public_pem(
        "2024",
        SigningAlgorithm::ES256,
        EC_PUBLIC,
    ));
    let rotated = KeyRing::from_settings(&rotated_settings).unwrap();
    assert_eq!(rotated.verify(&old_token).unwrap().sub, "user-1");
    let new_token = rotated
        .sign(&rotated.claims("user-2", TokenType::Access, Duration::from_secs(60)))
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some("2025")
    );
    assert!(
        old.verify(&new_token).is_err(),
        "the old ring does not know the new key"
    );

    rotated_settings.keys.pop();
    let retired = KeyRing::from_settings(&rotated_settings).unwrap();
    let err = retired.verify(&old_token).unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");
}

#[test]
fn verification_only_keys_verify_but_cannot_sign() {
    let verifier = KeyRing::from_settings(&JwtSettings {
        keys: vec![
            KeySettings::public_pem("rs256", SigningAlgorithm::RS256, RSA_PUBLIC),
            KeySettings::public_pem("eddsa", SigningAlgorithm::EdDSA, ED_PUBLIC),
        ],
        ..JwtSettings::default()
    })
    .unwrap();
    for kid in ["rs256", "eddsa"] {
        let signer = ring(kid);
        let mut claims = signer.claims("user-1", TokenType::Access, Duration::from_secs(60));
        claims.iss = None;
        claims.aud = vec![];
        assert!(
            verifier.verify(&signer.sign(&claims).unwrap()).is_ok(),
            "{kid}"
        );
    }
    let err = verifier.sign(&Claims::new("x", TokenType::Access, Duration::from_secs(1)));
    assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn jwks_exports_public_keys_only_and_they_verify() {
    let ring = ring("rs256");
    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(
        kids,
        ["eddsa", "es256", "rs256"],
        "no HMAC secret is published"
    );
    let text = jwks.to_string();
    assert!(!text.contains("\"d\""), "no private component: {text}");
    assert!(!text.contains("\"k\""), "no symmetric key: {text}");
    for key in keys {
        assert_eq!(key["use"], "sig");
    }
    // A consumer of the JWKS verifies our tokens with the published keys.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    for kid in ["rs256", "es256", "eddsa"] {
        let signer = common::ring(kid);
        let token = signer
            .sign(&signer.claims("user-1", TokenType::Access, Duration::from_secs(60)))
            .unwrap();
        let jwk = set.find(kid).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let alg = jsonwebtoken::decode_header(&token).unwrap().alg;
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[AUDIENCE]);
        jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            .unwrap_or_else(|err| panic!("{kid}: {err}"));
    }
}

#[test]
fn bad_key_settings_name_the_key_and_hide_the_secret() {
    let cases: Vec<(KeySettings, &str)> = vec![
        (
            KeySettings::hmac("short", SigningAlgorithm::HS256, "pl4nted-but-too-short"),
            "at least 32",
        ),
        (
            KeySettings::hmac("short512", SigningAlgorithm::HS512, HS_SECRET),
            "at least 64",
        ),
        (
            KeySettings::private_pem("rsa-as-ec", SigningAlgorithm::ES256, RSA_PRIVATE),
            "not a ES256",
        ),
        (
            KeySettings::private_pem("garbage", SigningAlgorithm::RS256, "pl4nted-not-a-pem"),
            "not a RS256",
        ),
        (
            KeySettings {
                secret: Some(
                    "pl4nted-hmac-s3cret-of-32-bytes-at-least!"
                        .to_string()
                        .into(),
                ),
                ..KeySettings::public_pem("mixed", SigningAlgorithm::RS256, RSA_PUBLIC)
            },
            "not a secret",
        ),
    ];
    for (key, reason) in cases {
        let kid = key.kid.clone();
        let err = KeyRing::from_settings(&JwtSettings {
            keys: vec![key],
            ..JwtSettings::default()
        })
        .expect_err(&kid);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&format!("{kid:?}")), "{err}");
        assert!(
            err.to_string().contains(reason),
            "{kid}: expected {reason:?} in {err}"
        );
        assert_hidden(&err, "pl4nted");
        assert_hidden(&err, "BEGIN PRIVATE KEY");
    }
    let duplicate = JwtSettings {
        keys: vec![
            KeySettings::hmac("k", SigningAlgorithm::HS256, HS_SECRET),
            KeySettings::hmac("k", SigningAlgorithm::HS256, HS_SECRET),
        ],
        ..JwtSettings::default()
    };
    assert!(
        KeyRing::from_settings(&duplicate)
            .unwrap_err()
            .to_string()
            .contains("two keys")
    );
    let unknown_signer = JwtSettings {
        signing_kid: "nope".into(),
        ..settings("hs256")
    };
    let err = KeyRing::from_settings(&unknown_signer).unwrap_err();
    assert_eq!(err.context_value("key"), Some("auth.jwt.signing_kid"));
    let public_signer = JwtSettings {
        signing_kid: "pub".into(),
        keys: vec![KeySettings::public_pem(
            "pub",
            SigningAlgorithm::RS256,
            RSA_PUBLIC,
        )],
        ..JwtSettings::default()
    };
    assert!(
        KeyRing::from_settings(&public_signer)
            .unwrap_err()
            .to_string()
            .contains("private_key_pem")
    );
}
