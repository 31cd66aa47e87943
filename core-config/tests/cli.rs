//! The `core-config` binary, spawned as a process.

#![cfg(feature = "cli")]

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use common::{Fixture, key_text};
use core_config::{AesKey, decrypt, encrypt};
use secrecy::ExposeSecret;

fn core_config(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_core-config"));
    command
        .args(args)
        .env_remove("AES_SECRET")
        .env_remove("APP_ENV");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("spawn core-config")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "keygen", "encrypt", "decrypt", "rotate", "validate", "print",
    ] {
        let output = core_config(&[sub, "--help"], &[]);
        assert!(output.status.success(), "{sub} --help failed");
        assert!(
            stdout(&output).contains("Usage: core-config"),
            "{sub}: {}",
            stdout(&output)
        );
    }
    assert!(core_config(&["--help"], &[]).status.success());
}

#[test]
fn keygen_prints_a_working_key_and_a_long_jwt_secret() {
    let output = core_config(&["keygen"], &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("AES_SECRET="))
        .unwrap();
    let jwt = text
        .lines()
        .find_map(|l| l.strip_prefix("APP__AUTH__JWT__SECRET="))
        .unwrap();
    let key = AesKey::parse(key).unwrap();
    assert!(jwt.len() >= 32);
    let sealed = encrypt(&key, "x").unwrap().to_string();
    assert_eq!(decrypt(&key, &sealed).unwrap().expose_secret(), "x");
}

#[test]
fn encrypt_then_decrypt_with_env_key_and_key_file() {
    let key = AesKey::generate().unwrap();
    let key_env = key_text(&key);
    let output = core_config(&["encrypt", "hunter2"], &[("AES_SECRET", &key_env)]);
    assert!(output.status.success(), "{output:?}");
    let sealed = stdout(&output).trim().to_string();
    assert!(sealed.starts_with("ENC(") && !sealed.contains("hunter2"));

    let fixture = Fixture::new();
    let key_file = fixture.write("aes.key", &format!("{key_env}\n"));
    let output = core_config(
        &["decrypt", &sealed, "--key-file", key_file.to_str().unwrap()],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output).trim(), "hunter2");

    // From standard input, so the value stays out of the process list.
    let mut child = Command::new(env!("CARGO_BIN_EXE_core-config"))
        .args(["encrypt", "-"])
        .env("AES_SECRET", &key_env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let sealed = stdout(&output).trim().to_string();
    assert_eq!(
        decrypt(&key, &sealed).unwrap().expose_secret(),
        "from-stdin"
    );
}

#[test]
fn decrypt_with_the_wrong_key_fails_without_output() {
    let sealed = encrypt(&AesKey::generate().unwrap(), "hunter2")
        .unwrap()
        .to_string();
    let other = key_text(&AesKey::generate().unwrap());
    let output = core_config(&["decrypt", &sealed], &[("AES_SECRET", &other)]);
    assert!(!output.status.success());
    assert!(stdout(&output).is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong key"));
}

#[test]
fn rotate_rewrites_the_file_to_the_new_key() {
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let fixture = Fixture::new();
    let file = fixture.write(
        ".secrets",
        &format!("APP__A={}\n", encrypt(&old, "a").unwrap()),
    );
    let new_key_file = fixture.write("new.key", &format!("AES_SECRET={}\n", key_text(&new)));
    let output = core_config(
        &[
            "rotate",
            "--file",
            file.to_str().unwrap(),
            "--new-key-file",
            new_key_file.to_str().unwrap(),
        ],
        &[("AES_SECRET", &key_text(&old))],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("re-encrypted 1 value"));
    let text = std::fs::read_to_string(&file).unwrap();
    let value = text.trim().strip_prefix("APP__A=").unwrap();
    assert_eq!(decrypt(&new, value).unwrap().expose_secret(), "a");
    assert!(decrypt(&old, value).is_err());
}

#[test]
fn validate_lists_every_violation_and_exits_1() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "debug = true\n[auth.jwt]\nsecret = \"CHANGE_ME\"\n[cors]\norigins = \"*\"\n",
    );
    let dir = fixture.path().to_str().unwrap();
    let output = core_config(&["validate", "--env", "prod", "--dir", dir], &[]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    for path in ["debug:", "auth.jwt.secret:", "cors.origins:"] {
        assert!(text.contains(path), "{path} missing from:\n{text}");
    }
    assert!(text.contains("4 problem(s)"), "{text}");

    let output = core_config(&["validate", "--env", "dev", "--dir", dir], &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let output = core_config(&["validate", "--env", "qa", "--dir", dir], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"qa\""));
}

#[test]
fn print_shows_sources_and_hides_secrets() {
    let key = AesKey::generate().unwrap();
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "[db]\nhost = \"h\"\npassword = \"{}\"\n",
            encrypt(&key, "hunter2").unwrap()
        ),
    );
    fixture.write(".secrets", &format!("AES_SECRET={}\n", key_text(&key)));
    let output = core_config(
        &[
            "print",
            "--env",
            "dev",
            "--dir",
            fixture.path().to_str().unwrap(),
        ],
        &[("APP__DB__PORT", "5433")],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("db.host = \"h\"  <- file config/default.toml"),
        "{text}"
    );
    assert!(text.contains("db.password = ***"), "{text}");
    assert!(
        text.contains("db.port = \"5433\"  <- environment variable APP__DB__PORT"),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
}

#[test]
fn print_hides_secrets_by_their_name_not_by_a_fragment_of_their_section() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "[auth.tokens]\naccess_ttl_secs = 900\nrefresh_token = \"plain-refresh-x1\"\n\
         [auth.jwt]\nsecret_b64 = \"plain-jwt-x2\"\nprivate_key_path = \"/etc/keys/jwt.pem\"\n\
         [secrets]\nstripe = \"plain-stripe-x3\"\n",
    );
    let output = core_config(
        &[
            "print",
            "--env",
            "dev",
            "--dir",
            fixture.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("auth.tokens.access_ttl_secs = 900"), "{text}");
    assert!(
        text.contains("auth.jwt.private_key_path = \"/etc/keys/jwt.pem\""),
        "{text}"
    );
    for hidden in [
        "auth.tokens.refresh_token = ***",
        "auth.jwt.secret_b64 = ***",
        "secrets.stripe = ***",
    ] {
        assert!(text.contains(hidden), "{hidden} in {text}");
    }
    assert!(!text.contains("plain-"), "{text}");
}

#[test]
fn rotate_says_what_the_operator_must_change_about_the_key() {
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let fixture = Fixture::new();
    let new_key_file = fixture.write("new.key", &format!("{}\n", key_text(&new)));
    let rotate = |file: &std::path::Path| {
        core_config(
            &[
                "rotate",
                "--file",
                file.to_str().unwrap(),
                "--new-key-file",
                new_key_file.to_str().unwrap(),
            ],
            &[("AES_SECRET", &key_text(&old))],
        )
    };

    // The key lives in the rotated file: updated in the same write.
    let with_key = fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nAPP__A={}\n",
            key_text(&old),
            encrypt(&old, "a").unwrap()
        ),
    );
    let output = rotate(&with_key);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("AES_SECRET in")
            && stdout(&output).contains("now holds the new key"),
        "{}",
        stdout(&output)
    );
    let text = std::fs::read_to_string(&with_key).unwrap();
    assert!(
        text.starts_with(&format!("AES_SECRET={}\n", key_text(&new))),
        "{text}"
    );

    // The key lives elsewhere: the operator is told to change it.
    let without_key = fixture.write(
        "config/default.toml",
        &format!("a = \"{}\"\n", encrypt(&old, "a").unwrap()),
    );
    let output = rotate(&without_key);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("ACTION NEEDED: set AES_SECRET to the new key"),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains(&key_text(&new)));
}

#[test]
fn print_shows_an_invalid_config_then_every_violation_and_exits_1() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "debug = true\n[auth.jwt]\nsecret = \"CHANGE_ME-hunter2\"\n[server]\nport = 8080\n",
    );
    let output = core_config(
        &[
            "print",
            "--env",
            "prod",
            "--dir",
            fixture.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    let echo_at = text
        .find("server.port = 8080  <- file config/default.toml")
        .unwrap_or_else(|| panic!("no echo in:\n{text}"));
    let list_at = text.find("problem(s)").expect("no violation list");
    assert!(echo_at < list_at, "{text}");
    for path in ["debug:", "auth.jwt.secret:"] {
        assert!(
            text[list_at..].contains(path),
            "{path} missing from:\n{text}"
        );
    }
    assert!(text.contains("auth.jwt.secret = ***"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}
