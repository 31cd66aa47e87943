//! `ENC(...)` values: decrypting arbitrary text never panics, and anything
//! encrypted decrypts back to itself.
#![no_main]

use std::sync::OnceLock;

use core_config::{AesKey, decrypt, encrypt};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret as _;

fn key() -> &'static AesKey {
    static KEY: OnceLock<AesKey> = OnceLock::new();
    KEY.get_or_init(|| AesKey::parse(&"ab".repeat(32)).expect("a hex key"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decrypt(key(), text);
    let sealed = encrypt(key(), text).expect("any text encrypts");
    let opened = decrypt(key(), &sealed.to_string()).expect("what was encrypted decrypts");
    assert_eq!(opened.expose_secret(), text);
});
