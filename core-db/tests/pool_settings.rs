//! Each pool key of the `database` section reaches the sqlx pool option it
//! names, on every SQL engine — with distinct values, so two swapped keys
//! would fail.

use std::time::Duration;

use core_db::sql::{SqlDatabase, SqlPool};
use core_db::{DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service};

/// The pool options as sqlx holds them.
#[derive(Debug, PartialEq)]
struct Applied {
    max: u32,
    min: u32,
    acquire: Duration,
    idle: Option<Duration>,
    lifetime: Option<Duration>,
    test_before_acquire: bool,
}

macro_rules! applied {
    ($pool:expr) => {{
        let options = $pool.options();
        Applied {
            max: options.get_max_connections(),
            min: options.get_min_connections(),
            acquire: options.get_acquire_timeout(),
            idle: options.get_idle_timeout(),
            lifetime: options.get_max_lifetime(),
            test_before_acquire: options.get_test_before_acquire(),
        }
    }};
}

fn applied(pool: &SqlPool) -> Applied {
    match pool {
        SqlPool::Postgres(pool) => applied!(pool),
        SqlPool::MySql(pool) => applied!(pool),
        SqlPool::Sqlite(pool) => applied!(pool),
        _ => unreachable!("every engine is compiled into this test"),
    }
}

fn distinct_settings(url: String) -> DatabaseSettings {
    let json = serde_json::json!({
        "url": url,
        "max_connections": 7,
        "min_connections": 2,
        "acquire_timeout_ms": 1_234,
        "idle_timeout_ms": 4_321,
        "max_lifetime_ms": 98_765,
        "test_before_acquire": false,
    });
    serde_json::from_value(json).expect("the settings parse")
}

async fn assert_keys_reach_the_pool(url: String) {
    let settings = distinct_settings(url);
    let db = SqlDatabase::connect(&settings).await.unwrap();
    assert_eq!(
        applied(db.pool()),
        Applied {
            max: 7,
            min: 2,
            acquire: Duration::from_millis(1_234),
            idle: Some(Duration::from_millis(4_321)),
            lifetime: Some(Duration::from_millis(98_765)),
            test_before_acquire: false,
        }
    );
    // min_connections is acted on, not only stored: the pool fills up to it.
    let mut size = 0;
    for _ in 0..50 {
        size = db.pool().stats().size.unwrap();
        if size >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(size >= 2, "the pool opened {size} connections, min is 2");
    core_db::DatabaseBase::close(&db).await;

    // `null` turns the optional limits off.
    let mut unlimited = settings.clone();
    unlimited.idle_timeout_ms = None;
    unlimited.max_lifetime_ms = None;
    unlimited.min_connections = 0;
    let db = SqlDatabase::connect(&unlimited).await.unwrap();
    let options = applied(db.pool());
    assert_eq!((options.idle, options.lifetime), (None, None));
    core_db::DatabaseBase::close(&db).await;
}

#[tokio::test]
async fn sqlite_pool_keys_reach_their_options() {
    let dir = tempfile::tempdir().unwrap();
    assert_keys_reach_the_pool(format!("sqlite://{}", dir.path().join("p.db").display())).await;
}

#[tokio::test]
async fn postgres_pool_keys_reach_their_options() {
    let url = require_service!(Service::Postgres);
    assert_keys_reach_the_pool(url).await;
}

#[tokio::test]
async fn mysql_pool_keys_reach_their_options() {
    let url = require_service!(Service::MySql);
    assert_keys_reach_the_pool(url).await;
}

#[tokio::test]
async fn postgres_statement_timeout_reaches_the_session_and_cancels() {
    let url = require_service!(Service::Postgres);
    let mut settings = DatabaseSettings::from_url(url);
    settings.statement_timeout_ms = Some(1_500);
    let db = SqlDatabase::connect(&settings).await.unwrap();
    let (shown,): (String,) = db
        .query("SHOW statement_timeout")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(shown, "1500ms");
    let started = std::time::Instant::now();
    let err = db
        .query("SELECT pg_sleep(10)")
        .execute()
        .await
        .expect_err("the server cancels the statement");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn mysql_statement_timeout_reaches_the_session() {
    let url = require_service!(Service::MySql);
    let mut settings = DatabaseSettings::from_url(url);
    settings.statement_timeout_ms = Some(1_500);
    let db = SqlDatabase::connect(&settings).await.unwrap();
    let version: String = core_db::DatabaseBase::server_version(&db).await.unwrap();
    let (limit,): (f64,) = if version.contains("MariaDB") {
        db.query("SELECT @@max_statement_time")
            .fetch_one()
            .await
            .unwrap()
    } else {
        // MySQL's variable is unsigned: read it through the native pool.
        let SqlPool::MySql(pool) = db.pool() else {
            unreachable!("a MySQL URL gives a MySQL pool")
        };
        let ms: u64 = sqlx::query_scalar("SELECT @@max_execution_time")
            .fetch_one(pool)
            .await
            .unwrap();
        (ms as f64 / 1000.0,)
    };
    assert!((limit - 1.5).abs() < 1e-9, "{limit}");
}

#[test]
fn sqlite_refuses_a_statement_timeout_it_cannot_enforce() {
    let mut settings = DatabaseSettings::from_url("sqlite::memory:");
    settings.statement_timeout_ms = Some(1_000);
    let err = settings.validate().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("statement_timeout_ms"), "{err}");
}

#[test]
fn bad_values_name_their_key() {
    type Spoil = fn(&mut DatabaseSettings);
    let cases: [(&str, Spoil); 5] = [
        ("database.max_connections", |s| s.max_connections = 0),
        ("database.min_connections", |s| s.min_connections = 11),
        ("database.acquire_timeout_ms", |s| s.acquire_timeout_ms = 0),
        ("database.transaction_attempts", |s| {
            s.transaction_attempts = 0
        }),
        ("database.replica_urls[0]", |s| {
            s.replica_urls = vec!["mongodb://elsewhere".to_string().into()]
        }),
    ];
    for (key, spoil) in cases {
        let mut settings = DatabaseSettings::default();
        spoil(&mut settings);
        let err = settings.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{key}: {err}");
        assert_eq!(err.context_value("key"), Some(key), "{err}");
    }
    let err = serde_json::from_str::<DatabaseSettings>(r#"{"max_conections": 3}"#).unwrap_err();
    assert!(err.to_string().contains("max_conections"), "{err}");
    let err = DatabaseSettings::from_url("oracle://db")
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("\"oracle\""), "{err}");
}

#[tokio::test]
async fn mongodb_pool_keys_reach_their_driver_options() {
    let settings = distinct_settings("mongodb://127.0.0.1:27017/app".to_string());
    let options = core_db::document::client_options(&settings).await.unwrap();
    assert_eq!(options.max_pool_size, Some(7));
    assert_eq!(options.min_pool_size, Some(2));
    assert_eq!(options.max_idle_time, Some(Duration::from_millis(4_321)));
    assert_eq!(
        options.server_selection_timeout,
        Some(Duration::from_millis(1_234))
    );
    assert_eq!(options.connect_timeout, Some(Duration::from_millis(1_234)));
    assert_eq!(options.default_database.as_deref(), Some("app"));
}
