//! Embedded migrations run once, at startup or again at the next start,
//! on every SQL engine, each in a schema or database of its own.

use core_db::sql::{EmbeddedMigration, SqlDatabase};
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service, unique_name};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

/// Auto-increment keys are spelled differently by each engine, so this
/// migration is written once per dialect.
const EVENTS: &[EmbeddedMigration] = &[EmbeddedMigration {
    version: 1,
    description: "events",
    sqlite: "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    postgres: "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
    mysql: "CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)",
}];

/// How many migrations the database's history holds.
async fn applied_migrations(db: &SqlDatabase) -> i64 {
    let (applied,): (i64,) = db
        .query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one()
        .await
        .unwrap();
    applied
}

async fn migrate_twice_and_use(url: String) {
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(url))
        .await
        .unwrap();
    db.migrate(&MIGRATOR).await.unwrap();
    db.migrate(&MIGRATOR).await.unwrap();
    db.query("INSERT INTO widgets (id, name, colour) VALUES (?, ?, ?)")
        .bind(1_i64)
        .bind("sprocket")
        .bind("red")
        .execute()
        .await
        .unwrap();
    let applied = applied_migrations(&db).await;
    assert_eq!(applied, 2);

    // Per-dialect embedded migrations beside the directory's: the shared
    // history holds versions the embedded set lacks, so the strict call
    // refuses and the migrator told to ignore them applies its own.
    let err = db.migrate_embedded(EVENTS).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let mut migrator = db.embedded_migrator(EVENTS).unwrap();
    migrator.set_ignore_missing(true);
    // A failed run must not leave the migration lock held (sqlx does on its
    // own): the next run would wait for it forever.
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        db.migrate(&migrator).await.unwrap();
        db.migrate(&migrator).await.unwrap();
    })
    .await
    .expect("the migration after a failed one did not wait for a leaked lock");
    db.query("INSERT INTO events (body) VALUES (?)")
        .bind("first")
        .execute()
        .await
        .unwrap();
    let (id,): (i64,) = db
        .query("SELECT id FROM events WHERE body = ?")
        .bind("first")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(id, 1, "the engine's own auto-increment numbered the row");
    db.close().await;
}

#[tokio::test]
async fn embedded_migrations_apply_once_on_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(url))
        .await
        .unwrap();
    db.migrate_embedded(EVENTS).await.unwrap();
    db.migrate_embedded(EVENTS).await.unwrap();
    let applied = applied_migrations(&db).await;
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn sqlite_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    migrate_twice_and_use(format!("sqlite://{}", dir.path().join("m.db").display())).await;
}

#[tokio::test]
async fn postgres_migrates_once_in_its_own_schema() {
    let url = require_service!(Service::Postgres);
    let admin = SqlDatabase::connect(&DatabaseSettings::from_url(url.clone()))
        .await
        .unwrap();
    let schema = unique_name("migrate");
    admin
        .query(&format!("CREATE SCHEMA {schema}"))
        .execute()
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let outcome = tokio::spawn(migrate_twice_and_use(scoped)).await;
    admin
        .query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute()
        .await
        .unwrap();
    outcome.unwrap();
}

#[tokio::test]
async fn mysql_migrates_once_in_its_own_database() {
    let url = require_service!(Service::MySql);
    let admin = SqlDatabase::connect(&DatabaseSettings::from_url(url.clone()))
        .await
        .unwrap();
    let database = unique_name("migrate");
    admin
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    let base = url.split('?').next().unwrap_or(&url);
    let (server, _) = base.rsplit_once('/').expect("a database path in the URL");
    let outcome = tokio::spawn(migrate_twice_and_use(format!("{server}/{database}"))).await;
    admin
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    outcome.unwrap();
}
