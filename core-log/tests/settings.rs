//! The `log` section read from TOML and environment variables, the way
//! `core-config` reads it: keys left out keep their section's defaults.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use core_log::{LogSettings, Rotation};

fn from_toml(text: &str) -> LogSettings {
    Config::builder()
        .add_source(File::from_str(text, FileFormat::Toml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap_or_else(|err| panic!("{err}: {text}"))
}

fn from_env(variables: &[(&str, &str)]) -> LogSettings {
    let variables: HashMap<String, String> = variables
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    Config::builder()
        .add_source(
            Environment::with_prefix("APP")
                .separator("__")
                .try_parsing(true)
                .source(Some(variables)),
        )
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn an_audit_file_with_only_a_directory_keeps_the_audit_defaults() {
    let toml = from_toml("[audit]\nenabled = true\n[audit.file]\ndirectory = \"/var/log/app\"\n");
    let json: LogSettings =
        serde_json::from_str(r#"{ "audit": { "file": { "directory": "/var/log/app" } } }"#)
            .unwrap();
    for settings in [toml, json] {
        let file = &settings.audit.file;
        assert_eq!(file.directory, PathBuf::from("/var/log/app"));
        assert_eq!(file.file_name, "audit.log", "must not share service.log");
        assert_eq!(file.keep_days, Some(90));
        assert_eq!(file.keep_files, None);
        assert_eq!(file.rotation, Rotation::Daily);
    }
}

#[test]
fn a_partial_log_file_keeps_the_log_file_defaults() {
    let settings = from_toml("[file]\ndirectory = \"/var/log/app\"\n");
    let file = settings.file.unwrap();
    assert_eq!(file.directory, PathBuf::from("/var/log/app"));
    assert_eq!(file.file_name, "service.log");
    assert_eq!((file.keep_files, file.keep_days), (Some(7), None));
}

#[test]
fn keep_days_alone_replaces_the_keep_files_default() {
    let settings = from_toml("[file]\nkeep_days = 30\n");
    let file = settings.file.unwrap();
    assert_eq!((file.keep_files, file.keep_days), (None, Some(30)));

    let settings = from_env(&[("APP__FILE__KEEP_DAYS", "14")]);
    let file = settings.file.unwrap();
    assert_eq!((file.keep_files, file.keep_days), (None, Some(14)));

    // And the settings are accepted when the file is opened.
    let dir = tempfile::TempDir::new().unwrap();
    let mut settings = from_toml("stdout = false\n[file]\nkeep_days = 30\n");
    settings.file.as_mut().unwrap().directory = dir.path().to_path_buf();
    let (_dispatch, guard) = core_log::build(&settings).unwrap();
    drop(guard);
}

#[test]
fn keep_files_alone_replaces_the_audit_keep_days_default() {
    let settings = from_toml("[audit.file]\nkeep_files = 30\n");
    let file = &settings.audit.file;
    assert_eq!((file.keep_files, file.keep_days), (Some(30), None));
    assert_eq!(file.file_name, "audit.log");
}

#[test]
fn both_retention_limits_set_explicitly_are_refused() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut settings = from_toml("stdout = false\n[file]\nkeep_files = 3\nkeep_days = 3\n");
    settings.file.as_mut().unwrap().directory = dir.path().to_path_buf();
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.kind(), core_log::ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("log.file.keep_files"));
}

#[test]
fn an_explicit_null_lifts_a_retention_default() {
    let settings: LogSettings =
        serde_json::from_str(r#"{ "audit": { "file": { "keep_days": null } } }"#).unwrap();
    let file = &settings.audit.file;
    assert_eq!((file.keep_files, file.keep_days), (None, None));
}

#[test]
fn unknown_file_keys_are_still_refused() {
    let err = serde_json::from_str::<LogSettings>(r#"{ "file": { "keep_dayz": 3 } }"#)
        .err()
        .unwrap();
    assert!(err.to_string().contains("keep_dayz"), "{err}");
    let err = serde_json::from_str::<LogSettings>(r#"{ "audit": { "file": { "nme": "x" } } }"#)
        .err()
        .unwrap();
    assert!(err.to_string().contains("nme"), "{err}");
}
