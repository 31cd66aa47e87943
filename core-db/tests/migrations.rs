//! Embedded migrations run once, at startup or again at the next start,
//! on every SQL engine, each in a schema or database of its own.

use core_db::sql::{EmbeddedMigration, SqlDatabase};
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Captured, Service, require_service, unique_name};

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

/// [`EVENTS`] as if someone had edited it after it was applied.
const EDITED_EVENTS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(
    1,
    "events",
    "CREATE TABLE events_renamed (id BIGINT PRIMARY KEY)",
)];

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
    // history holds versions the embedded set lacks, which are another
    // service's (or another tool's), not a conflict.
    db.migrate_embedded(EVENTS).await.unwrap();
    // An applied migration that was edited since is refused ...
    let err = db.migrate_embedded(EDITED_EVENTS).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    // ... and that failed run did not leave the migration lock held (sqlx
    // does on its own): the next run would wait for it forever.
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        db.migrate_embedded(EVENTS).await.unwrap();
        db.migrate_embedded(EVENTS).await.unwrap();
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
    in_postgres_schema(migrate_twice_and_use).await;
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

/// Two services, each with its own version range, in one database.
const USERS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(
    1_000_000_001,
    "users",
    "CREATE TABLE shared_users (id BIGINT PRIMARY KEY)",
)];
const ORDERS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(
    2_000_000_001,
    "orders",
    "CREATE TABLE shared_orders (id BIGINT PRIMARY KEY)",
)];

/// Each service starts twice, in turns: neither is refused for the other's
/// history, and each migration runs once.
async fn two_services_share_the_history(url: String) {
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(url))
        .await
        .unwrap();
    for _ in 0..2 {
        db.migrate_embedded(USERS)
            .await
            .expect("the user service starts");
        db.migrate_embedded(ORDERS)
            .await
            .expect("the order service starts");
    }
    assert_eq!(applied_migrations(&db).await, 2);
    db.query("INSERT INTO shared_users VALUES (1)")
        .execute()
        .await
        .unwrap();
    db.query("INSERT INTO shared_orders VALUES (1)")
        .execute()
        .await
        .unwrap();
}

#[tokio::test]
async fn services_sharing_a_sqlite_database_keep_their_own_histories() {
    let dir = tempfile::tempdir().unwrap();
    // The folder does not exist yet: connecting creates it.
    let file = dir.path().join("data").join("shared.db");
    two_services_share_the_history(format!("sqlite://{}", file.display())).await;
}

/// A scratch schema on the PostgreSQL server, dropped after `work`.
async fn in_postgres_schema<F, Fut>(work: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
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
    let outcome = tokio::spawn(work(format!(
        "{url}{separator}options=-c%20search_path%3D{schema}"
    )))
    .await;
    admin
        .query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute()
        .await
        .unwrap();
    outcome.unwrap();
}

#[tokio::test]
async fn services_sharing_a_postgres_database_keep_their_own_histories() {
    in_postgres_schema(two_services_share_the_history).await;
}

/// What a subscriber at INFO would print, captured.

#[test]
fn a_second_start_logs_no_postgres_notice_at_info() {
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::INFO);
    // One thread, so every event of the migration reaches this subscriber.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(in_postgres_schema(|url| async move {
            let db = SqlDatabase::connect(&DatabaseSettings::from_url(url))
                .await
                .unwrap();
            db.migrate_embedded(USERS).await.unwrap();
            db.migrate_embedded(USERS).await.unwrap();
            // The notice level is the server's again for the service's own statements.
            let (level,): (String,) = db
                .query("SHOW client_min_messages")
                .fetch_one()
                .await
                .unwrap();
            assert_eq!(level, "notice");
        }));
    });
    let text = captured.text();
    assert!(!text.contains("already exists"), "{text}");
}
