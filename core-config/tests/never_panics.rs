//! Property tests: the ENC parser, the URL parser and the loader never panic,
//! whatever they are fed.

mod common;

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, ConnectionUrl, EncValue, decrypt, encrypt};
use proptest::prelude::*;
use secrecy::ExposeSecret;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn enc_parser_never_panics(text in any::<String>()) {
        let _ = EncValue::parse(&text);
    }

    #[test]
    fn enc_parser_never_panics_on_near_misses(inner in "[A-Za-z0-9+/=]{0,80}", noise in "\\PC{0,3}") {
        let key = AesKey::generate().unwrap();
        let _ = decrypt(&key, &format!("ENC({inner})"));
        let _ = decrypt(&key, &format!("ENC({inner}{noise})"));
        let _ = decrypt(&key, &format!("{noise}ENC({inner}"));
    }

    #[test]
    fn any_text_round_trips(plain in any::<String>()) {
        let key = AesKey::generate().unwrap();
        let sealed = encrypt(&key, &plain).unwrap().to_string();
        let opened = decrypt(&key, &sealed).unwrap();
        prop_assert_eq!(opened.expose_secret(), plain.as_str());
    }

    #[test]
    fn connection_url_parser_never_panics(text in any::<String>(), tail in "[a-z:/@\\[\\],?=&%0-9.]{0,40}") {
        let _ = ConnectionUrl::parse(&text);
        let _ = ConnectionUrl::parse(&format!("postgres://{tail}"));
        let _ = ConnectionUrl::parse(&format!("mongodb://{tail}"));
    }
}

proptest! {
    // Each case writes real files: fewer of them.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn loader_never_panics_on_arbitrary_files(
        toml in any::<String>(),
        yaml in "\\PC{0,200}",
        dotenv in "\\PC{0,200}",
        secrets in "(APP__[A-Z_]{1,8}=(ENC\\([A-Za-z0-9+/=]{0,40}\\)?|\\PC{0,20})\n){0,4}",
        var_name in "[A-Za-z_]{1,12}",
        var_value in "\\PC{0,40}",
    ) {
        let fixture = Fixture::new();
        fixture.write("config/default.toml", &toml);
        fixture.write("config/dev.yaml", &yaml);
        fixture.write(".env.dev", &dotenv);
        fixture.write(".secrets", &secrets);
        let key = key_text(&AesKey::generate().unwrap());
        let name = format!("APP__{var_name}");
        let loader = fixture.loader(&[
            ("AES_SECRET", key.as_str()),
            (name.as_str(), var_value.as_str()),
        ]);
        let _ = loader.clone().env(AppEnv::Dev).load_untyped();
        let _ = loader.clone().env(AppEnv::Prod).load_untyped();
        let _ = loader.env(AppEnv::Dev).load::<std::collections::HashMap<String, String>>();
    }
}
