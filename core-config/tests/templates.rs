//! The templates in configs/ load, pass the rules of their environment once
//! filled in, and document every key.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Fixture, key_text};
use core_auth::jwt::{KeyRing, TokenType};
use core_config::{AesKey, AppEnv, Violations, encrypt, rotate_file};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

fn template(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// `# APP__MQ__URL=ENC(CHANGE_ME)`: a value the secrets template leaves
/// for the operator to uncomment.
fn is_commented_value(line: &str) -> bool {
    line.strip_prefix("# ").is_some_and(|rest| {
        rest.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
    })
}

/// The secrets template with every value line uncommented, as an operator
/// who has not filled them in yet would leave it.
fn uncommented_secrets() -> String {
    template(".secrets.example")
        .lines()
        .map(|line| {
            if is_commented_value(line) {
                line.trim_start_matches("# ").to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
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
            if line.is_empty() || (line.starts_with('#') && !is_commented_value(line)) {
                continue;
            }
            keys += 1;
            assert!(
                index > 0
                    && lines[index - 1].starts_with('#')
                    && !is_commented_value(lines[index - 1]),
                "{name}: {line:?} has no comment above it"
            );
        }
        assert!(keys > 0, "{name} sets nothing");
    }
}

/// The settings the templates set, nesting the SDK's real sections where
/// they exist as dependencies of this crate (core-log, core-cache,
/// core-auth), so a key or value those crates do not accept fails here. Every
/// struct refuses unknown keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TemplateSettings {
    server: core_web::ServerSettings,
    debug: bool,
    database: Database,
    cache: core_cache::CacheSettings,
    mq: Mq,
    auth: core_auth::AuthSettings,
    log: core_log::LogSettings,
    config: core_config::ConfigSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Database {
    url: SecretString,
    max_connections: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Mq {
    url: SecretString,
}

/// core-auth builds a key ring from what the templates set, and it signs
/// and verifies with the issuer the templates name.
fn assert_signs_and_verifies(auth: &core_auth::AuthSettings, env: AppEnv) {
    let ring = KeyRing::from_settings(&auth.jwt).unwrap_or_else(|err| panic!("{env}: {err}"));
    let claims = ring.claims("user-1", TokenType::Access, Duration::from_secs(60));
    let token = ring.sign(&claims).unwrap();
    let verified = ring.verify(&token).unwrap();
    assert_eq!(verified.sub, "user-1");
    assert_eq!(
        verified.iss.as_deref(),
        Some("https://auth.example.com"),
        "{env}"
    );
}

/// The secrets template filled in as an operator would: each `ENC(CHANGE_ME)`
/// replaced by a real value of its kind, encrypted under `key`.
fn filled_secrets(env: AppEnv, key: &AesKey) -> String {
    let plaintext = |name: &str| match name {
        "APP__DATABASE__URL" => {
            "postgres://app:db-pa$$word@db.internal:5432/app?sslmode=verify-full"
        }
        "APP__CACHE__URL" => "rediss://:cache-password@cache.internal:6380/0",
        "APP__MQ__URL" => "amqps://app:mq-password@mq.internal:5671/%2f",
        "APP__AUTH__JWT__SECRET" => "a-real-secret-of-at-least-32-bytes!",
        other => panic!("the secrets template has a new ENC value {other}: fill it here"),
    };
    uncommented_secrets()
        .lines()
        .map(|line| {
            if line == "APP_ENV=dev" {
                format!("APP_ENV={env}")
            } else if line == "AES_SECRET=CHANGE_ME" {
                format!("AES_SECRET={}", key_text(key))
            } else if let Some(name) = line.strip_suffix("=ENC(CHANGE_ME)") {
                format!("{name}={}", encrypt(key, plaintext(name)).unwrap())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn each_env_template_loads_into_the_sdk_sections_for_its_environment() {
    for env in AppEnv::ALL {
        let fixture = Fixture::new();
        fixture.write(
            &format!(".env.{env}"),
            &template(&format!(".env.{env}.example")),
        );
        let key = AesKey::generate().unwrap();
        fixture.write(".secrets", &filled_secrets(env, &key));
        let loaded = fixture
            .loader(&[])
            .list_key("server.cors.allowed_origins")
            .load::<TemplateSettings>()
            .unwrap_or_else(|err| panic!("{env}: {err}"));
        assert_eq!(loaded.env(), env);
        let settings = loaded.settings();
        assert!(settings.server.bind_addr.ends_with(":8080"), "{env}");
        assert!(!settings.server.cors.allowed_origins.is_empty(), "{env}");
        assert!(loaded.tree().was_encrypted("auth.jwt.secret"));
        assert_signs_and_verifies(&settings.auth, env);
        assert_eq!(
            settings.cache.url.expose_secret(),
            "rediss://:cache-password@cache.internal:6380/0"
        );
        // Unsubstituted: `$$` is not a variable.
        assert_eq!(
            settings.database.url.expose_secret(),
            "postgres://app:db-pa$$word@db.internal:5432/app?sslmode=verify-full"
        );
        let expected_format = if matches!(env, AppEnv::Staging | AppEnv::Prod) {
            core_log::LogFormat::Json
        } else {
            core_log::LogFormat::Text
        };
        assert_eq!(settings.log.format, expected_format, "{env}");
        assert_eq!(
            settings.config.echo,
            !matches!(env, AppEnv::Test | AppEnv::Staging | AppEnv::Prod),
            "{env}"
        );
    }
}

/// Copied as they are, with the secrets template as it is: what a new user
/// does first. Nothing is refused, and no line goes unread.
#[test]
fn the_templates_of_the_development_environments_load_as_they_are() {
    for env in [AppEnv::Local, AppEnv::Dev, AppEnv::Test] {
        let fixture = Fixture::new();
        fixture.write(
            &format!(".env.{env}"),
            &template(&format!(".env.{env}.example")),
        );
        fixture.write(".secrets", &template(".secrets.example"));
        let loaded = fixture
            .loader(&[])
            .fallback_env(env)
            .list_key("server.cors.allowed_origins")
            .load::<TemplateSettings>()
            .unwrap_or_else(|err| {
                panic!(".env.{env}.example and .secrets.example as they are: {err}")
            });
        assert_eq!(
            loaded.env(),
            env,
            "the secrets template must not choose the environment"
        );
        assert!(
            loaded.settings().server.bind_addr.ends_with(":8080"),
            "{env}"
        );
    }
}

#[test]
fn a_log_format_core_log_does_not_know_fails_the_typed_load() {
    // What the templates used to say: the typed load must catch it.
    let fixture = Fixture::new();
    let env_file =
        template(".env.dev.example").replace("APP__LOG__FORMAT=text", "APP__LOG__FORMAT=pretty");
    assert!(env_file.contains("APP__LOG__FORMAT=pretty"));
    fixture.write(".env.dev", &env_file);
    let key = AesKey::generate().unwrap();
    fixture.write(".secrets", &filled_secrets(AppEnv::Dev, &key));
    let err = fixture
        .loader(&[])
        .list_key("server.cors.allowed_origins")
        .load::<TemplateSettings>()
        .unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    assert!(violations.mentions("log.format"), "{err}");
}

#[test]
fn a_filled_secrets_file_rotates_despite_enc_in_its_comments() {
    let fixture = Fixture::new();
    fixture.write(".env.prod", &template(".env.prod.example"));
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let text = filled_secrets(AppEnv::Prod, &old);
    assert!(
        text.lines()
            .any(|line| line.starts_with('#') && line.contains("ENC(...)")),
        "the test needs a comment mentioning ENC(...)"
    );
    let path = fixture.write(".secrets", &text);
    let rotation = rotate_file(&path, &old, &new).unwrap();
    assert_eq!(rotation.values, 4);
    assert!(rotation.key_updated);
    let rotated = std::fs::read_to_string(&path).unwrap();
    assert!(rotated.contains(&format!("AES_SECRET={}", key_text(&new))));
    assert!(!rotated.contains(&key_text(&old)));
    // The file opens its own values with the key it now holds.
    let loaded = fixture
        .loader(&[])
        .list_key("server.cors.allowed_origins")
        .load::<TemplateSettings>()
        .unwrap();
    let secret = loaded.settings().auth.jwt.secret.as_ref().unwrap();
    assert_eq!(
        secret.expose_secret(),
        "a-real-secret-of-at-least-32-bytes!"
    );
}

#[test]
fn the_unfilled_secrets_template_is_refused_in_prod_naming_every_unfilled_value() {
    let fixture = Fixture::new();
    fixture.write(".env.prod", &template(".env.prod.example"));
    fixture.write(".secrets", &uncommented_secrets());
    let err = fixture
        .loader(&[("APP_ENV", "prod")])
        .list_key("server.cors.allowed_origins")
        .load_untyped()
        .unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    let about = |path: &str| -> Vec<String> {
        violations
            .iter()
            .filter(|v| v.path == path)
            .map(|v| v.message.clone())
            .collect()
    };
    // The placeholder key is reported as such ...
    assert!(
        about("AES_SECRET")
            .iter()
            .any(|m| m.contains("must be 32 bytes")),
        "{err}"
    );
    // ... and each value it cannot open, by path.
    for path in ["database.url", "cache.url", "mq.url", "auth.jwt.secret"] {
        let messages = about(path);
        assert!(
            messages
                .iter()
                .any(|m| m.contains("AES_SECRET is not a valid key")),
            "{path}: {err}"
        );
        assert!(
            messages.iter().any(|m| m.contains("placeholder")),
            "{path}: {err}"
        );
    }
    assert!(
        about("auth.jwt.secret")
            .iter()
            .any(|m| m.contains("shorter than 32 bytes")),
        "{err}"
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthOnly {
    auth: core_auth::AuthSettings,
}

#[test]
fn a_toml_file_with_only_the_jwt_secret_gives_core_auth_a_signing_key() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "[auth.jwt]\nissuer = \"https://auth.example.com\"\n\
         secret = \"a-real-secret-of-at-least-32-bytes!\"\n",
    );
    let loaded = fixture.loader_for(AppEnv::Prod).load::<AuthOnly>().unwrap();
    assert_signs_and_verifies(&loaded.settings().auth, AppEnv::Prod);
    let shown = format!("{:?}", loaded.settings());
    assert!(!shown.contains("a-real-secret"), "{shown}");

    // The same key from the one environment variable keygen prints.
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "[auth.jwt]\nissuer = \"https://auth.example.com\"\n",
    );
    let loaded = fixture
        .loader(&[
            ("APP_ENV", "prod"),
            (
                "APP__AUTH__JWT__SECRET",
                "a-real-secret-of-at-least-32-bytes!",
            ),
        ])
        .load::<AuthOnly>()
        .unwrap();
    assert_signs_and_verifies(&loaded.settings().auth, AppEnv::Prod);
}
