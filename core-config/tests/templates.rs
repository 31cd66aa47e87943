//! The templates in configs/ load, pass the rules of their environment once
//! filled in, and document every key.

mod common;

use std::path::Path;

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, encrypt};

fn template(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn every_key_has_a_comment_above_it() {
    for name in [
        ".env.local.example",
        ".env.dev.example",
        ".env.test.example",
        ".env.staging.example",
        ".env.prod.example",
        ".secrets.example",
    ] {
        let text = template(name);
        let lines: Vec<&str> = text.lines().collect();
        let mut keys = 0;
        for (index, line) in lines.iter().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys += 1;
            assert!(
                index > 0 && lines[index - 1].starts_with('#'),
                "{name}: {line:?} has no comment above it"
            );
        }
        assert!(keys > 0, "{name} sets nothing");
    }
}

#[test]
fn each_env_template_loads_for_its_environment() {
    for env in AppEnv::ALL {
        let fixture = Fixture::new();
        fixture.write(
            &format!(".env.{env}"),
            &template(&format!(".env.{env}.example")),
        );
        let key = AesKey::generate().unwrap();
        // The secrets template, filled in as an operator would.
        let secrets = template(".secrets.example")
            .replace("APP_ENV=dev", &format!("APP_ENV={env}"))
            .replace(
                "AES_SECRET=CHANGE_ME",
                &format!("AES_SECRET={}", key_text(&key)),
            )
            .replace(
                "ENC(CHANGE_ME)",
                &encrypt(&key, "a-real-secret-of-at-least-32-bytes!")
                    .unwrap()
                    .to_string(),
            );
        fixture.write(".secrets", &secrets);
        let loaded = fixture
            .loader(&[])
            .list_key("cors.allowed_origins")
            .load_untyped()
            .unwrap_or_else(|err| panic!("{env}: {err}"));
        assert_eq!(loaded.env(), env);
        assert_eq!(loaded.tree().get_i64("server.port"), Some(8080));
        assert!(loaded.tree().was_encrypted("auth.jwt_secret"));
    }
}

#[test]
fn the_unfilled_secrets_template_is_refused_in_prod() {
    let fixture = Fixture::new();
    fixture.write(".env.prod", &template(".env.prod.example"));
    fixture.write(".secrets", &template(".secrets.example"));
    assert!(
        fixture
            .loader(&[("APP_ENV", "prod")])
            .load_untyped()
            .is_err()
    );
}
