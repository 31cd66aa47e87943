//! The layers every SQL statement runs under: a read that lost its
//! connection is run again and a write is not; a deadline per attempt;
//! one count and one timing per statement; a `db` span without parameter
//! values.

use std::time::{Duration, Instant};

use core_db::sql::SqlDatabase;
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Captured, Recorded, Service, require, unique_name};

/// A pool of exactly one connection, not pinged before it is handed out
/// (so a dead one is used), and the server process behind it.
async fn one_connection(url: &str, read_attempts: u32) -> (SqlDatabase, i32) {
    let settings = DatabaseSettings {
        max_connections: 1,
        min_connections: 1,
        test_before_acquire: false,
        read_attempts,
        ..DatabaseSettings::from_url(url)
    };
    let db = SqlDatabase::connect(&settings).await.unwrap();
    let pid = server_process(&db).await;
    (db, pid)
}

/// The server process of the pool's one connection.
async fn server_process(db: &SqlDatabase) -> i32 {
    let (pid,): (i32,) = db
        .query("SELECT pg_backend_pid()")
        .fetch_one()
        .await
        .unwrap();
    pid
}

/// Has PostgreSQL end the server process `pid`, and waits until it has.
async fn terminate(url: &str, pid: i32) {
    let admin = SqlDatabase::connect(&DatabaseSettings::from_url(url))
        .await
        .unwrap();
    let (ended,): (bool,) = admin
        .query("SELECT pg_terminate_backend(?, 5000)")
        .bind(pid)
        .fetch_one()
        .await
        .unwrap();
    assert!(ended, "process {pid} did not end");
    admin.close().await;
}

#[tokio::test]
async fn a_read_that_lost_its_connection_is_run_again_on_a_new_one() {
    let Some(url) = require(Service::Postgres, "layers read retry").await else {
        return;
    };
    let (db, pid) = one_connection(&url, 3).await;
    terminate(&url, pid).await;
    let (one,): (i32,) = db
        .query("SELECT 1")
        .fetch_one()
        .await
        .expect("the read is run again on a new connection");
    assert_eq!(one, 1);
}

#[tokio::test]
async fn with_one_read_attempt_the_same_read_fails() {
    let Some(url) = require(Service::Postgres, "layers no retry").await else {
        return;
    };
    let (db, pid) = one_connection(&url, 1).await;
    terminate(&url, pid).await;
    let err = db
        .query("SELECT 1")
        .fetch_one::<(i32,)>()
        .await
        .expect_err("the connection was ended under it");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(!err.retries_exhausted(), "{err:?}");
}

#[tokio::test]
async fn a_write_is_not_run_again_unless_marked_idempotent() {
    let Some(url) = require(Service::Postgres, "layers write").await else {
        return;
    };
    let (db, _) = one_connection(&url, 3).await;
    let table = unique_name("layers_writes");
    db.query(&format!("CREATE TABLE {table} (id INT PRIMARY KEY)"))
        .execute()
        .await
        .unwrap();

    terminate(&url, server_process(&db).await).await;
    let insert = format!("INSERT INTO {table} VALUES (1)");
    let err = db.query(&insert).execute().await.expect_err("not retried");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");

    terminate(&url, server_process(&db).await).await;
    let upsert = format!("INSERT INTO {table} VALUES (2) ON CONFLICT (id) DO NOTHING");
    let inserted = db
        .query(&upsert)
        .idempotent(true)
        .execute()
        .await
        .expect("an idempotent write is run again");
    assert_eq!(inserted, 1);

    let (rows,): (i64,) = db
        .query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows, 1, "the failed insert was not applied");
    db.query(&format!("DROP TABLE {table}"))
        .execute()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_statement_past_the_query_timeout_is_a_timeout_and_the_pool_recovers() {
    let Some(url) = require(Service::Postgres, "layers timeout").await else {
        return;
    };
    let settings = DatabaseSettings {
        query_timeout_ms: Some(200),
        ..DatabaseSettings::from_url(&url)
    };
    let db = SqlDatabase::connect(&settings).await.unwrap();
    let started = Instant::now();
    let err = db
        .query("SELECT pg_sleep(3)")
        .execute()
        .await
        .expect_err("past the deadline");
    assert!(started.elapsed() < Duration::from_secs(2), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(
        err.to_string().contains("database.query_timeout_ms"),
        "the error names the setting: {err}"
    );
    let (one,): (i32,) = db.query("SELECT 1").fetch_one().await.unwrap();
    assert_eq!(one, 1);
}

#[test]
fn each_statement_is_counted_by_operation_and_outcome_and_timed() {
    let recorded = Recorded::default();
    metrics::with_local_recorder(&recorded, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let db = SqlDatabase::connect(&DatabaseSettings::default())
                    .await
                    .unwrap();
                db.query("CREATE TABLE t (id INT PRIMARY KEY)")
                    .execute()
                    .await
                    .unwrap();
                db.query("INSERT INTO t VALUES (1)")
                    .execute()
                    .await
                    .unwrap();
                let err = db
                    .query("INSERT INTO t VALUES (1)")
                    .execute()
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Conflict);
                let missing = db
                    .query("SELECT id FROM t WHERE id = 2")
                    .fetch_one::<(i32,)>()
                    .await;
                assert!(missing.is_err());
            });
    });
    let counted = |labels: &str| recorded.counted(&format!("db_queries_total{{{labels}}}"));
    assert_eq!(counted("backend=sqlite,operation=db.execute,outcome=ok"), 2);
    assert_eq!(
        counted("backend=sqlite,operation=db.execute,outcome=conflict"),
        1
    );
    assert_eq!(
        counted("backend=sqlite,operation=db.fetch_one,outcome=not_found"),
        1
    );
    let names = recorded.names();
    assert!(
        names.contains(
            &"db_query_duration_seconds{backend=sqlite,operation=db.fetch_one}".to_string()
        ),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_failed_statement_is_logged_in_its_span_without_its_parameters() {
    const SECRET: &str = "pl4nted-layers-s3cret";
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::DEBUG);
    let _guard = tracing::subscriber::set_default(subscriber);

    let db = SqlDatabase::connect(&DatabaseSettings::default())
        .await
        .unwrap();
    let missing = db
        .query("SELECT 1 WHERE ? = 'never'")
        .bind(SECRET)
        .fetch_one::<(i32,)>()
        .await;
    assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);

    let log = captured.text();
    assert!(log.contains("database statement failed"), "{log}");
    assert!(log.contains("operation=\"db.fetch_one\""), "{log}");
    assert!(log.contains("backend=\"sqlite\""), "{log}");
    assert!(log.contains("params=1"), "{log}");
    assert!(!log.contains(SECRET), "a parameter reached the log: {log}");
}
