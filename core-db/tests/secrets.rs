//! A password planted in a database URL never shows in Debug output or
//! errors, and query parameters never show in logs or Debug.

use core_db::sql::SqlDatabase;
use core_db::{DatabaseSettings, ErrorKind, connect};
use core_testkit::{Service, require_service};

const SECRET: &str = "pl4nted-DB-s3cret";

fn assert_hidden(shown: &str) {
    assert!(!shown.contains(SECRET), "the secret leaked: {shown}");
}

fn assert_error_hidden(err: &core_db::Error) {
    assert_hidden(&err.to_string());
    assert_hidden(&format!("{err:?}"));
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        assert_hidden(&cause.to_string());
        assert_hidden(&format!("{cause:?}"));
        source = cause.source();
    }
}

#[test]
fn settings_hide_every_password() {
    let json = format!(
        r#"{{"url": "postgres://app:{SECRET}@db.internal:5432/app",
            "replica_urls": ["postgres://app:{SECRET}@replica.internal:5432/app?password={SECRET}"]}}"#
    );
    let settings: DatabaseSettings = serde_json::from_str(&json).unwrap();
    assert_hidden(&format!("{settings:?}"));
    assert_hidden(&format!("{settings:#?}"));
    assert!(format!("{settings:?}").contains("db.internal:5432"));
    assert!(format!("{settings:?}").contains("replica.internal:5432"));
}

#[tokio::test]
async fn unreachable_servers_give_temporary_errors_without_the_password() {
    for url in [
        format!("postgres://app:{SECRET}@127.0.0.1:1/app"),
        format!("mysql://app:{SECRET}@127.0.0.1:1/app"),
        format!("mongodb://app:{SECRET}@127.0.0.1:1/app?serverSelectionTimeoutMS=300"),
    ] {
        let mut settings = DatabaseSettings::from_url(url.clone());
        settings.acquire_timeout_ms = 300;
        let err = connect(&settings)
            .await
            .expect_err("nothing listens on port 1");
        assert_error_hidden(&err);
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{url}: {err}");
        assert!(err.is_temporary(), "{err}");
    }
}

#[tokio::test]
async fn malformed_urls_are_invalid_input_without_the_password() {
    for url in [
        format!("postgres://app:{SECRET}@host:notaport/app"),
        format!("mysql://app:{SECRET}@host:99999999/app"),
        format!("mongodb://app:{SECRET}@/app"),
    ] {
        let err = connect(&DatabaseSettings::from_url(url.clone()))
            .await
            .expect_err("a malformed URL");
        assert_error_hidden(&err);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{url}: {err}");
    }
}

#[tokio::test]
async fn rejected_credentials_hide_the_password() {
    let url = require_service!(Service::MySql);
    let address = Service::MySql.first_address(&url);
    // The test server's root has no password, so sending one is refused.
    let mut settings = DatabaseSettings::from_url(format!("mysql://root:{SECRET}@{address}/test"));
    settings.acquire_timeout_ms = 3_000;
    let err = connect(&settings).await.expect_err("a wrong password");
    assert_error_hidden(&err);
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}

#[tokio::test]
async fn query_debug_and_errors_leave_parameters_out() {
    let db = SqlDatabase::connect(&DatabaseSettings::default())
        .await
        .unwrap();
    db.query("CREATE TABLE creds (user TEXT PRIMARY KEY, password TEXT)")
        .execute()
        .await
        .unwrap();
    let query = db
        .query("INSERT INTO creds VALUES (?, ?)")
        .bind("ann")
        .bind(SECRET);
    assert_hidden(&format!("{query:?}"));
    query.execute().await.unwrap();
    let err = db
        .query("INSERT INTO creds VALUES (?, ?)")
        .bind("ann")
        .bind(SECRET)
        .execute()
        .await
        .expect_err("a duplicate user");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_hidden(&err.to_string());
}
