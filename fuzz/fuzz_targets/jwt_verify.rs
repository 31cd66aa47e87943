//! JWT verification on arbitrary tokens: refused or accepted, never a panic;
//! and nothing the fuzzer makes without the key is accepted.
#![no_main]

use std::sync::OnceLock;

use core_auth::jwt::{JwtSettings, KeyRing, KeySettings, SigningAlgorithm};
use libfuzzer_sys::fuzz_target;

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        KeyRing::from_settings(&JwtSettings {
            signing_kid: "k1".into(),
            keys: vec![KeySettings::hmac(
                "k1",
                SigningAlgorithm::HS256,
                "0123456789abcdef0123456789abcdef",
            )],
            ..JwtSettings::default()
        })
        .expect("a key ring")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    assert!(ring().verify(token).is_err(), "a forged token was accepted");
});
