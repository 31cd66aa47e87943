//! `core_db::connect` picks the engine from `database.url` alone and hands
//! back the front door of its data model; asking for the other model is a
//! clear error naming the key, not a panic.

use std::time::Duration;

use core_db::{Backend, Database, DatabaseSettings, ErrorKind, connect};
use core_testkit::{Service, require_service};

const PATIENCE: Duration = Duration::from_secs(5);

async fn connected(url: &str) -> Database {
    let mut settings = DatabaseSettings::from_url(url);
    settings.database_name = Some("test".to_string());
    connect(&settings)
        .await
        .expect("connect the engine the URL names")
}

/// Checks the handle through both views of the shared base, then closes it.
async fn assert_serves(db: Database, backend: Backend) {
    assert_eq!(db.base().backend(), backend);
    db.base()
        .health(PATIENCE)
        .await
        .expect("health through base()");
    let shared = db.into_base();
    assert_eq!(shared.backend(), backend);
    assert!(!shared.server_version().await.unwrap().is_empty());
    shared.close().await;
    let err = shared.health(PATIENCE).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

fn assert_wrong_model(err: core_db::Error, named: &str) {
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let text = err.to_string();
    assert!(text.contains("database.url"), "names the key: {text}");
    assert!(text.contains(named), "names the engine: {text}");
}

/// The SQL front door answers; the document one is refused naming the engine.
async fn assert_sql_engine(url: &str, backend: Backend) {
    let db = connected(url).await;
    db.sql().unwrap().query("SELECT 1").execute().await.unwrap();
    assert_wrong_model(db.document().unwrap_err(), backend.name());
    assert_serves(db, backend).await;
}

#[tokio::test]
async fn a_sqlite_url_gives_the_sql_api_and_refuses_the_document_api() {
    assert_sql_engine("sqlite::memory:", Backend::Sqlite).await;
}

#[tokio::test]
async fn a_postgres_url_gives_the_sql_api_and_refuses_the_document_api() {
    let url = require_service!(Service::Postgres);
    assert_sql_engine(&url, Backend::Postgres).await;
}

#[tokio::test]
async fn a_mysql_url_gives_the_sql_api_and_refuses_the_document_api() {
    let url = require_service!(Service::MySql);
    assert_sql_engine(&url, Backend::MySql).await;
}

#[tokio::test]
async fn a_mongodb_url_gives_the_document_api_and_refuses_the_sql_api() {
    let url = require_service!(Service::MongoDb);
    let db = connected(&url).await;
    assert_eq!(db.document().unwrap().database().name(), "test");
    assert_wrong_model(db.sql().unwrap_err(), "mongodb");
    assert_serves(db, Backend::MongoDb).await;
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_naming_the_key() {
    let err = connect(&DatabaseSettings::from_url(
        "oracle://db.example.com/orders",
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("database.url"), "{err}");
    assert!(err.to_string().contains("\"oracle\""), "{err}");
    for scheme in ["postgres://", "mariadb://", "sqlite://", "mongodb+srv://"] {
        assert!(
            err.to_string().contains(scheme),
            "the error lists the schemes this build opens: {err}"
        );
    }
}

#[tokio::test]
async fn mongodb_replica_urls_are_refused_instead_of_ignored() {
    let settings = DatabaseSettings {
        replica_urls: vec!["mongodb://replica.example.com/app".to_string().into()],
        ..DatabaseSettings::from_url("mongodb://primary.example.com/app")
    };
    let err = connect(&settings).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("database.replica_urls"), "{err}");
}

#[test]
fn each_engine_says_what_it_can_do() {
    assert!(Backend::Postgres.capabilities().statement_timeout);
    assert!(!Backend::Sqlite.capabilities().concurrent_writes);
    assert!(Backend::MySql.capabilities().isolation_levels);
    let mongo = Backend::MongoDb.capabilities();
    assert!(!mongo.sql && !mongo.savepoints && mongo.transactions);
    for backend in [Backend::Postgres, Backend::MySql, Backend::Sqlite] {
        assert!(
            backend.is_sql() && backend.capabilities().savepoints,
            "{backend}"
        );
    }
}
