//! core-auth against raw `jsonwebtoken`, on the same run.
//!
//! For each algorithm: signing the same claims with `KeyRing::sign` and with
//! `jsonwebtoken::encode`, and verifying the same token with
//! `KeyRing::verify` and with `jsonwebtoken::decode` under an equivalent
//! `Validation` (algorithm pinned, issuer, audience, exp and nbf with the
//! same leeway). Then the full access-token check with the revocation
//! lookup in the in-memory cache, and argon2id at the default (OWASP)
//! parameters.
//!
//! `cargo bench -p core-auth --all-features --bench auth`

use std::sync::Arc;
use std::time::Duration;

use core_auth::jwt::{Claims, JwtSettings, KeyRing, KeySettings, SigningAlgorithm, TokenType};
use core_auth::password::Passwords;
use core_auth::tokens::{TokenService, TokenSettings};
use core_cache::{CacheSettings, connect};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

const HS_SECRET: &str = "bench-hmac-secret-of-at-least-sixty-four-bytes-for-hs512-0123456789";
const RSA_PRIVATE: &str = include_str!("../tests/keys/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../tests/keys/rsa_public.pem");
const EC_PRIVATE: &str = include_str!("../tests/keys/ec_private.pem");
const EC_PUBLIC: &str = include_str!("../tests/keys/ec_public.pem");
const ED_PRIVATE: &str = include_str!("../tests/keys/ed_private.pem");
const ED_PUBLIC: &str = include_str!("../tests/keys/ed_public.pem");
const ISSUER: &str = "https://auth.bench";
const AUDIENCE: &str = "bench-api";

struct Case {
    algorithm: SigningAlgorithm,
    raw: Algorithm,
    settings: KeySettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

fn cases() -> Vec<Case> {
    let hmac = |algorithm, raw| Case {
        algorithm,
        raw,
        settings: KeySettings::hmac("k", algorithm, HS_SECRET),
        encoding: EncodingKey::from_secret(HS_SECRET.as_bytes()),
        decoding: DecodingKey::from_secret(HS_SECRET.as_bytes()),
    };
    vec![
        hmac(SigningAlgorithm::HS256, Algorithm::HS256),
        hmac(SigningAlgorithm::HS384, Algorithm::HS384),
        hmac(SigningAlgorithm::HS512, Algorithm::HS512),
        Case {
            algorithm: SigningAlgorithm::RS256,
            raw: Algorithm::RS256,
            settings: KeySettings::private_pem("k", SigningAlgorithm::RS256, RSA_PRIVATE),
            encoding: EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
            decoding: DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
        },
        Case {
            algorithm: SigningAlgorithm::ES256,
            raw: Algorithm::ES256,
            settings: KeySettings::private_pem("k", SigningAlgorithm::ES256, EC_PRIVATE),
            encoding: EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
            decoding: DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()).unwrap(),
        },
        Case {
            algorithm: SigningAlgorithm::EdDSA,
            raw: Algorithm::EdDSA,
            settings: KeySettings::private_pem("k", SigningAlgorithm::EdDSA, ED_PRIVATE),
            encoding: EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
            decoding: DecodingKey::from_ed_pem(ED_PUBLIC.as_bytes()).unwrap(),
        },
    ]
}

fn ring(case: &Case) -> KeyRing {
    KeyRing::from_settings(&JwtSettings {
        issuer: ISSUER.into(),
        audience: vec![AUDIENCE.into()],
        leeway_secs: 30,
        signing_kid: "k".into(),
        keys: vec![case.settings.clone()],
        secret: None,
    })
    .unwrap()
}

fn claims(ring: &KeyRing) -> Claims {
    ring.claims("user-42", TokenType::Access, Duration::from_secs(3600))
        .with_roles(["editor", "viewer"])
        .with_scopes(["orders:read"])
}

fn jwt(c: &mut Criterion) {
    for case in cases() {
        let ring = ring(&case);
        let claims = claims(&ring);
        let mut header = Header::new(case.raw);
        header.kid = Some("k".into());
        let mut validation = Validation::new(case.raw);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        let token = ring.sign(&claims).unwrap();
        // Both sides must accept the token before they are timed.
        jsonwebtoken::decode::<Claims>(&token, &case.decoding, &validation).unwrap();
        ring.verify(&token).unwrap();

        let mut group = c.benchmark_group(format!("jwt/{}", case.algorithm));
        group.bench_function(BenchmarkId::new("sign", "raw-jsonwebtoken"), |b| {
            b.iter(|| jsonwebtoken::encode(&header, &claims, &case.encoding).unwrap())
        });
        group.bench_function(BenchmarkId::new("sign", "sdk"), |b| {
            b.iter(|| ring.sign(&claims).unwrap())
        });
        group.bench_function(BenchmarkId::new("verify", "raw-jsonwebtoken"), |b| {
            b.iter(|| jsonwebtoken::decode::<Claims>(&token, &case.decoding, &validation).unwrap())
        });
        group.bench_function(BenchmarkId::new("verify", "sdk"), |b| {
            b.iter(|| ring.verify(&token).unwrap())
        });
        group.finish();
    }
}

fn access_check(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let case = cases().remove(0);
    let cache = rt
        .block_on(connect(&CacheSettings::from_url("memory://")))
        .unwrap();
    let tokens =
        TokenService::new(Arc::new(ring(&case)), cache, &TokenSettings::default()).unwrap();
    let pair = rt.block_on(tokens.issue("user-42", &[], &[])).unwrap();
    let mut group = c.benchmark_group("tokens/HS256-memory-cache");
    group.bench_function("verify_access (signature + revocation lookup)", |b| {
        b.to_async(&rt)
            .iter(|| async { tokens.verify_access(&pair.access_token).await.unwrap() })
    });
    group.finish();
}

fn argon2(c: &mut Criterion) {
    let passwords = Passwords::recommended();
    let hash = passwords.hash("correct horse battery staple").unwrap();
    let mut group = c.benchmark_group("password/argon2id-m19456-t2-p1");
    group.sample_size(10);
    group.bench_function("hash", |b| {
        b.iter(|| passwords.hash("correct horse battery staple").unwrap())
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            passwords
                .verify("correct horse battery staple", &hash)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, jwt, access_check, argon2);
criterion_main!(benches);
