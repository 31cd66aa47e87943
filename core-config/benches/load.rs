//! Load time of a realistic configuration holding 20 `ENC(...)` values.
//! Goal: under 5 ms per load.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;

use core_config::{AesKey, AppEnv, Loader, encrypt};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
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

/// 1 000 keys under one etcd prefix (the server of `scripts/services.sh`,
/// `ETCD_URL`), read and merged by a full load. Skipped, saying so, when etcd
/// does not answer.
#[cfg(feature = "etcd")]
fn load_from_etcd(c: &mut Criterion) {
    use core_config::{EtcdSettings, EtcdStore};
    let url = std::env::var("ETCD_URL").unwrap_or_else(|_| "http://127.0.0.1:2379".to_string());
    let mut etcd = EtcdSettings::new([url.as_str()], "");
    etcd.prefix = format!("/config/bench-{}/prod/", std::process::id());
    let Ok(store) = EtcdStore::connect(&etcd) else {
        return;
    };
    let kvs: Vec<(String, String)> = (0..1000)
        .map(|index| {
            (
                format!("section_{}/key_{index}", index % 20),
                format!("value-{index}"),
            )
        })
        .collect();
    if let Err(err) = store.replace(&etcd.prefix, &kvs) {
        eprintln!("etcd bench skipped: {err}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let loader = Loader::new()
        .dir(dir.path())
        .env(AppEnv::Prod)
        .environment::<&str, &str>([])
        .production_rules(core_config::ProductionRules {
            jwt_key_paths: Vec::new(),
            ..Default::default()
        })
        .etcd(etcd.clone());
    let loaded = loader.load_untyped().unwrap();
    assert_eq!(
        loaded.tree().get_str("section_7.key_987"),
        Some("value-987")
    );
    // "raw-list" is the read alone (the JSON gateway's range); "sdk" the
    // whole load: that read, the merge with the other layers, validation.
    let mut group = c.benchmark_group("config/etcd-1000-keys");
    group.bench_function(BenchmarkId::new("load", "raw-list"), |b| {
        b.iter(|| black_box(store.list(&etcd.prefix).unwrap()))
    });
    group.bench_function(BenchmarkId::new("load", "sdk"), |b| {
        b.iter(|| black_box(loader.load_untyped().unwrap()))
    });
    group.finish();
    store.replace(&etcd.prefix, &[]).unwrap();
}

#[cfg(not(feature = "etcd"))]
fn load_from_etcd(_: &mut Criterion) {}

criterion_group!(benches, load, load_from_etcd);
criterion_main!(benches);
