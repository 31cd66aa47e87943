//! Validation reports every violation at once.

mod common;

use common::Fixture;
use core_config::{AppEnv, ConfigTree, ProductionRules, Violations, rules};
use serde::Deserialize;

const GOOD_JWT: &str = "0123456789abcdef0123456789abcdef-long-enough";

fn violations_of(err: &core_config::Error) -> Vec<String> {
    Violations::from_error(err)
        .expect("a validation error")
        .iter()
        .map(|v| v.path.clone())
        .collect()
}

#[test]
fn required_range_and_url_rules_all_report_together() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "[server]\nport = 70000\nworkers = \"many\"\n[database]\nurl = \"not a url\"\n[cache]\nurl = \"ftp://cache\"\n",
    );
    let err = fixture
        .loader_for(AppEnv::Dev)
        .rule(rules::required("auth.issuer"))
        .rule(rules::required("server.port"))
        .rule(rules::range("server.port", 1..=65535))
        .rule(rules::range("server.workers", 1..=64))
        .rule(rules::url("database.url", &["postgres"]))
        .rule(rules::url("cache.url", &["redis", "rediss"]))
        .load_untyped()
        .unwrap_err();
    let mut found = violations_of(&err);
    found.sort();
    assert_eq!(
        found,
        [
            "auth.issuer",
            "cache.url",
            "database.url",
            "server.port",
            "server.workers"
        ]
    );
    let shown = err.to_string();
    assert!(shown.contains("5 problems"), "{shown}");
    assert!(shown.contains("must be between 1 and 65535"), "{shown}");
}

#[test]
fn production_rules_list_every_violation() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "debug = true\n[server]\ndebug = \"on\"\n[database]\npassword = \"CHANGE_ME\"\n\
         [session]\nsecret = \"short\"\n[cors]\nallowed_origins = [\"https://ok.example\", \"*\"]\n\
         [config]\necho = true\n",
    );
    let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
    let mut found = violations_of(&err);
    found.sort();
    assert_eq!(
        found,
        [
            "auth.jwt.secret",
            "config.echo",
            "cors.allowed_origins[1]",
            "database.password",
            "debug",
            "server.debug",
            "session.secret",
        ]
    );
    assert!(!err.to_string().contains("short\""), "{err}");
}

#[test]
fn the_same_files_pass_outside_prod() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        "debug = true\n[cors]\nallowed_origins = \"*\"\n",
    );
    assert!(fixture.loader_for(AppEnv::Staging).load_untyped().is_ok());
}

#[test]
fn a_clean_production_config_passes() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &format!(
            "debug = false\n[auth.jwt]\nsecret = \"{GOOD_JWT}\"\n[cors]\nallowed_origins = [\"https://app.example\"]\n[config]\necho = false\n"
        ),
    );
    assert!(fixture.loader_for(AppEnv::Prod).load_untyped().is_ok());
}

/// A prod config that passes every production rule except those about the
/// JWT key, which `auth` decides.
fn prod_config_with(auth: &str) -> String {
    format!(
        "debug = false\n[cors]\nallowed_origins = [\"https://app.example\"]\n\
         [config]\necho = false\n{auth}"
    )
}

#[test]
fn a_listed_jwt_key_satisfies_prod_as_well_as_the_secret() {
    let fixture = Fixture::new();
    fixture.write(
        "config/default.toml",
        &prod_config_with(&format!(
            "[auth.jwt]\nsigning_kid = \"k1\"\n\
             [[auth.jwt.keys]]\nkid = \"k1\"\nalgorithm = \"HS256\"\nsecret = \"{GOOD_JWT}\"\n"
        )),
    );
    assert!(fixture.loader_for(AppEnv::Prod).load_untyped().is_ok());
}

#[test]
fn prod_requires_a_jwt_key_in_one_of_the_layouts_and_names_both() {
    for auth in [
        "",
        "[auth.jwt]\nsecret = \"  \"\n",
        "[auth.jwt]\nkeys = []\n",
        // The old flat name is not where core-auth looks.
        &format!("[auth]\njwt_secret = \"{GOOD_JWT}\"\n"),
    ] {
        let fixture = Fixture::new();
        fixture.write("config/default.toml", &prod_config_with(auth));
        let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
        let violations = Violations::from_error(&err).unwrap();
        let missing: Vec<_> = violations
            .iter()
            .filter(|v| v.message.contains("JWT key is required"))
            .collect();
        assert_eq!(missing.len(), 1, "{auth:?}: {err}");
        assert_eq!(missing[0].path, "auth.jwt.secret");
        assert!(
            missing[0].message.contains("auth.jwt.secret")
                && missing[0].message.contains("auth.jwt.keys"),
            "{auth:?}: {err}"
        );
    }
}

#[test]
fn a_short_jwt_secret_is_a_prod_violation_in_either_layout() {
    for (auth, path) in [
        (
            "[auth.jwt]\nsecret = \"sh0rt-jwt-secret\"\n",
            "auth.jwt.secret",
        ),
        (
            "[[auth.jwt.keys]]\nkid = \"k1\"\nalgorithm = \"HS256\"\nsecret = \"sh0rt-jwt-secret\"\n",
            "auth.jwt.keys[0].secret",
        ),
    ] {
        let fixture = Fixture::new();
        fixture.write("config/default.toml", &prod_config_with(auth));
        let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
        let violations = Violations::from_error(&err).unwrap();
        let found: Vec<_> = violations.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(found, [path], "{err}");
        assert!(
            violations
                .iter()
                .all(|v| v.message.contains("shorter than 32 bytes")),
            "{err}"
        );
        assert!(!err.to_string().contains("sh0rt"), "{err}");
    }
}

#[test]
fn no_jwt_key_paths_disables_the_jwt_rule() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", &prod_config_with(""));
    assert!(fixture.loader_for(AppEnv::Prod).load_untyped().is_err());
    fixture
        .loader_for(AppEnv::Prod)
        .production_rules(ProductionRules {
            jwt_key_paths: Vec::new(),
            ..ProductionRules::default()
        })
        .load_untyped()
        .unwrap();
}

#[test]
fn production_rules_can_be_tuned() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "[jwt]\nkey = \"TODO-fill\"\n");
    let err = fixture
        .loader_for(AppEnv::Prod)
        .production_rules(ProductionRules {
            jwt_key_paths: vec!["jwt.key".to_string()],
            placeholders: vec!["todo".to_string()],
            ..ProductionRules::default()
        })
        .load_untyped()
        .unwrap_err();
    assert_eq!(violations_of(&err), ["jwt.key"]);
}

#[test]
fn services_add_their_own_rules() {
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "[pool]\nmin = 10\nmax = 5\n");
    let err = fixture
        .loader_for(AppEnv::Dev)
        .rule(|tree: &ConfigTree, _: AppEnv, out: &mut Violations| {
            if tree.get_i64("pool.min") > tree.get_i64("pool.max") {
                out.push("pool.min", "must not exceed pool.max");
            }
        })
        .load_untyped()
        .unwrap_err();
    assert_eq!(violations_of(&err), ["pool.min"]);
}

#[test]
fn a_type_error_is_reported_with_the_rule_violations_and_without_the_value() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        port: u16,
    }
    let fixture = Fixture::new();
    fixture.write("config/default.toml", "port = \"eighty-eighty-secret\"\n");
    let err = fixture
        .loader_for(AppEnv::Dev)
        .rule(rules::required("name"))
        .load::<Settings>()
        .unwrap_err();
    let found = violations_of(&err);
    assert_eq!(found.len(), 2, "{err}");
    assert!(found.contains(&"port".to_string()), "{err}");
    assert!(!err.to_string().contains("eighty-eighty-secret"), "{err}");
}

#[test]
fn prod_refuses_plaintext_to_a_remote_server_unless_allowed() {
    let fixture = Fixture::new();
    fixture.write(
        "config/prod.toml",
        "[auth.jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n\
         [database]\nurl = \"postgres://app@db.internal:5432/app\"\n\
         [cache]\nurl = \"redis://cache.internal:6379/0\"\n\
         [mq]\nurl = \"amqp://127.0.0.1:5672/%2f\"\n",
    );
    let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
    let violations = Violations::from_error(&err).unwrap();
    assert!(violations.mentions("database.url"), "{violations}");
    assert!(violations.mentions("cache.url"), "{violations}");
    assert!(
        !violations.mentions("mq.url"),
        "loopback needs no TLS: {violations}"
    );
    let text = violations.to_string();
    assert!(
        text.contains("postgres:// to db.internal is not encrypted; add sslmode=verify-full"),
        "{text}"
    );
    assert!(
        text.contains("redis:// to cache.internal is not encrypted; use rediss://"),
        "{text}"
    );

    // Allowed explicitly for the cache; TLS asked for the database.
    fixture.write(
        "config/prod.toml",
        "[auth.jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n\
         [config]\nallow_plaintext = [\"cache.url\"]\n\
         [database]\nurl = \"postgres://app@db.internal:5432/app?sslmode=verify-full\"\n\
         [cache]\nurl = \"redis://cache.internal:6379/0\"\n",
    );
    fixture.loader_for(AppEnv::Prod).load_untyped().unwrap();
    // Kafka's TLS is a setting beside its URL.
    fixture.write(
        "config/prod.toml",
        "[auth.jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n\
         [mq]\nurl = \"kafka://k1.internal:9092\"\n",
    );
    let err = fixture.loader_for(AppEnv::Prod).load_untyped().unwrap_err();
    assert!(
        err.to_string()
            .contains("set mq.kafka.security.protocol to ssl or sasl_ssl"),
        "{err}"
    );
    fixture.write(
        "config/prod.toml",
        "[auth.jwt]\nsecret = \"0123456789abcdef0123456789abcdef\"\n\
         [mq]\nurl = \"kafka://k1.internal:9092\"\n[mq.kafka.security]\nprotocol = \"sasl_ssl\"\n",
    );
    fixture.loader_for(AppEnv::Prod).load_untyped().unwrap();
    // Outside prod, plaintext is the operator's call.
    fixture.write(
        "config/dev.toml",
        "[cache]\nurl = \"redis://cache.internal:6379/0\"\n",
    );
    fixture.loader_for(AppEnv::Dev).load_untyped().unwrap();
}
