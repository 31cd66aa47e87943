//! PostgreSQL shut down and started again under a live pool: calls fail
//! fast with a temporary `Unavailable`, nothing panics, and the same
//! `SqlDatabase` recovers without being recreated.
//!
//! This stops the shared PostgreSQL server, so it lives in a test binary
//! of its own (cargo runs test binaries one at a time) and keeps the outage
//! to a few seconds.

use std::process::Command;
use std::time::Duration;

use core_db::sql::SqlDatabase;
use core_db::{DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service, unique_name};

fn services(action: &str) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    Command::new("bash")
        .args([script, action, "postgres"])
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts PostgreSQL again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        assert!(services("start"), "scripts/services.sh start postgres failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_postgres_gives_unavailable_then_the_same_pool_recovers() {
    let url = require_service!(Service::Postgres);
    if Service::Postgres.first_address(&url) != "127.0.0.1:5432" {
        eprintln!("SKIPPED: DATABASE_URL_POSTGRES points at a server this test cannot restart");
        return;
    }
    let mut settings = DatabaseSettings::from_url(url);
    settings.acquire_timeout_ms = 500;
    settings.max_connections = 4;
    let db = SqlDatabase::connect(&settings).await.unwrap();
    let table = unique_name("restart");
    db.query(&format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY)"))
        .execute()
        .await
        .unwrap();
    db.query(&format!("INSERT INTO {table} VALUES (?)"))
        .bind(1_i64)
        .execute()
        .await
        .unwrap();
    let count_sql = format!("SELECT COUNT(*) FROM {table}");

    {
        let _restart = Restart;
        assert!(services("stop"), "scripts/services.sh stop postgres failed");
        let outage = async {
            for _ in 0..2 {
                let err = db
                    .query(&count_sql)
                    .fetch_one::<(i64,)>()
                    .await
                    .expect_err("a query while PostgreSQL is down must fail");
                assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
                assert!(err.is_temporary(), "an outage is worth retrying: {err}");
                let err = db.begin().await.expect_err("begin while down");
                assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
            }
        };
        // Bounded: the pool must not hang while the server is gone.
        tokio::time::timeout(Duration::from_secs(30), outage)
            .await
            .expect("calls during the outage returned within the deadline");
    }

    let mut recovered = None;
    for _ in 0..100 {
        match db.query(&count_sql).fetch_one::<(i64,)>().await {
            Ok((rows,)) => {
                recovered = Some(rows);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(recovered, Some(1), "the same pool works again after PostgreSQL is back");
    db.query(&format!("DROP TABLE {table}")).execute().await.unwrap();
}
