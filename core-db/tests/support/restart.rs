//! The server-restart scenario shared by the restart test binaries.

use std::process::Command;
use std::time::Duration;

use core_db::sql::SqlDatabase;
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, unique_name};

fn services(action: &str, server: &str) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    Command::new("bash")
        .args([script, action, server])
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts the server again however the test ends.
struct Restart(&'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        assert!(
            services("start", self.0),
            "scripts/services.sh start {} failed",
            self.0
        );
    }
}

/// Stops `server` (the name `scripts/services.sh` knows) under a live
/// pool, checks that calls fail fast with a temporary `Unavailable`,
/// starts it again and checks that the same pool recovers.
pub(crate) async fn outage_then_recovery(service: Service, server: &'static str, url: String) {
    if Service::first_address(service, &url) != format!("127.0.0.1:{}", service.default_port()) {
        eprintln!("SKIPPED: {service} is not the local server this test can restart");
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
        let _restart = Restart(server);
        assert!(
            services("stop", server),
            "scripts/services.sh stop {server} failed"
        );
        let outage = async {
            for _ in 0..2 {
                let err = db
                    .query(&count_sql)
                    .fetch_one::<(i64,)>()
                    .await
                    .expect_err("a query while the server is down must fail");
                assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
                assert!(err.is_temporary(), "an outage is worth retrying: {err}");
                let err = db.begin().await.expect_err("begin while down");
                assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
                // The health check answers within its own deadline.
                let err = db
                    .health(Duration::from_millis(200))
                    .await
                    .expect_err("unhealthy while down");
                assert!(err.is_temporary(), "{err}");
            }
        };
        // Bounded: the pool must not hang while the server is gone.
        tokio::time::timeout(Duration::from_secs(30), outage)
            .await
            .expect("calls during the outage returned within the deadline");
    }

    let mut recovered = None;
    for _ in 0..150 {
        match db.query(&count_sql).fetch_one::<(i64,)>().await {
            Ok((rows,)) => {
                recovered = Some(rows);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert_eq!(
        recovered,
        Some(1),
        "the same pool works again after {server} is back"
    );
    db.query(&format!("DROP TABLE {table}"))
        .execute()
        .await
        .unwrap();
}
