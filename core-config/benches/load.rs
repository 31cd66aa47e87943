//! Load time of a realistic configuration holding 20 `ENC(...)` values.
//! Goal: under 5 ms per load.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;

use core_config::{AesKey, AppEnv, Loader, encrypt};
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Settings {
    server: Server,
    database: Database,
    secrets: HashMap<String, SecretString>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Server {
    host: String,
    port: u16,
    workers: u32,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Database {
    url: core_config::ConnectionUrl,
    password: SecretString,
    max_connections: u32,
}

fn realistic_folder(key: &AesKey) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    let mut default = String::from(
        "[server]\nhost = \"0.0.0.0\"\nport = 8080\nworkers = 4\n\
         [database]\nurl = \"postgres://app@db:5432/app\"\nmax_connections = 20\n[secrets]\n",
    );
    // 19 encrypted values in the file, one more in .secrets: 20 in all.
    for index in 0..19 {
        let sealed = encrypt(key, &format!("secret-value-number-{index}-xxxxxxxxxxxx")).unwrap();
        writeln!(default, "api_key_{index} = \"{sealed}\"").unwrap();
    }
    std::fs::write(dir.path().join("config/default.toml"), default).unwrap();
    std::fs::write(
        dir.path().join("config/prod.toml"),
        "[server]\nworkers = 16\n[database]\nmax_connections = 50\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".env.prod"), "APP__SERVER__PORT=9090\n").unwrap();
    std::fs::write(
        dir.path().join(".secrets"),
        format!(
            "AES_SECRET={}\nAPP__DATABASE__PASSWORD={}\n",
            key.to_base64().expose_secret(),
            encrypt(key, "database-password").unwrap()
        ),
    )
    .unwrap();
    dir
}

fn load(c: &mut Criterion) {
    let key = AesKey::generate().unwrap();
    let dir = realistic_folder(&key);
    let loader = Loader::new()
        .dir(dir.path())
        .env(AppEnv::Prod)
        .environment([("APP__SERVER__HOST", "10.0.0.1")])
        .production_rules(core_config::ProductionRules {
            jwt_key_paths: Vec::new(),
            ..Default::default()
        });
    // Fail loudly rather than time an error path.
    loader.load::<Settings>().unwrap();
    c.bench_function("load 20 ENC values", |b| {
        b.iter(|| black_box(loader.load::<Settings>().unwrap()))
    });
}

criterion_group!(benches, load);
criterion_main!(benches);
