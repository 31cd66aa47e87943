//! Which environment is loaded, and the errors when it cannot be told.

mod common;

use common::Fixture;
use core_config::{AppEnv, ErrorKind};

#[test]
fn process_environment_wins_over_secrets() {
    let fixture = Fixture::new();
    fixture.write(".secrets", "APP_ENV=staging\n");
    let loaded = fixture
        .loader(&[("APP_ENV", "test")])
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.env(), AppEnv::Test);
}

#[test]
fn secrets_file_is_read_when_the_process_says_nothing() {
    let fixture = Fixture::new();
    fixture.write(".secrets", "APP_ENV=production\n");
    let loaded = fixture
        .loader(&[])
        .production_rules(core_config::ProductionRules {
            enabled: false,
            ..Default::default()
        })
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.env(), AppEnv::Prod);
}

#[test]
fn aliases_are_accepted() {
    let fixture = Fixture::new();
    let loaded = fixture
        .loader(&[("APP_ENV", "Development")])
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.env(), AppEnv::Dev);
}

#[test]
fn an_unknown_name_is_an_error_naming_it_and_the_allowed_list() {
    let fixture = Fixture::new();
    let err = fixture
        .loader(&[("APP_ENV", "qa")])
        .load_untyped()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let shown = err.to_string();
    assert!(shown.contains("\"qa\""), "{shown}");
    assert!(shown.contains("local, dev, test, staging, prod"), "{shown}");
    assert!(shown.contains("process environment"), "{shown}");

    fixture.write(".secrets", "APP_ENV=devel\n");
    let err = fixture.loader(&[]).load_untyped().unwrap_err();
    assert!(err.to_string().contains("\"devel\""), "{err}");
    assert!(err.to_string().contains(".secrets"), "{err}");
}

#[test]
fn unset_is_an_error_unless_a_fallback_is_chosen() {
    let fixture = Fixture::new();
    let err = fixture.loader(&[]).load_untyped().unwrap_err();
    assert!(err.to_string().contains("APP_ENV is not set"), "{err}");
    let loaded = fixture
        .loader(&[])
        .fallback_env(AppEnv::Local)
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.env(), AppEnv::Local);
}

#[test]
fn an_explicit_env_overrides_app_env() {
    let fixture = Fixture::new();
    let loaded = fixture
        .loader(&[("APP_ENV", "qa")])
        .env(AppEnv::Staging)
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.env(), AppEnv::Staging);
}

#[test]
fn files_named_after_an_alias_are_refused_naming_the_file() {
    for (file, app_env, canonical) in [
        ("config/production.toml", "production", "config/prod.toml"),
        (".env.production", "prod", ".env.prod"),
        ("config/development.yaml", "dev", "config/dev.yaml"),
        (".env.development", "development", ".env.dev"),
    ] {
        let fixture = Fixture::new();
        fixture.write(file, "");
        let err = fixture
            .loader(&[("APP_ENV", app_env)])
            .load_untyped()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(file), "{file}: {text}");
        assert!(text.contains(canonical), "{file}: {text}");
    }
    // Another environment's alias file is not this load's business.
    let fixture = Fixture::new();
    fixture.write(".env.production", "");
    assert!(fixture.loader(&[("APP_ENV", "dev")]).load_untyped().is_ok());
}
