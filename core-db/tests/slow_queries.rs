//! Statements slower than `slow_query_ms` are logged without their
//! parameters and counted; faster ones are not.

use core_db::DatabaseSettings;
use core_db::sql::SqlDatabase;
use core_testkit::Captured;

const SECRET: &str = "pl4nted-param-s3cret";

/// A recursive count that takes SQLite well over a millisecond.
const SLOW: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
                    SELECT COUNT(*) FROM n WHERE CAST(? AS TEXT) IS NOT NULL";

async fn run_slow(db: &SqlDatabase) {
    let (n,): (i64,) = db.query(SLOW).bind(SECRET).fetch_one().await.unwrap();
    assert_eq!(n, 300_000);
}

#[tokio::test]
async fn slow_statements_are_logged_masked_and_counted() {
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::INFO);
    let _guard = tracing::subscriber::set_default(subscriber);

    let settings = DatabaseSettings {
        slow_query_ms: Some(1),
        ..DatabaseSettings::default()
    };
    let db = SqlDatabase::connect(&settings).await.unwrap();
    run_slow(&db).await;
    assert_eq!(db.slow_query_count(), 1);

    let log = captured.text();
    assert!(log.contains("slow query"), "{log}");
    assert!(
        log.contains("WITH RECURSIVE"),
        "the statement is logged: {log}"
    );
    assert!(log.contains("1 masked"), "{log}");
    assert!(
        !log.contains(SECRET),
        "a parameter leaked into the log: {log}"
    );
}

#[tokio::test]
async fn statements_under_the_threshold_or_with_the_log_off_are_not_counted() {
    let mut settings = DatabaseSettings {
        slow_query_ms: Some(60_000),
        ..DatabaseSettings::default()
    };
    let db = SqlDatabase::connect(&settings).await.unwrap();
    run_slow(&db).await;
    assert_eq!(db.slow_query_count(), 0);

    settings.slow_query_ms = None;
    let db = SqlDatabase::connect(&settings).await.unwrap();
    run_slow(&db).await;
    assert_eq!(db.slow_query_count(), 0);
}
