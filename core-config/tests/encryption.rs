//! ENC(...) values: round trip, every way they can be wrong, nonce freshness.

mod common;

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, EncError, EncValue, Violations, decrypt, encrypt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const PLAINTEXT: &str = "correct horse battery staple";

#[test]
fn round_trip() {
    let key = AesKey::generate().unwrap();
    let sealed = encrypt(&key, PLAINTEXT).unwrap().to_string();
    assert!(!sealed.contains(PLAINTEXT));
    assert_eq!(decrypt(&key, &sealed).unwrap().expose_secret(), PLAINTEXT);
}

#[test]
fn wrong_key_is_refused() {
    let (key, other) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let sealed = encrypt(&key, PLAINTEXT).unwrap().to_string();
    assert_eq!(
        decrypt(&other, &sealed).unwrap_err(),
        EncError::Authentication
    );
}

#[test]
fn every_tampered_byte_is_detected() {
    let key = AesKey::generate().unwrap();
    let sealed = encrypt(&key, PLAINTEXT).unwrap().to_string();
    let payload = STANDARD
        .decode(sealed.trim_start_matches("ENC(").trim_end_matches(')'))
        .unwrap();
    for index in 0..payload.len() {
        let mut altered = payload.clone();
        altered[index] ^= 0x01;
        let text = format!("ENC({})", STANDARD.encode(&altered));
        assert_eq!(
            decrypt(&key, &text).unwrap_err(),
            EncError::Authentication,
            "byte {index}"
        );
    }
}

#[test]
fn truncated_values_are_refused() {
    let key = AesKey::generate().unwrap();
    let sealed = encrypt(&key, PLAINTEXT).unwrap().to_string();
    let payload = STANDARD
        .decode(sealed.trim_start_matches("ENC(").trim_end_matches(')'))
        .unwrap();
    for length in 0..payload.len() {
        let text = format!("ENC({})", STANDARD.encode(&payload[..length]));
        let err = decrypt(&key, &text).unwrap_err();
        assert!(
            matches!(err, EncError::Truncated(_) | EncError::Authentication),
            "length {length}: {err:?}"
        );
    }
}

#[test]
fn bad_base64_is_refused() {
    let key = AesKey::generate().unwrap();
    assert_eq!(
        decrypt(&key, "ENC(not*base64!)").unwrap_err(),
        EncError::Base64
    );
}

#[test]
fn nonces_are_never_reused_across_ten_thousand_encryptions() {
    let key = AesKey::generate().unwrap();
    let mut nonces = HashSet::new();
    for _ in 0..10_000 {
        let sealed = encrypt(&key, PLAINTEXT).unwrap();
        // Read back through the text form, as a file would hold it.
        let parsed = EncValue::parse(&sealed.to_string()).unwrap();
        assert!(nonces.insert(*parsed.nonce()), "a nonce repeated");
    }
    assert_eq!(nonces.len(), 10_000);
}

#[derive(Deserialize)]
struct Settings {
    database: Database,
}

#[derive(Deserialize)]
struct Database {
    user: String,
    password: SecretString,
}

#[test]
fn any_text_value_is_decrypted_at_load_from_any_layer() {
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "[database]\nuser = \"{}\"\npassword = \"placeholder-overridden\"\n",
            encrypt(&key, "app").unwrap()
        ),
    );
    fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nAPP__DATABASE__PASSWORD={}\n",
            key_text(&key),
            encrypt(&key, PLAINTEXT).unwrap()
        ),
    );
    let loaded = fixture.loader_for(AppEnv::Dev).load::<Settings>().unwrap();
    assert_eq!(loaded.settings().database.user, "app");
    assert_eq!(
        loaded.settings().database.password.expose_secret(),
        PLAINTEXT
    );
    assert!(loaded.tree().was_encrypted("database.password"));
    assert_eq!(loaded.echo().entry("database.user").unwrap().shown, "***");
}

#[test]
fn the_process_key_wins_and_hex_keys_work() {
    let key = AesKey::generate().unwrap();
    let hex_key = {
        let text = key_text(&key);
        hex::encode(STANDARD.decode(text).unwrap())
    };
    let fixture = Fixture::new();
    fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nAPP__TOKEN={}\n",
            key_text(&AesKey::generate().unwrap()),
            encrypt(&key, PLAINTEXT).unwrap()
        ),
    );
    let loaded = fixture
        .loader(&[("AES_SECRET", hex_key.as_str())])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.tree().get_str("token"), Some(PLAINTEXT));
}

#[test]
fn load_errors_name_every_failing_path_and_never_the_plaintext() {
    let key = AesKey::generate().unwrap();
    let other = AesKey::generate().unwrap();
    let good = encrypt(&key, PLAINTEXT).unwrap().to_string();
    let wrong_key = encrypt(&other, PLAINTEXT).unwrap().to_string();
    let truncated = format!("{})", &good[..good.len() - 20]);
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "[database]\npassword = \"{wrong_key}\"\n[cache]\npassword = \"{truncated}\"\n\
             [mq]\npassword = \"ENC(%%%)\"\n[auth]\ntoken = \"{good}\"\n"
        ),
    );
    let err = fixture
        .loader(&[("AES_SECRET", key_text(&key).as_str())])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    assert!(violations.mentions("database.password"), "{err}");
    assert!(violations.mentions("cache.password"), "{err}");
    assert!(violations.mentions("mq.password"), "{err}");
    assert!(!violations.mentions("auth.token"), "{err}");
    assert!(!err.to_string().contains(PLAINTEXT));
    assert!(!format!("{err:?}").contains(PLAINTEXT));
}

#[test]
fn an_enc_value_without_a_key_is_an_error_naming_the_path() {
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "[database]\npassword = \"{}\"\n",
            encrypt(&key, PLAINTEXT).unwrap()
        ),
    );
    let err = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    assert!(violations.mentions("database.password"));
    assert!(err.to_string().contains("AES_SECRET"), "{err}");
}

#[test]
fn a_malformed_key_is_an_error_that_does_not_repeat_it() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "token = \"ENC(AAAA)\"\n");
    let err = fixture
        .loader(&[("AES_SECRET", "tooshortkeymaterial")])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap_err();
    assert!(err.to_string().contains("AES_SECRET"), "{err}");
    assert!(!err.to_string().contains("tooshortkeymaterial"), "{err}");
}

#[test]
fn a_malformed_key_is_a_violation_even_without_enc_values() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "port = 1\n");
    fixture.write(".secrets", "AES_SECRET=CHANGE_ME-tooshort\n");
    let err = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    assert!(violations.mentions("AES_SECRET"), "{err}");
    assert!(err.to_string().contains(".secrets"), "{err}");
    assert!(!err.to_string().contains("tooshort"), "{err}");
}
