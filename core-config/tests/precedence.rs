//! Each source overrides the ones below it, and says so in the echo.

mod common;

use common::Fixture;
use core_config::{AppEnv, Origin};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Settings {
    server: Server,
}

#[derive(Debug, Deserialize)]
struct Server {
    host: String,
    port: u16,
    workers: u32,
    name: String,
    region: String,
    zone: String,
}

#[derive(serde::Serialize)]
struct Defaults {
    server: DefaultServer,
}

#[derive(serde::Serialize)]
struct DefaultServer {
    host: &'static str,
    port: u16,
    workers: u32,
    name: &'static str,
    region: &'static str,
    zone: &'static str,
}

fn defaults() -> Defaults {
    Defaults {
        server: DefaultServer {
            host: "from-default",
            port: 1,
            workers: 1,
            name: "from-default",
            region: "from-default",
            zone: "from-default",
        },
    }
}

/// Every layer present, each overriding one more field than the layer above
/// it leaves alone: field `zone` is set by defaults only, `region` last by
/// default.toml, `name` last by dev.toml, `workers` last by .env.dev, `port`
/// last by .secrets, and `host` by the process environment.
#[test]
fn every_layer_overrides_the_one_below() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "[server]\nhost = \"default-file\"\nport = 2\nworkers = 2\nname = \"default-file\"\nregion = \"default-file\"\n",
    );
    fixture.write(
        "config/dev.yaml",
        "server:\n  host: env-file\n  port: 3\n  workers: 3\n  name: env-file\n",
    );
    fixture.write(
        ".env.dev",
        "APP__SERVER__HOST=dotenv\nAPP__SERVER__PORT=4\nAPP__SERVER__WORKERS=4\n",
    );
    fixture.write(
        ".secrets",
        "APP_ENV=dev\nAPP__SERVER__HOST=secrets\nAPP__SERVER__PORT=5\n",
    );

    let loaded = fixture
        .loader(&[("APP__SERVER__HOST", "process")])
        .defaults(&defaults())
        .load::<Settings>()
        .unwrap();
    let server = &loaded.settings().server;
    assert_eq!(server.zone, "from-default");
    assert_eq!(server.region, "default-file");
    assert_eq!(server.name, "env-file");
    assert_eq!(server.workers, 4);
    assert_eq!(server.port, 5);
    assert_eq!(server.host, "process");

    let echo = loaded.echo();
    let origin = |path: &str| echo.entry(path).unwrap().origin.clone();
    assert_eq!(origin("server.zone"), Origin::Default);
    assert_eq!(
        origin("server.region"),
        Origin::File("config/default.toml".into())
    );
    assert_eq!(
        origin("server.name"),
        Origin::File("config/dev.yaml".into())
    );
    assert_eq!(
        origin("server.workers"),
        Origin::VarFile {
            file: ".env.dev".into(),
            var: "APP__SERVER__WORKERS".into()
        }
    );
    assert_eq!(
        origin("server.port"),
        Origin::VarFile {
            file: ".secrets".into(),
            var: "APP__SERVER__PORT".into()
        }
    );
    assert_eq!(
        origin("server.host"),
        Origin::Environment {
            var: "APP__SERVER__HOST".into()
        }
    );
}

#[test]
fn each_file_format_is_read() {
    let cases = [
        ("config/default.toml", "[server]\nport = 7001\n"),
        ("config/default.yaml", "server:\n  port: 7001\n"),
        ("config/default.json", "{\"server\": {\"port\": 7001}}"),
        ("config/default.ini", "[server]\nport = 7001\n"),
    ];
    for (file, text) in cases {
        let fixture = Fixture::new();
        fixture.write(file, text);
        let loaded = fixture.loader_for(AppEnv::Test).load_untyped().unwrap();
        assert_eq!(loaded.tree().get_i64("server.port"), Some(7001), "{file}");
    }
}

#[test]
fn only_the_selected_environment_files_are_read() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "name = \"default\"\n");
    fixture.write("config/prod.toml", "name = \"prod\"\n");
    fixture.write(".env.prod", "APP__OTHER=prod\n");
    let loaded = fixture.loader_for(AppEnv::Staging).load_untyped().unwrap();
    assert_eq!(loaded.tree().get_str("name"), Some("default"));
    assert!(!loaded.tree().contains("other"));
}

#[test]
fn two_formats_of_the_same_file_are_refused() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "a = 1\n");
    fixture.write("config/default.json", "{\"a\": 2}");
    let err = fixture.loader_for(AppEnv::Dev).load_untyped().unwrap_err();
    assert!(err.to_string().contains("default.toml"), "{err}");
    assert!(err.to_string().contains("default.json"), "{err}");
}

#[test]
fn variables_without_the_prefix_never_become_settings() {
    let fixture = Fixture::new();
    let loaded = fixture
        .loader(&[
            ("APP_ENV", "dev"),
            ("HOME", "/root"),
            ("APPX__A", "1"),
            ("APP__A", "2"),
        ])
        .load_untyped()
        .unwrap();
    let paths: Vec<String> = loaded.tree().leaves().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["a"]);
}

#[test]
fn a_custom_prefix_and_list_keys() {
    let fixture = Fixture::new();
    let loaded = fixture
        .loader(&[
            (
                "SHOP__CORS__ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("APP__X", "1"),
        ])
        .prefix("SHOP")
        .list_key("cors.origins")
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap();
    assert_eq!(
        loaded.tree().get_str("cors.origins[1]"),
        Some("https://b.example")
    );
    assert!(!loaded.tree().contains("x"));
}

#[test]
fn numbers_from_variables_keep_their_text_for_text_fields() {
    #[derive(Deserialize)]
    struct Pin {
        pin: String,
        port: u16,
    }
    let fixture = Fixture::new();
    let loaded = fixture
        .loader(&[("APP__PIN", "0123"), ("APP__PORT", "8080")])
        .env(AppEnv::Dev)
        .load::<Pin>()
        .unwrap();
    assert_eq!(loaded.settings().pin, "0123");
    assert_eq!(loaded.settings().port, 8080);
}

#[test]
fn dollar_signs_in_variable_files_are_kept_literally() {
    let fixture = Fixture::new();
    fixture.write(
        ".secrets",
        "APP__DB__PASSWORD=abc$HOME\nAPP__DB__OTHER=\"x${PATH}y\"\n",
    );
    fixture.write(".env.dev", "APP__DB__USER=u$USER\n");
    let loaded = fixture
        .loader(&[("HOME", "/root"), ("PATH", "/bin"), ("USER", "me")])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.tree().get_str("db.password"), Some("abc$HOME"));
    assert_eq!(loaded.tree().get_str("db.other"), Some("x${PATH}y"));
    assert_eq!(loaded.tree().get_str("db.user"), Some("u$USER"));
}
