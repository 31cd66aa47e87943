//! The README's second quickstart line: the same example on servers,
//! chosen by environment only — PostgreSQL over TLS (`sslmode=require`,
//! which failed with "SQLx was built without TLS support") and MariaDB.

#![cfg(all(feature = "postgres", feature = "mysql"))]

#[allow(unused_imports, reason = "only example_binary is needed here")]
mod support;

use std::process::Command;

use core_testkit::{Service, require_service};

fn quickstart(database_url: &str) -> (bool, String) {
    let mut command = Command::new(support::example_binary("quickstart"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("APP_") {
            command.env_remove(key);
        }
    }
    let output = command
        .env("APP__DATABASE__URL", database_url)
        .output()
        .expect("run the quickstart example");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

#[tokio::test]
async fn the_quickstart_runs_on_postgres_over_tls_and_on_mariadb() {
    let postgres = require_service!(Service::Postgres);
    let mysql = require_service!(Service::MySql);
    let base = postgres.split('?').next().unwrap_or(&postgres).to_owned();
    for (url, engine) in [
        (format!("{base}?sslmode=require"), "postgres"),
        (mysql, "mysql"),
    ] {
        let (ok, printed) = quickstart(&url);
        assert!(ok, "{engine}:\n{printed}");
        assert!(
            printed.contains(&format!("3. database  {engine} holds user 1 = Ada")),
            "{engine}:\n{printed}"
        );
        assert!(printed.contains("6. auth"), "{engine}:\n{printed}");
    }
}
