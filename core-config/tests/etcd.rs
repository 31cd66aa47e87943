//! etcd as a settings source, on the real server of `scripts/services.sh`:
//! precedence, live updates, refused updates, secrets, TLS and credentials,
//! start-up without etcd, and the `core-config etcd` commands.

#![cfg(all(feature = "etcd", feature = "reload"))]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, ErrorKind, EtcdSettings, EtcdStore, Origin, encrypt, rules};
use core_testkit::{Service, require_service, unique_name};
use serde::Deserialize;
use tokio::time::timeout;

#[derive(Debug, Deserialize, PartialEq)]
struct Settings {
    workers: u32,
    name: String,
    #[serde(default)]
    origins: Vec<String>,
}

const WAIT: Duration = Duration::from_secs(5);

/// Settings for a prefix of this test's own under `/config/`.
fn etcd_at(url: &str) -> EtcdSettings {
    let mut settings = EtcdSettings::new([url], "");
    settings.prefix = format!("/config/{}/dev/", unique_name("test"));
    settings
}

fn tls_dir() -> PathBuf {
    std::env::var("CORE_TLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/tmp/core-sdk-services/tls"))
}

/// The TLS listener's settings: the project CA, the user with rights on `/config/`.
fn tls_settings(url: &str) -> EtcdSettings {
    let mut settings = etcd_at(url);
    settings.ca_file = Some(tls_dir().join("ca.pem"));
    settings.user = Some("app".to_string());
    settings.password = Some("core-sdk-app-pw".into());
    settings
}

#[tokio::test]
async fn etcd_overrides_the_files_and_secrets_override_etcd() {
    let url = require_service!(Service::Etcd);
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "6").unwrap();
    store
        .put(&format!("{}name", etcd.prefix), "from-etcd")
        .unwrap();
    store
        .put(
            &format!("{}origins", etcd.prefix),
            r#"["https://a", "https://b"]"#,
        )
        .unwrap();

    let fixture = Fixture::new();
    fixture.write("config/default.toml", "workers = 2\nname = \"from-file\"\n");
    fixture.write(".env.dev", "APP__WORKERS=3\n");
    let loaded = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 6, ".env.dev ranks below etcd");
    assert_eq!(loaded.settings().name, "from-etcd");
    assert_eq!(loaded.settings().origins, ["https://a", "https://b"]);
    assert_eq!(
        loaded.tree().get("workers").unwrap().origin(),
        Origin::Etcd {
            key: format!("{}workers", etcd.prefix)
        }
    );

    fixture.write(".secrets", "APP__WORKERS=9\n");
    let loaded = fixture
        .loader(&[("APP__NAME", "from-process")])
        .env(AppEnv::Dev)
        .etcd(etcd)
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 9);
    assert_eq!(loaded.settings().name, "from-process");
}

#[tokio::test]
async fn the_config_etcd_section_of_the_files_names_the_cluster() {
    let url = require_service!(Service::Etcd);
    let service = unique_name("svc");
    let store = EtcdStore::connect(&etcd_at(&url)).unwrap();
    store
        .put(&format!("/config/{service}/dev/workers"), "7")
        .unwrap();
    store
        .put(&format!("/config/{service}/dev/name"), "n")
        .unwrap();

    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!("workers = 1\n[config.etcd]\nendpoints = [\"{url}\"]\nservice = \"{service}\"\n"),
    );
    #[derive(Deserialize)]
    struct WithSection {
        workers: u32,
        config: core_config::ConfigSection,
    }
    let loaded = fixture
        .loader_for(AppEnv::Dev)
        .load::<WithSection>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 7);
    assert_eq!(loaded.settings().config.etcd.service, service);
    // `without_etcd` reads the local layers only.
    let local = fixture
        .loader_for(AppEnv::Dev)
        .without_etcd()
        .load::<WithSection>()
        .unwrap();
    assert_eq!(local.settings().workers, 1);
}

#[tokio::test]
async fn an_encrypted_value_in_etcd_is_decrypted_and_never_shown() {
    let url = require_service!(Service::Etcd);
    let key = AesKey::generate().unwrap();
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    let sealed = encrypt(&key, "PLANTED-ETCD-SECRET").unwrap().to_string();
    store
        .put(&format!("{}database/password", etcd.prefix), &sealed)
        .unwrap();
    store
        .put(&format!("{}api/token", etcd.prefix), "PLANTED-PLAIN-TOKEN")
        .unwrap();
    store
        .put(&format!("{}workers", etcd.prefix), "not-a-number")
        .unwrap();

    let fixture = Fixture::new();
    fixture.write(".secrets", &format!("AES_SECRET={}\n", key_text(&key)));
    let loader = fixture.loader_for(AppEnv::Dev).etcd(etcd.clone());
    let (loaded, violations) = loader.inspect().unwrap();
    assert_eq!(
        loaded.tree().get_str("database.password"),
        Some("PLANTED-ETCD-SECRET")
    );
    assert!(loaded.tree().was_encrypted("database.password"));

    // Every output: the echo, the typed load's error, Debug forms, the listing.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        workers: u32,
    }
    let error = loader.load::<Typed>().unwrap_err();
    let listing = store.list(&etcd.prefix).unwrap();
    let outputs = [
        loaded.echo().to_string(),
        format!("{:?}", loaded.tree()),
        violations.to_string(),
        error.to_string(),
        format!("{error:?}"),
        format!("{listing:?}"),
        format!("{:?}", listing.redacted()),
        format!("{etcd:?}"),
    ];
    for output in outputs {
        assert!(!output.contains("PLANTED"), "{output}");
    }
    assert!(
        listing
            .redacted()
            .contains(&("database/password".to_string(), "ENC(…)".to_string()))
    );
}

#[tokio::test]
async fn a_put_reaches_a_subscriber_and_an_invalid_put_is_refused() {
    let url = require_service!(Service::Etcd);
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "2").unwrap();
    store.put(&format!("{}name", etcd.prefix), "a").unwrap();

    let fixture = Fixture::new();
    let watched = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .rule(rules::range("workers", 1..=16))
        .watch::<Settings>()
        .unwrap();
    let mut settings = watched.subscribe();
    assert_eq!(settings.borrow().workers, 2);

    let sent = Instant::now();
    store.put(&format!("{}workers", etcd.prefix), "8").unwrap();
    timeout(WAIT, settings.changed()).await.unwrap().unwrap();
    eprintln!("etcd put -> typed update in {:?}", sent.elapsed());
    assert_eq!(settings.borrow().workers, 8);

    // Out of range: refused, counted, and the settings in force stay.
    let mut status = watched.status();
    store.put(&format!("{}workers", etcd.prefix), "99").unwrap();
    timeout(WAIT, status.wait_for(|status| status.rejected == 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(watched.current().workers, 8);
    assert!(
        status
            .borrow()
            .last_error
            .as_deref()
            .unwrap()
            .contains("workers"),
        "{:?}",
        status.borrow().last_error
    );

    // Fixed: the next valid value is in force again.
    store.put(&format!("{}workers", etcd.prefix), "4").unwrap();
    timeout(WAIT, settings.wait_for(|settings| settings.workers == 4))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn one_push_of_many_keys_is_one_update() {
    let url = require_service!(Service::Etcd);
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "1").unwrap();
    store.put(&format!("{}name", etcd.prefix), "a").unwrap();
    let fixture = Fixture::new();
    let watched = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .watch::<Settings>()
        .unwrap();
    let mut settings = watched.subscribe();
    store
        .replace(
            &etcd.prefix,
            &[("workers".into(), "5".into()), ("name".into(), "b".into())],
        )
        .unwrap();
    timeout(WAIT, settings.changed()).await.unwrap().unwrap();
    assert_eq!(
        (settings.borrow().workers, settings.borrow().name.as_str()),
        (5, "b")
    );
}

#[test]
fn unreachable_at_start_fails_clearly_or_starts_from_the_snapshot() {
    let fixture = Fixture::new();
    let mut etcd = EtcdSettings::new(["http://127.0.0.1:1"], "orders");
    let err = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .load_untyped()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let text = err.to_string();
    assert!(text.contains("etcd at http://127.0.0.1:1"), "{text}");
    assert!(text.contains("config.etcd.snapshot"), "{text}");

    // A snapshot from an earlier read (here written by hand in its format).
    let snapshot = fixture.path().join("etcd-snapshot.json");
    std::fs::write(
        &snapshot,
        r#"{"prefix":"/config/orders/dev/","revision":12,"kvs":[["workers","3"],["name","snap"]]}"#,
    )
    .unwrap();
    etcd.snapshot = Some(snapshot);
    let loaded = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd)
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 3);
    assert_eq!(
        loaded.tree().get("name").unwrap().origin(),
        Origin::Etcd {
            key: "/config/orders/dev/name".into()
        }
    );
}

#[tokio::test]
async fn a_read_keeps_the_snapshot_a_later_start_uses() {
    let url = require_service!(Service::Etcd);
    let fixture = Fixture::new();
    let mut etcd = etcd_at(&url);
    let snapshot = fixture.path().join("snap.json");
    etcd.snapshot = Some(snapshot.clone());
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "11").unwrap();
    store.put(&format!("{}name", etcd.prefix), "x").unwrap();
    fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .load::<Settings>()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&snapshot).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    etcd.endpoints = vec!["http://127.0.0.1:1".into()];
    let loaded = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd)
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 11);
}

#[tokio::test]
async fn a_key_that_names_no_setting_is_reported() {
    let url = require_service!(Service::Etcd);
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store
        .put(&format!("{}database//url", etcd.prefix), "x")
        .unwrap();
    store
        .put(&format!("{}config/etcd/endpoints", etcd.prefix), "x")
        .unwrap();
    let err = Fixture::new()
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .load_untyped()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "etcd key {}database//url: does not name a setting",
            etcd.prefix
        )),
        "{text}"
    );
    assert!(
        text.contains("config.etcd cannot be set from etcd itself"),
        "{text}"
    );
}

#[tokio::test]
async fn tls_with_the_project_ca_and_a_user() {
    let url = require_service!(Service::EtcdTls);
    let etcd = tls_settings(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "5").unwrap();
    store.put(&format!("{}name", etcd.prefix), "tls").unwrap();
    let loaded = Fixture::new()
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 5);

    // Another CA: refused as untrusted, not worth retrying.
    let mut wrong_ca = etcd.clone();
    wrong_ca.ca_file = Some(tls_dir().join("other-ca.pem"));
    let err = EtcdStore::connect(&wrong_ca)
        .unwrap()
        .list(&etcd.prefix)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // A wrong password, and no user at all.
    let mut wrong_password = etcd.clone();
    wrong_password.password = Some("PLANTED-WRONG-PW".into());
    let err = EtcdStore::connect(&wrong_password)
        .unwrap()
        .list(&etcd.prefix)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!err.to_string().contains("PLANTED"), "{err}");
    let mut anonymous = etcd.clone();
    anonymous.user = None;
    anonymous.password = None;
    let err = EtcdStore::connect(&anonymous)
        .unwrap()
        .list(&etcd.prefix)
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
        ),
        "{err}"
    );

    // A name the certificate does not hold (the listener also answers on
    // 127.0.0.2): refused, not worth retrying.
    let mut other_name = etcd.clone();
    other_name.endpoints = vec![url.replace("127.0.0.1", "127.0.0.2")];
    let err = EtcdStore::connect(&other_name)
        .unwrap()
        .list(&etcd.prefix)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");

    // A client certificate of the project CA is offered and accepted; half
    // of one is refused before connecting.
    let mut with_cert = etcd.clone();
    with_cert.cert_file = Some(tls_dir().join("client.pem"));
    with_cert.key_file = Some(tls_dir().join("client.key"));
    assert_eq!(
        EtcdStore::connect(&with_cert)
            .unwrap()
            .list(&etcd.prefix)
            .unwrap()
            .kvs
            .len(),
        2
    );
    with_cert.key_file = None;
    let err = EtcdStore::connect(&with_cert).err().unwrap();
    assert!(err.to_string().contains("set both or neither"), "{err}");

    // https without a CA is refused before connecting, naming the setting.
    let mut no_ca = etcd;
    no_ca.ca_file = None;
    let err = EtcdStore::connect(&no_ca).err().unwrap();
    assert!(err.to_string().contains("config.etcd.ca_file"), "{err}");
}

#[tokio::test]
async fn tls_follows_changes_too() {
    let url = require_service!(Service::EtcdTls);
    let etcd = tls_settings(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    store.put(&format!("{}workers", etcd.prefix), "1").unwrap();
    store.put(&format!("{}name", etcd.prefix), "a").unwrap();
    let fixture = Fixture::new();
    let watched = fixture
        .loader_for(AppEnv::Dev)
        .etcd(etcd.clone())
        .watch::<Settings>()
        .unwrap();
    let mut settings = watched.subscribe();
    store.put(&format!("{}workers", etcd.prefix), "3").unwrap();
    let waited = timeout(WAIT, settings.wait_for(|settings| settings.workers == 3)).await;
    assert!(waited.is_ok(), "{:?}", *watched.status().borrow());
}

#[tokio::test]
async fn the_commands_push_get_and_diff() {
    let url = require_service!(Service::Etcd);
    let service = unique_name("cli");
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    let sealed = encrypt(&key, "PLANTED-CLI-PW").unwrap().to_string();
    fixture.write(
        "config/default.toml",
        &format!(
            "workers = 2\nname = \"n\"\norigins = [\"https://a\"]\n[database]\npassword = \"{sealed}\"\n\
             url = \"postgres://app:PLANTED-URL-PW@db/app\"\n"
        ),
    );
    fixture.write("config/dev.toml", "workers = 4\n");
    fixture.write(".secrets", &format!("AES_SECRET={}\n", key_text(&key)));
    let cli = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_core-config"))
            .args(args)
            .args(["--env", "dev", "--service", &service, "--endpoint", &url])
            .env_remove("AES_SECRET")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains("PLANTED"), "{text}");
        (output.status.code(), text)
    };
    let dir = fixture.path().to_str().unwrap().to_string();

    let (code, text) = cli(&["etcd", "diff", "--dir", &dir]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("+ workers") && text.contains("5 added"),
        "{text}"
    );

    let (code, text) = cli(&["etcd", "push", "--dir", &dir]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("5 added, 0 removed"), "{text}");

    let (code, text) = cli(&["etcd", "get"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("/config/{service}/dev/workers = 4")),
        "{text}"
    );
    assert!(text.contains("database/password = ENC(…)"), "{text}");
    assert!(
        text.contains("database/url = postgres://app:***@db/app"),
        "{text}"
    );
    assert!(text.contains(r#"origins = ["https://a"]"#), "{text}");

    let (code, text) = cli(&["etcd", "diff", "--dir", &dir]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("0 added, 0 removed, 0 changed, 5 unchanged"),
        "{text}"
    );

    // The pushed prefix loads back to the same settings, ENC(...) opened.
    let mut etcd = etcd_at(&url);
    etcd.prefix = String::new();
    etcd.service = service.clone();
    let bare = Fixture::new();
    bare.write(".secrets", &format!("AES_SECRET={}\n", key_text(&key)));
    let loaded = bare
        .loader_for(AppEnv::Dev)
        .etcd(etcd)
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.settings().workers, 4);
    assert_eq!(loaded.settings().origins, ["https://a"]);

    // An invalid tree is never pushed.
    fixture.write(
        "config/dev.toml",
        "workers = 4\nbroken = \"ENC(bm9wZQ==)\"\n",
    );
    let (code, text) = cli(&["etcd", "push", "--dir", &dir]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("broken"), "{text}");
    let (_, text) = cli(&["etcd", "get"]);
    assert!(!text.contains("broken"), "{text}");
}

#[tokio::test]
async fn a_push_bigger_than_one_transaction_lands_whole() {
    let url = require_service!(Service::Etcd);
    let etcd = etcd_at(&url);
    let store = EtcdStore::connect(&etcd).unwrap();
    // etcd refuses more than 128 operations in one transaction.
    let kvs: Vec<(String, String)> = (0..300)
        .map(|index| (format!("many/key_{index}"), index.to_string()))
        .collect();
    store.replace(&etcd.prefix, &kvs).unwrap();
    assert_eq!(store.list(&etcd.prefix).unwrap().kvs.len(), 300);
    store.replace(&etcd.prefix, &kvs[..10]).unwrap();
    assert_eq!(store.list(&etcd.prefix).unwrap().kvs.len(), 10);
}
