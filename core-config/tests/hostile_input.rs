//! What a hostile or careless input finds: every case is refused with an
//! error naming the variable, file or key, and never echoing the value.

mod common;

use common::Fixture;
use core_config::{AppEnv, Loader, Violations};

fn error_of(loader: &Loader) -> core_config::Error {
    match loader.load_untyped() {
        Ok(_) => panic!("the load must fail"),
        Err(err) => err,
    }
}

#[test]
fn a_missing_configuration_folder_is_refused_naming_it() {
    let err = error_of(
        &Loader::new()
            .dir("/nonexistent/core-config")
            .env(AppEnv::Prod)
            .environment::<&str, &str>([]),
    );
    assert!(
        err.to_string().contains("/nonexistent/core-config"),
        "{err}"
    );
}

#[test]
fn a_folder_where_the_environment_file_belongs_is_refused() {
    let fixture = Fixture::new();
    std::fs::create_dir(fixture.path().join("config/prod.toml")).unwrap();
    let err = error_of(&fixture.loader_for(AppEnv::Prod));
    assert!(err.to_string().contains("prod.toml"), "{err}");
    assert!(err.to_string().contains("not a file"), "{err}");
}

#[test]
fn invalid_utf8_in_a_file_is_refused_naming_file_and_line() {
    let fixture = Fixture::new();
    std::fs::write(
        fixture.path().join("config/default.toml"),
        b"[server]\nname = \"caf\xe9-PLANTED\"\n",
    )
    .unwrap();
    let err = error_of(&fixture.loader_for(AppEnv::Local));
    let shown = err.to_string();
    assert!(shown.contains("default.toml"), "{shown}");
    assert!(shown.contains("line 2"), "{shown}");
    assert!(!shown.contains("PLANTED"), "{shown}");
}

#[test]
fn a_dotenv_line_the_loader_does_not_read_is_a_violation_with_file_and_line() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "debug = false\n[auth.jwt]\nissuer = \"x\"\n",
    );
    fixture.write(
        ".env.local",
        "APP__DEBUG=false\nDEBUG=true\n# a comment\nJWT_SECRET=PLANTED-FLAT\n",
    );
    fixture.write(".secrets", "APP_ENV=local\nAES_TOKEN=PLANTED-AES\n");
    let err = error_of(&fixture.loader(&[]));
    let violations = Violations::from_error(&err).expect("violations");
    assert!(violations.mentions(".env.local:2"), "{violations}");
    assert!(violations.mentions(".env.local:4"), "{violations}");
    assert!(violations.mentions(".secrets:2"), "{violations}");
    let shown = err.to_string();
    assert!(shown.contains("did you mean APP__DEBUG?"), "{shown}");
    assert!(!shown.contains("PLANTED"), "{shown}");
    assert_eq!(violations.len(), 3, "{violations}");
}

#[test]
fn a_short_secret_is_not_revealed_by_where_it_was_cut_out() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "[auth.jwt]\nsecret = \"short\"\n");
    let err = error_of(&fixture.loader_for(AppEnv::Prod));
    let shown = err.to_string();
    assert!(shown.contains("secret is shorter than 32 bytes"), "{shown}");
    assert!(!shown.contains("***er"), "{shown}");
}

#[test]
fn a_short_secret_standing_alone_is_still_hidden() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "[auth.jwt]\nsecret = \"short\"\n");
    let (loaded, _) = fixture.loader_for(AppEnv::Local).inspect().unwrap();
    assert_eq!(
        loaded
            .tree()
            .scrub("value \"short\" refused; shorter is fine"),
        "value \"***\" refused; shorter is fine"
    );
}

#[cfg(all(unix, feature = "cli"))]
mod process_environment {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    use std::process::{Command, Output};

    use super::Fixture;

    fn validate(dir: &std::path::Path, var: &str, value: &[u8]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_core-config"))
            .args(["validate", "--env", "local", "--dir"])
            .arg(dir)
            .env_remove("AES_SECRET")
            .env_remove("APP_ENV")
            .env(var, OsStr::from_bytes(value))
            .output()
            .expect("spawn core-config")
    }

    #[test]
    fn a_variable_that_is_not_utf8_is_refused_naming_it() {
        let fixture = Fixture::new();
        for var in ["APP__DATABASE__URL", "AES_SECRET", "APP__AUTH__JWT__SECRET"] {
            let output = validate(fixture.path(), var, b"postgres://u@h/\xffPLANTED");
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!output.status.success(), "{var} accepted:\n{printed}");
            assert!(printed.contains(var), "{var} not named:\n{printed}");
            assert!(!printed.contains("PLANTED"), "{printed}");
        }
        // A variable the loader never reads may be anything.
        let output = validate(fixture.path(), "UNRELATED_TOOL_SETTING", b"\xff");
        assert!(output.status.success(), "{output:?}");
    }

    #[test]
    fn rotate_with_a_bad_new_key_file_names_the_file() {
        let fixture = Fixture::new();
        let secrets = fixture.write(".secrets", "APP__X=1\n");
        let bad_key = fixture.write("new.key", "not-a-key-PLANTED\n");
        let output = Command::new(env!("CARGO_BIN_EXE_core-config"))
            .args(["rotate", "--file"])
            .arg(&secrets)
            .arg("--new-key-file")
            .arg(&bad_key)
            .env("AES_SECRET", "ab".repeat(32))
            .output()
            .expect("spawn core-config");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains("new.key"), "the file is named: {stderr}");
        assert!(!stderr.contains("AES_SECRET must"), "{stderr}");
        assert!(!stderr.contains("PLANTED"), "{stderr}");
    }

    #[test]
    fn validate_on_a_missing_folder_fails() {
        let output = Command::new(env!("CARGO_BIN_EXE_core-config"))
            .args(["validate", "--env", "prod", "--dir", "/nonexistent"])
            .env_remove("AES_SECRET")
            .env_remove("APP_ENV")
            .output()
            .expect("spawn core-config");
        assert!(!output.status.success(), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent"));
    }
}
