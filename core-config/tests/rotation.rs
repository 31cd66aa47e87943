//! Rotating a file's ENC(...) values to a new key.

mod common;

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, decrypt, encrypt, rotate_file};
use secrecy::ExposeSecret;

fn enc_values(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("ENC(") {
        let end = start + rest[start..].find(')').unwrap() + 1;
        found.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    found
}

#[test]
fn every_value_opens_with_the_new_key_and_none_with_the_old() {
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let plaintexts = ["alpha", "", "ünïcödé", "with \"quotes\" and = signs"];
    let fixture = Fixture::new();
    let mut toml = String::from("# comments survive\n[secrets]\n");
    for (index, plain) in plaintexts.iter().enumerate() {
        toml.push_str(&format!(
            "v{index} = \"{}\"\n",
            encrypt(&old, plain).unwrap()
        ));
    }
    toml.push_str("plain = \"not encrypted\"\n");
    let path = fixture.write("config/default.toml", &toml);

    let rotation = rotate_file(&path, &old, &new).unwrap();
    assert_eq!(rotation.values, plaintexts.len());

    let rotated = std::fs::read_to_string(&path).unwrap();
    assert!(rotated.starts_with("# comments survive\n"));
    assert!(rotated.contains("plain = \"not encrypted\""));
    let values = enc_values(&rotated);
    assert_eq!(values.len(), plaintexts.len());
    for (value, plain) in values.iter().zip(plaintexts) {
        assert_eq!(decrypt(&new, value).unwrap().expose_secret(), plain);
        assert!(decrypt(&old, value).is_err());
    }

    // The backup is the file as it was, still readable with the old key.
    let backup = std::fs::read_to_string(&rotation.backup).unwrap();
    assert_eq!(backup, toml);

    // And the loader reads the rotated file with the new key.
    let loaded = fixture
        .loader(&[("AES_SECRET", key_text(&new).as_str())])
        .env(AppEnv::Dev)
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.tree().get_str("secrets.v0"), Some("alpha"));
}

#[test]
fn a_value_that_does_not_open_leaves_the_file_untouched() {
    let (old, new, stranger) = (
        AesKey::generate().unwrap(),
        AesKey::generate().unwrap(),
        AesKey::generate().unwrap(),
    );
    let fixture = Fixture::new();
    let text = format!(
        "APP__A={}\nAPP__B={}\n",
        encrypt(&old, "a").unwrap(),
        encrypt(&stranger, "b").unwrap()
    );
    let path = fixture.write(".secrets", &text);
    let err = rotate_file(&path, &old, &new).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let leftovers: Vec<_> = std::fs::read_dir(fixture.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".bak") || name.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn permissions_are_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let fixture = Fixture::new();
    let path = fixture.write(
        ".secrets",
        &format!("APP__A={}\n", encrypt(&old, "a").unwrap()),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let rotation = rotate_file(&path, &old, &new).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&rotation.backup), 0o600);
}

#[test]
fn enc_in_comments_and_inside_longer_text_is_not_rotated() {
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let fixture = Fixture::new();
    let cases = [
        (
            "config/default.toml",
            format!(
                "# Any value may be ENC(...)\n# old = \"ENC(not base64!)\"\nnote = \"see ENC(...) in the docs\"\nv = \"{}\" # ENC(...) here\n",
                encrypt(&old, "t").unwrap()
            ),
        ),
        (
            "config/default.yaml",
            format!(
                "# ENC(...) values open at load\nv: \"{}\"\nlist:\n  - {}\n",
                encrypt(&old, "t").unwrap(),
                encrypt(&old, "t").unwrap()
            ),
        ),
        (
            ".env.dev",
            format!(
                "# Any value may be ENC(...) (see 'core-config encrypt')\nAPP__NOTE=see ENC(abc) in the docs\nAPP__V='{}'\n",
                encrypt(&old, "t").unwrap()
            ),
        ),
    ];
    for (name, text) in cases {
        let path = fixture.write(name, &text);
        let expected = if name.ends_with(".yaml") { 2 } else { 1 };
        let rotation = rotate_file(&path, &old, &new).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(rotation.values, expected, "{name}");
        assert!(!rotation.key_updated);
        let rotated = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|line| line.starts_with('#')) {
            assert!(rotated.contains(line), "{name}: comment lost");
        }
        for value in enc_values(&rotated)
            .into_iter()
            .filter(|value| decrypt(&old, value).is_ok() || decrypt(&new, value).is_ok())
        {
            assert_eq!(
                decrypt(&new, &value).unwrap().expose_secret(),
                "t",
                "{name}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_malformed_enc_value_is_refused_with_its_reason() {
    let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
    let fixture = Fixture::new();
    let text = format!(
        "a = \"{}\"\nb = \"ENC( never closed\"\n",
        encrypt(&old, "a").unwrap()
    );
    let path = fixture.write("config/default.toml", &text);
    let err = rotate_file(&path, &old, &new).unwrap_err();
    assert!(err.to_string().contains("not an ENC(...) value"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn an_aes_secret_line_is_updated_only_when_it_holds_the_old_key() {
    let (old, new, other) = (
        AesKey::generate().unwrap(),
        AesKey::generate().unwrap(),
        AesKey::generate().unwrap(),
    );
    let fixture = Fixture::new();
    let value = encrypt(&old, "pw").unwrap();

    let path = fixture.write(
        ".secrets",
        &format!(
            "APP_ENV=dev\nAES_SECRET=\"{}\"\nAPP__DB__PASSWORD={value}\n",
            key_text(&old)
        ),
    );
    let rotation = rotate_file(&path, &old, &new).unwrap();
    assert!(rotation.key_updated);
    let rotated = std::fs::read_to_string(&path).unwrap();
    assert!(
        rotated.contains(&format!("AES_SECRET={}\n", key_text(&new))),
        "{rotated}"
    );
    // The folder loads with nothing but the rotated file.
    let loaded = fixture.loader(&[]).load_untyped().unwrap();
    assert_eq!(loaded.tree().get_str("db.password"), Some("pw"));

    let path = fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nAPP__DB__PASSWORD={value}\n",
            key_text(&other)
        ),
    );
    let rotation = rotate_file(&path, &old, &new).unwrap();
    assert!(!rotation.key_updated);
    let rotated = std::fs::read_to_string(&path).unwrap();
    assert!(rotated.starts_with(&format!("AES_SECRET={}\n", key_text(&other))));
}
