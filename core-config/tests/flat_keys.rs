//! The seed framework's flat layout (`configs/.env.<env>`, `.secrets` with
//! `DB_*`, `REDIS_*`, `JWT_*`, `DEBUG`, ...) read as it is.

mod common;

use common::{Fixture, key_text};
use core_config::{AesKey, AppEnv, FlatKeys, Origin, Violations, encrypt};

/// A seed-style `configs/` tree: four environments and a `.secrets`.
fn seed_tree(fixture: &Fixture, key: &AesKey) {
    let db_password = encrypt(key, "s3cr3t/p@ss").unwrap();
    let redis_password = encrypt(key, "r3d!s").unwrap();
    fixture.write(
        ".env.dev",
        "DEBUG=true\nECHO_CONFIG=true\nDB_TYPE=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\n\
         DB_USERNAME=root\nDB_DATABASE=seed_dev\nREDIS_HOST=127.0.0.1\nREDIS_PORT=6379\nREDIS_DB=1\n\
         JWT_ALGORITHM=HS256\nACCESS_TOKEN_EXPIRE_MINUTES=60\n\
         BACKEND_CORS_ORIGINS=[\"http://localhost:3000\", \"http://localhost:8080\"]\n",
    );
    fixture.write(
        ".env.test",
        "DEBUG=false\nDB_TYPE=sqlite\nDB_DATABASE=data/test.db\nJWT_ALGORITHM=HS512\n\
         ACCESS_TOKEN_EXPIRE_MINUTES=5\n",
    );
    fixture.write(
        ".env.staging",
        "DEBUG=false\nDB_TYPE=postgresql\nDB_HOST=db.staging.internal\nDB_PORT=6432\n\
         DB_USERNAME=seed\nDB_DATABASE=seed\nREDIS_HOST=cache.staging.internal\n\
         BACKEND_CORS_ORIGINS=https://staging.example.com\n",
    );
    fixture.write(
        ".env.prod",
        "DEBUG=false\nECHO_CONFIG=false\nDB_TYPE=mysql\nDB_HOST=db.prod.internal\n\
         DB_USERNAME=seed\nDB_DATABASE=seed\nDB_CHARSET=utf8\nDB_SSL_MODE=VERIFY_IDENTITY\n\
         REDIS_HOST=cache.prod.internal\nREDIS_PORT=6380\nREDIS_SSL=true\nJWT_ALGORITHM=HS256\nACCESS_TOKEN_EXPIRE_MINUTES=30\n\
         BACKEND_CORS_ORIGINS=https://app.example.com,https://admin.example.com\n",
    );
    fixture.write(
        ".secrets",
        &format!(
            "AES_SECRET={}\nDB_PASSWORD={db_password}\nREDIS_PASSWORD={redis_password}\n\
             JWT_SECRET=0123456789abcdef0123456789abcdef-seed\n",
            key_text(key)
        ),
    );
}

fn load(fixture: &Fixture, env: AppEnv) -> core_config::Loaded<()> {
    fixture
        .loader_for(env)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap_or_else(|err| panic!("{env}: {err}"))
}

#[test]
fn every_mapped_value_of_every_environment() {
    let fixture = Fixture::new();
    let key = AesKey::generate().unwrap();
    seed_tree(&fixture, &key);

    let dev = load(&fixture, AppEnv::Dev);
    let tree = dev.tree();
    assert_eq!(
        tree.get_str("database.url"),
        Some("mysql://root:s3cr3t%2Fp%40ss@127.0.0.1:3306/seed_dev?charset=utf8mb4")
    );
    assert_eq!(
        tree.get_str("cache.url"),
        Some("redis://:r3d%21s@127.0.0.1:6379/1")
    );
    assert_eq!(
        tree.get_str("auth.jwt.secret"),
        Some("0123456789abcdef0123456789abcdef-seed")
    );
    assert_eq!(tree.get_i64("auth.tokens.access_ttl_secs"), Some(3600));
    assert_eq!(tree.get_bool("debug"), Some(true));
    assert_eq!(tree.get_bool("config.echo"), Some(true));
    assert_eq!(
        tree.get_str("server.cors.allowed_origins[0]"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        tree.get_str("server.cors.allowed_origins[1]"),
        Some("http://localhost:8080")
    );
    // Where each came from, by the variable's own name.
    assert_eq!(
        tree.get("debug").unwrap().origin(),
        Origin::VarFile {
            file: ".env.dev".into(),
            var: "DEBUG".into()
        }
    );
    assert!(tree.was_encrypted("database.url") && tree.was_encrypted("cache.url"));

    let test = load(&fixture, AppEnv::Test);
    assert_eq!(
        test.tree().get_str("database.url"),
        Some("sqlite://data/test.db")
    );
    assert_eq!(
        test.tree().get_str("auth.jwt.keys[0].algorithm"),
        Some("HS512")
    );
    assert_eq!(
        test.tree().get_str("auth.jwt.keys[0].secret"),
        Some("0123456789abcdef0123456789abcdef-seed")
    );
    assert_eq!(test.tree().get_str("auth.jwt.signing_kid"), Some("default"));
    assert_eq!(
        test.tree().get_i64("auth.tokens.access_ttl_secs"),
        Some(300)
    );
    assert!(!test.tree().contains("cache.url"));

    let staging = load(&fixture, AppEnv::Staging);
    assert_eq!(
        staging.tree().get_str("database.url"),
        Some("postgres://seed:s3cr3t%2Fp%40ss@db.staging.internal:6432/seed")
    );
    assert_eq!(
        staging.tree().get_str("cache.url"),
        Some("redis://:r3d%21s@cache.staging.internal:6379")
    );
    assert_eq!(
        staging.tree().get_str("server.cors.allowed_origins[0]"),
        Some("https://staging.example.com")
    );

    let prod = load(&fixture, AppEnv::Prod);
    assert_eq!(
        prod.tree().get_str("database.url"),
        Some(
            "mysql://seed:s3cr3t%2Fp%40ss@db.prod.internal:3306/seed?charset=utf8&ssl-mode=VERIFY_IDENTITY"
        )
    );
    assert_eq!(
        prod.tree().get_str("cache.url"),
        Some("rediss://:r3d%21s@cache.prod.internal:6380")
    );
    assert_eq!(prod.tree().get_bool("debug"), Some(false));
    assert_eq!(
        prod.tree().get_i64("auth.tokens.access_ttl_secs"),
        Some(1800)
    );
    assert_eq!(
        prod.tree().get_str("server.cors.allowed_origins[1]"),
        Some("https://admin.example.com")
    );

    // Decrypted passwords never show in the echo.
    for loaded in [&dev, &staging, &prod] {
        let shown = loaded.echo().to_string();
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("r3d"),
            "{shown}"
        );
    }
}

#[test]
fn an_app_variable_overrides_what_flat_variables_build() {
    let fixture = Fixture::new();
    let key = AesKey::generate().unwrap();
    seed_tree(&fixture, &key);
    let loaded = fixture
        .loader(&[
            ("APP__DATABASE__URL", "postgres://other@h/db"),
            ("DB_PORT", "3307"),
        ])
        .env(AppEnv::Dev)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap();
    assert_eq!(
        loaded.tree().get_str("database.url"),
        Some("postgres://other@h/db")
    );
    // The process environment's flat variable wins over the file's.
    let loaded = fixture
        .loader(&[("DB_PORT", "3307")])
        .env(AppEnv::Dev)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap();
    assert!(
        loaded
            .tree()
            .get_str("database.url")
            .unwrap()
            .contains(":3307/")
    );
}

#[test]
fn production_rules_name_the_flat_variable_and_its_file() {
    let fixture = Fixture::new();
    fixture.write(
        ".env.prod",
        "DEBUG=true\nJWT_SECRET=CHANGE_ME\nBACKEND_CORS_ORIGINS=*\n",
    );
    let err = fixture
        .loader_for(AppEnv::Prod)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    let text = violations.to_string();
    assert!(
        text.contains("debug: debug must be off in prod (set by DEBUG in .env.prod)"),
        "{text}"
    );
    assert!(
        text.contains("auth.jwt.secret: holds a placeholder value; set the real one (set by JWT_SECRET in .env.prod)"),
        "{text}"
    );
    assert!(
        text.contains("(set by BACKEND_CORS_ORIGINS in .env.prod)"),
        "{text}"
    );
    // Without the mapping the same lines are reported as not read at all.
    let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
    let text = Violations::from_error(&err).unwrap().to_string();
    assert!(text.contains(".env.prod:1: DEBUG is not read"), "{text}");
}

#[test]
fn unknown_and_unsupported_database_types_are_refused_by_name() {
    for (db_type, expected) in [
        (
            "oracle",
            "Oracle is not supported by the SDK; use one of mysql, mariadb, postgresql, sqlite",
        ),
        (
            "mssql",
            "unknown database type \"mssql\"; use one of mysql, mariadb, postgresql, sqlite",
        ),
    ] {
        let fixture = Fixture::new();
        fixture.write(
            ".env.dev",
            &format!("DB_TYPE={db_type}\nDB_HOST=h\nDB_DATABASE=d\n"),
        );
        let err = fixture
            .loader_for(AppEnv::Dev)
            .flat_keys(FlatKeys::seed())
            .load_untyped()
            .unwrap_err();
        let text = Violations::from_error(&err).unwrap().to_string();
        assert!(text.contains("DB_TYPE: (DB_TYPE in .env.dev)"), "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn malformed_parts_are_named_and_never_echoed() {
    let fixture = Fixture::new();
    fixture.write(
        ".env.dev",
        "DB_TYPE=postgresql\nDB_HOST=h\nDB_PORT=PLANTED-PORT\nDB_DATABASE=d\n\
         REDIS_PORT=6379\nACCESS_TOKEN_EXPIRE_MINUTES=soon\nDB_PASSWORD=ENC(bm90IGEgdmFsdWU=)\n",
    );
    let err = fixture
        .loader_for(AppEnv::Dev)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap_err();
    let text = Violations::from_error(&err).unwrap().to_string();
    assert!(
        text.contains("DB_PORT: (DB_PORT in .env.dev) must be a port number"),
        "{text}"
    );
    assert!(
        text.contains("REDIS_PORT: (REDIS_PORT in .env.dev) is set but REDIS_HOST is not"),
        "{text}"
    );
    assert!(
        text.contains("ACCESS_TOKEN_EXPIRE_MINUTES: (ACCESS_TOKEN_EXPIRE_MINUTES in .env.dev) must be a whole number of minutes"),
        "{text}"
    );
    assert!(!text.contains("PLANTED"), "{text}");
}

#[test]
fn an_encrypted_password_that_does_not_open_is_reported() {
    let fixture = Fixture::new();
    let key = AesKey::generate().unwrap();
    let other = AesKey::generate().unwrap();
    let sealed = encrypt(&other, "PLANTED-PW").unwrap();
    fixture.write(
        ".env.dev",
        &format!("DB_TYPE=mysql\nDB_HOST=h\nDB_DATABASE=d\nDB_PASSWORD={sealed}\n"),
    );
    fixture.write(".secrets", &format!("AES_SECRET={}\n", key_text(&key)));
    let err = fixture
        .loader_for(AppEnv::Dev)
        .flat_keys(FlatKeys::seed())
        .load_untyped()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("DB_PASSWORD: (DB_PASSWORD in .env.dev) cannot decrypt"),
        "{text}"
    );
    assert!(!text.contains("PLANTED"), "{text}");
}

#[test]
fn a_service_declares_its_own_aliases() {
    let fixture = Fixture::new();
    fixture.write(".env.dev", "WORKERS=4\nSESSION_MINUTES=2\n");
    let loaded = fixture
        .loader_for(AppEnv::Dev)
        .flat_keys(FlatKeys::new().alias("WORKERS", "jobs.workers").alias_as(
            "SESSION_MINUTES",
            "sessions.ttl_secs",
            core_config::FlatValue::MinutesAsSeconds,
        ))
        .load_untyped()
        .unwrap();
    assert_eq!(loaded.tree().get_i64("jobs.workers"), Some(4));
    assert_eq!(loaded.tree().get_i64("sessions.ttl_secs"), Some(120));
}

#[test]
fn the_command_validates_a_seed_folder() {
    let fixture = Fixture::new();
    fixture.write(
        ".env.prod",
        "DEBUG=true\nJWT_SECRET=CHANGE_ME\nDB_TYPE=oracle\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_core-config"))
        .args(["validate", "--env", "prod", "--flat-keys", "seed", "--dir"])
        .arg(fixture.path())
        .env_remove("APP_ENV")
        .env_remove("AES_SECRET")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("debug must be off in prod (set by DEBUG in .env.prod)"),
        "{text}"
    );
    assert!(text.contains("(set by JWT_SECRET in .env.prod)"), "{text}");
    assert!(text.contains("Oracle is not supported"), "{text}");
}
