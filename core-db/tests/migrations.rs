//! Embedded migrations run once, at startup or again at the next start,
//! on every SQL engine, each in a schema or database of its own.

use core_db::sql::SqlDatabase;
use core_db::{DatabaseBase as _, DatabaseSettings};
use core_testkit::{Service, require_service, unique_name};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

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
    let (applied,): (i64,) = db
        .query("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(applied, 2);
    db.close().await;
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
