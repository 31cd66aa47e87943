//! The restart scenario every SQL server shares.

use std::time::Duration;

use core_db::sql::SqlDatabase;
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, unique_name};

use crate::restart::{during_outage, is_local, recovered};

/// Stops `server` (the name `scripts/services.sh` knows) under a live
/// pool, checks that calls fail fast with a temporary `Unavailable`,
/// starts it again and checks that the same pool recovers.
pub(crate) async fn outage_then_recovery(service: Service, server: &'static str, url: String) {
    if !is_local(service, &url) {
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

    during_outage(server, async {
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
    })
    .await;

    let (rows,) = recovered(server, || db.query(&count_sql).fetch_one::<(i64,)>()).await;
    assert_eq!(
        rows, 1,
        "the data written before the restart is still there"
    );
    db.query(&format!("DROP TABLE {table}"))
        .execute()
        .await
        .unwrap();
}
