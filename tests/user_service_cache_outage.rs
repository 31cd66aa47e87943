//! The user service on PostgreSQL + Redis while Redis is down: cached reads
//! are served from the database instead of failing, a change made during
//! the outage is what the next reads show, before and after Redis returns.
//!
//! This stops the shared Redis server, so it lives in a test binary of its
//! own (cargo runs test binaries one at a time).

#![cfg(all(
    feature = "config",
    feature = "log",
    feature = "db",
    feature = "cache",
    feature = "mq",
    feature = "auth",
    feature = "axum",
    feature = "postgres",
    feature = "redis"
))]

mod support;

use std::time::Duration;

use core_testkit::{Service, require_service, services_script};
use reqwest::{Method, StatusCode};
use serde_json::json;

use support::{Api, ServiceProcess, wait_until};

#[tokio::test]
async fn cached_reads_survive_a_redis_outage() {
    let postgres = require_service!(Service::Postgres);
    let redis_url = require_service!(Service::Redis);
    if Service::Redis.first_address(&redis_url) != "127.0.0.1:6379" {
        eprintln!("SKIPPED: REDIS_URL points at a server this test cannot stop");
        return;
    }
    let database = support::ScratchDatabase::create(&postgres, "users_outage").await;
    let env = vec![
        ("APP_ENV", "test".to_string()),
        (
            "APP__AUTH__JWT__SECRET",
            uuid::Uuid::new_v4().simple().to_string().repeat(2),
        ),
        ("APP__AUTH__JWT__ISSUER", "core-sdk-examples".to_string()),
        ("APP__CACHE__NAMESPACE", core_testkit::unique_name("outage")),
        ("APP__DATABASE__URL", database.url.clone()),
        ("APP__CACHE__URL", redis_url),
    ];
    let service = ServiceProcess::start("user_service", &env);
    let api = Api::new(service.base_url());
    let oli = api
        .register("oli", "oli@example.com", "a long enough passphrase")
        .await;
    let path = format!("/api/v1/users/{}", oli["id"].as_str().unwrap());
    let tokens = api.login("oli", "a long enough passphrase").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, _) = api.call(Method::GET, &path, Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);

    services_script("stop", "redis");
    let mut during = Vec::new();
    for _ in 0..5 {
        during.push(api.call(Method::GET, &path, Some(&access), None).await);
    }
    let (changed, body) = api
        .call(
            Method::PUT,
            &path,
            Some(&access),
            Some(&json!({"email": "oli@elsewhere.example"})),
        )
        .await;
    let (after_change, read) = api.call(Method::GET, &path, Some(&access), None).await;
    services_script("start", "redis");

    for (status, body) in &during {
        assert_eq!(*status, StatusCode::OK, "a read during the outage: {body}");
        assert_eq!(body["username"], "oli");
    }
    assert_eq!(
        changed,
        StatusCode::OK,
        "an update during the outage: {body}"
    );
    assert_eq!(after_change, StatusCode::OK, "{read}");
    assert_eq!(read["email"], "oli@elsewhere.example", "{read}");

    let back = wait_until(Duration::from_secs(30), async || {
        let (status, body) = api.call(Method::GET, &path, Some(&access), None).await;
        (status == StatusCode::OK).then_some(body)
    })
    .await
    .expect("reads work once Redis is back");
    assert_eq!(back["email"], "oli@elsewhere.example", "{back}");
    assert!(service.terminate().success());
    database.drop().await;
}
