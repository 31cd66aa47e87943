//! Rate limits through a real router: in process from the `server`
//! section, and shared between two instances through Redis and Memcached.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use core_web::{ApiResult, KeyBy, Probes, RateLimitSettings, RateLimiter, ServerSettings};
use tower::ServiceExt as _;

async fn hello() -> ApiResult<&'static str> {
    Ok("hello")
}

fn api() -> Router {
    Router::new().route("/hello", get(hello))
}

async fn call(app: &Router, key: &str, path: &str) -> axum::http::Response<Body> {
    let request = Request::get(path)
        .header("x-api-key", key)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn the_server_section_limits_each_client_and_answers_429_with_retry_after() {
    let server = ServerSettings {
        rate_limit: RateLimitSettings {
            requests: 2,
            window_secs: 60,
            key_by: "header:x-api-key".into(),
        },
        ..ServerSettings::default()
    };
    let metrics = core_log::Metrics::local().1;
    let app = core_web::app(
        api(),
        Probes::new(metrics, Duration::from_millis(100)),
        &server,
    )
    .unwrap();
    for remaining in ["1", "0"] {
        let response = call(&app, "alice", "/hello").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["ratelimit-limit"], "2");
        assert_eq!(response.headers()["ratelimit-remaining"], remaining);
    }
    let refused = call(&app, "alice", "/hello").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        call(&app, "bob", "/hello").await.status(),
        StatusCode::OK,
        "another key"
    );
    assert_eq!(
        call(&app, "alice", "/health").await.status(),
        StatusCode::OK,
        "probes are never limited"
    );
}

#[test]
fn an_unknown_key_by_is_refused_naming_the_setting() {
    let err = RateLimiter::from_settings(&RateLimitSettings {
        requests: 1,
        key_by: "cookie".into(),
        ..RateLimitSettings::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("server.rate_limit.key_by"),
        "{err}"
    );
}

/// Two instances of a service, one limit: 3 requests per window in all.
async fn two_instances_share_one_limit(cache_url: String) {
    let mut settings = core_cache::CacheSettings::from_url(cache_url);
    settings.namespace = Some(core_testkit::unique_name("ratelimit"));
    let cache = core_cache::connect(&settings).await.unwrap();
    let backend = Arc::clone(cache.backend());
    let instance = || {
        RateLimiter::shared(Arc::clone(&backend), 3, Duration::from_secs(3600))
            .key_by(KeyBy::Header(axum::http::HeaderName::from_static(
                "x-api-key",
            )))
            .apply(api())
    };
    let (first, second) = (instance(), instance());
    // Windows are fixed hours; should one end during a run, the next run
    // (a new client) falls wholly inside the new one.
    for _ in 0..2 {
        let key = core_testkit::unique_name("client");
        let mut seen = Vec::new();
        for app in [&first, &second, &first, &second, &first] {
            let response = call(app, &key, "/hello").await;
            let reset: u64 = response.headers()["ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            seen.push((response.status().as_u16(), reset));
        }
        if seen.windows(2).any(|pair| pair[1].1 > pair[0].1) {
            continue;
        }
        let statuses: Vec<u16> = seen.iter().map(|(status, _)| *status).collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429], "{seen:?}");
        return;
    }
    panic!("two window boundaries within two runs of five requests");
}

#[tokio::test]
async fn instances_share_a_limit_through_redis() {
    let url = core_testkit::require_service!(core_testkit::Service::Redis);
    two_instances_share_one_limit(url).await;
}

#[tokio::test]
async fn instances_share_a_limit_through_memcached() {
    let url = core_testkit::require_service!(core_testkit::Service::Memcached);
    let address = core_testkit::Service::Memcached.first_address(&url);
    two_instances_share_one_limit(format!("memcached://{address}")).await;
}
