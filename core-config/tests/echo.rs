//! The echo: URL credentials never show, and `config.echo` logs it at load.

mod common;

use common::Fixture;
use core_config::AppEnv;
use core_testkit::Captured;

const PLANTED: &str = "PLANTED-s3cr3t-4d1e";

#[test]
fn url_credentials_in_query_strings_and_raw_slashes_never_show() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "[primary]\nurl = \"postgres://db:5432/app?sslmode=require&password={PLANTED}\"\n\
             [replica]\nurl = \"postgres://app:{PLANTED}/x@db:5432/app\"\n\
             [broker]\nurl = \"amqp://mq/%2f?user=app#{PLANTED}\"\n"
        ),
    );
    let loaded = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap();
    assert_eq!(
        loaded.tree().get_str("replica.url"),
        Some(format!("postgres://app:{PLANTED}/x@db:5432/app").as_str())
    );
    let echo = loaded.echo().to_string();
    let debug = format!("{:?}", loaded.tree());
    for (what, text) in [("echo", &echo), ("Debug", &debug)] {
        assert!(!text.contains("s3cr3t"), "{what}:\n{text}");
        assert!(
            text.contains("postgres://db:5432/app?sslmode=***&password=***"),
            "{what}:\n{text}"
        );
        assert!(
            text.contains("postgres://app:***@db:5432/app"),
            "{what}:\n{text}"
        );
    }
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Settings {
    db: Db,
    #[serde(default)]
    config: core_config::ConfigSection,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Db {
    host: String,
    password: secrecy::SecretString,
}

fn logs_of_a_load(echo: &str) -> String {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!("[db]\nhost = \"db.internal\"\npassword = \"{PLANTED}\"\n"),
    );
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::INFO);
    tracing::subscriber::with_default(subscriber, || {
        fixture
            .loader(&[("APP__CONFIG__ECHO", echo)])
            .env(AppEnv::Dev)
            .load::<Settings>()
            .unwrap()
    });
    captured.text()
}

#[test]
fn config_echo_on_logs_the_redacted_config_at_load() {
    let logs = logs_of_a_load("true");
    assert!(logs.contains("effective configuration"), "{logs}");
    assert!(logs.contains("setting=db.host"), "{logs}");
    assert!(logs.contains("db.internal"), "{logs}");
    assert!(logs.contains("setting=db.password value=***"), "{logs}");
    assert!(!logs.contains("s3cr3t"), "{logs}");
}

#[test]
fn config_echo_off_logs_nothing() {
    let logs = logs_of_a_load("false");
    assert!(!logs.contains("effective configuration"), "{logs}");
    assert!(!logs.contains("db.internal"), "{logs}");
}
