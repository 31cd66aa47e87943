//! A planted secret never shows in Debug, Display, the echo, logs or errors.

mod common;

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, ConnectionUrl, Driver, encrypt, rules};
use secrecy::SecretString;
use serde::Deserialize;

#[cfg(feature = "reload")]
use core_testkit::Captured;

const PLANTED: &str = "PLANTED-s3cr3t-9f2c7a";

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Settings {
    database: Database,
    auth: Auth,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Database {
    url: ConnectionUrl,
    password: SecretString,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Auth {
    jwt: Jwt,
    api_token: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Jwt {
    secret: SecretString,
}

/// A folder where the planted secret sits in every kind of place: plain in
/// a file under a secret name, encrypted, inside a URL, and in `.secrets`
/// under an innocent name.
fn planted(fixture: &Fixture, key: &AesKey) {
    fixture.write(
        "config/default.toml",
        &format!(
            "[database]\nurl = \"postgres://app:{PLANTED}@db:5432/app\"\npassword = \"{}\"\n\
             [auth.jwt]\nsecret = \"{PLANTED}\"\n",
            encrypt(key, PLANTED).unwrap()
        ),
    );
    fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nAPP__AUTH__API_TOKEN={PLANTED}\nAPP__MISC__NOTE={PLANTED}\n",
            key_text(key)
        ),
    );
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(PLANTED), "{what} shows the secret:\n{text}");
    assert!(
        !text.contains("s3cr3t"),
        "{what} shows part of the secret:\n{text}"
    );
}

#[test]
fn settings_tree_and_echo_hide_it() {
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    planted(&fixture, &key);
    let loaded = fixture.loader_for(AppEnv::Dev).load::<Settings>().unwrap();
    // The service's own `String` field is its business; everything else hides it.
    assert_clean(
        "Debug of the settings' secret fields",
        &format!("{:?}", loaded.settings().database),
    );
    assert_clean("Debug of the tree", &format!("{:?}", loaded.tree()));
    assert_clean("Debug of the echo", &format!("{:?}", loaded.echo()));
    assert_clean("the echo", &loaded.echo().to_string());
    assert_clean(
        "Display of the URL",
        &loaded.settings().database.url.to_string(),
    );
    let echo = loaded.echo();
    assert_eq!(echo.entry("misc.note").unwrap().shown, "***");
    assert_eq!(echo.entry("database.password").unwrap().shown, "***");
    assert!(
        echo.entry("database.url")
            .unwrap()
            .shown
            .contains("app:***@db:5432")
    );
}

#[test]
fn errors_hide_it() {
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    planted(&fixture, &key);

    // A type error on a secret value.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        auth: WrongAuth,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct WrongAuth {
        api_token: u64,
    }
    let err = fixture.loader_for(AppEnv::Dev).load::<Wrong>().unwrap_err();
    assert_clean("a type error", &err.to_string());
    assert_clean("a type error's Debug", &format!("{err:?}"));

    // Production and rule violations on secret values.
    let err = fixture
        .loader_for(AppEnv::Prod)
        .rule(rules::url("auth.jwt.secret", &["https"]))
        .rule(rules::range("auth.api_token", 0..=1))
        .load_untyped()
        .unwrap_err();
    assert_clean("violations", &err.to_string());

    // A wrong key.
    let err = fixture
        .loader(&[(
            "AES_SECRET",
            key_text(&AesKey::generate().unwrap()).as_str(),
        )])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap_err();
    assert_clean("a wrong key", &err.to_string());

    // A malformed URL.
    let err = ConnectionUrl::parse(&format!("postgres://u:{PLANTED}@db:notaport/x")).unwrap_err();
    assert_clean("a bad URL", &err.to_string());

    // Broken files that contain it.
    fixture.write("config/default.toml", &format!("password = \"{PLANTED}\n"));
    let err = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap_err();
    assert_clean("a TOML syntax error", &err.to_string());
    fixture.write("config/default.toml", "");
    fixture.write(".secrets", &format!("APP__X {PLANTED}\n"));
    let err = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap_err();
    assert_clean("a .secrets syntax error", &err.to_string());
}

#[test]
fn connection_url_debug_and_display_hide_the_password() {
    let url = ConnectionUrl::new(Driver::Redis)
        .with_host("cache")
        .with_password(SecretString::from(PLANTED));
    assert_clean("Display", &url.to_string());
    assert_clean("Debug", &format!("{url:?}"));
    assert_clean("Debug of the password", &format!("{:?}", url.password()));
}

#[cfg(feature = "reload")]
#[tokio::test]
async fn reload_logs_hide_it() {
    use std::time::Duration;

    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::INFO);
    // Global, because the reload runs on its own thread; no other test in
    // this file logs.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    planted(&fixture, &key);
    let watched = fixture.loader_for(AppEnv::Dev).watch::<Settings>().unwrap();
    let mut status = watched.status();
    // Break the file so the reload logs an error about it.
    fixture.write(
        "config/default.toml",
        &format!(
            "[database]\nurl = \"postgres://app:{PLANTED}@db:99999/app\"\npassword = \"x\"\n\
             [auth.jwt]\nsecret = \"{PLANTED}\"\n"
        ),
    );
    tokio::time::timeout(Duration::from_secs(10), status.changed())
        .await
        .unwrap()
        .unwrap();
    let reported = status.borrow().last_error.clone().unwrap();
    assert!(reported.contains("database"), "{reported}");
    assert_clean("the reload status", &reported);
    let logs = captured.text();
    assert!(
        logs.contains("configuration reload rejected"),
        "nothing logged:\n{logs}"
    );
    assert_clean("the logs", &logs);
}
