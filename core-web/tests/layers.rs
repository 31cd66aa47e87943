//! The standard layers of `core_web::app`, each through a real router: what
//! a client sends, what it gets back, what the service records.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use core_error::Error;
use core_log::Metrics;
use core_web::{ApiJson, ApiResult, Probes, ServerSettings};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// One recorder per test process.
fn metrics() -> Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS
        .get_or_init(|| Metrics::install().expect("install the recorder"))
        .clone()
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Item {
    name: String,
    quantity: u32,
}

async fn item(axum::extract::Path(id): axum::extract::Path<u32>) -> ApiResult<String> {
    core_web::bind_user("user-7");
    Ok(format!("item {id}"))
}

async fn create(ApiJson(item): ApiJson<Item>) -> ApiResult<ApiJson<Item>> {
    Ok(ApiJson(item))
}

async fn broken() -> ApiResult<String> {
    Err(Error::internal("the table orders_v2 has no column sku").into())
}

async fn panics() -> ApiResult<String> {
    panic!("the handler lost its way")
}

/// Answers with the request id of the service it forwarded to.
async fn forwarded() -> ([(&'static str, &'static str); 1], &'static str) {
    ([("x-request-id", "upstream-7")], "forwarded")
}

async fn slow() -> ApiResult<String> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok("done".into())
}

fn router(server: &ServerSettings, probes: Probes) -> Router {
    let api = Router::new()
        .route("/items/{id}", get(item))
        .route("/items", post(create))
        .route("/broken", get(broken))
        .route("/panics", get(panics))
        .route("/slow", get(slow))
        .route("/forwarded", get(forwarded));
    core_web::app(api, probes, server).unwrap()
}

fn service(server: &ServerSettings) -> Router {
    router(server, Probes::new(metrics(), Duration::from_millis(200)))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_request_id_is_kept_when_sent_made_when_missing_and_echoed() {
    let app = service(&ServerSettings::default());
    let sent = Request::get("/items/1")
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&app, sent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-request-id"], "req-42");
    let (_, headers, _) = send(&app, get_request("/items/2")).await;
    assert_eq!(headers["x-request-id"].len(), 36, "a UUID");
    let (_, headers, _) = send(&app, get_request("/forwarded")).await;
    assert_eq!(
        headers.get_all("x-request-id").iter().collect::<Vec<_>>(),
        ["upstream-7"],
        "a handler's own request id is kept"
    );
}

#[tokio::test]
async fn without_the_standard_layers_only_the_routes_probes_and_json_fallbacks_remain() {
    let bare = ServerSettings {
        standard_layers: false,
        ..ServerSettings::default()
    };
    let app = service(&bare);
    let (status, headers, _) = send(&app, get_request("/items/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("x-request-id"), "{headers:?}");
    let (status, _, body) = send(&app, get_request("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains(r#""code":"not_found""#), "{body}");
    let (status, _, _) = send(&app, get_request("/health")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn errors_are_json_with_the_shared_codes_and_5xx_details_stay_in_the_logs() {
    let app = service(&ServerSettings::default());
    let (status, _, body) = send(&app, get_request("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains(r#""code":"not_found""#), "{body}");

    let (status, _, body) = send(
        &app,
        Request::delete("/items/1").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    let (status, _, body) = send(&app, get_request("/broken")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains(r#""code":"internal""#), "{body}");
    assert!(!body.contains("orders_v2"), "details are not sent: {body}");
}

#[tokio::test]
async fn a_bad_json_body_is_refused_naming_the_field() {
    let app = service(&ServerSettings::default());
    let json = |text: &'static str| {
        Request::post("/items")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(text))
            .unwrap()
    };
    let (status, _, body) = send(&app, json(r#"{"name": "bolt", "quantity": "many"}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains(r#""field":"quantity""#), "{body}");
    let (status, _, _) = send(&app, json("{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = send(&app, json(r#"{"name": "bolt", "quantity": 3}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""quantity":3"#), "{body}");
}

#[tokio::test]
async fn a_panicking_handler_gets_a_json_500_and_the_service_stays_up() {
    let app = service(&ServerSettings::default());
    let (status, headers, body) = send(&app, get_request("/panics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains(r#""code":"internal""#), "{body}");
    assert!(!body.contains("lost its way"), "{body}");
    assert_eq!(
        headers["x-request-id"].len(),
        36,
        "the 500 of a panic carries the request id too"
    );
    let (status, _, _) = send(&app, get_request("/items/3")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let server = ServerSettings {
        max_body_bytes: 16,
        ..ServerSettings::default()
    };
    let app = service(&server);
    let request = Request::post("/items")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "1000")
        .body(Body::from("x".repeat(1000)))
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_a_408() {
    let server = ServerSettings {
        request_timeout_ms: 50,
        ..ServerSettings::default()
    };
    let (status, _, body) = send(&service(&server), get_request("/slow")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
}

#[tokio::test]
async fn a_request_timeout_of_zero_sets_no_deadline() {
    let server = ServerSettings {
        request_timeout_ms: 0,
        ..ServerSettings::default()
    };
    let (status, _, body) = send(&service(&server), get_request("/slow")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_retry_after() {
    let server = ServerSettings {
        max_concurrent_requests: 1,
        ..ServerSettings::default()
    };
    let app = service(&server);
    let busy = tokio::spawn({
        let app = app.clone();
        async move { send(&app, get_request("/slow")).await.0 }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, headers, _) = send(&app, get_request("/items/4")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(busy.await.unwrap(), StatusCode::OK);
    let (status, _, _) = send(&app, get_request("/items/4")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "admitted again once the first finished"
    );
}

#[tokio::test]
async fn a_request_its_client_gave_up_on_frees_its_slot() {
    let server = ServerSettings {
        max_concurrent_requests: 1,
        ..ServerSettings::default()
    };
    let app = service(&server);
    for _ in 0..3 {
        // Dropped while the handler sleeps, as when the client disconnects.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(50), send(&app, get_request("/slow"))).await;
        assert!(gave_up.is_err());
    }
    let (status, _, _) = send(&app, get_request("/items/4")).await;
    assert_eq!(status, StatusCode::OK, "a slot was never given back");
}

#[tokio::test]
async fn requests_are_counted_per_route_pattern() {
    let app = service(&ServerSettings::default());
    for id in [10, 11, 12] {
        send(&app, get_request(&format!("/items/{id}"))).await;
    }
    let (status, headers, body) = send(&app, get_request("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let line = body
        .lines()
        .find(|line| {
            line.starts_with("http_requests_total")
                && line.contains(r#"method="GET""#)
                && line.contains(r#"route="/items/{id}""#)
                && line.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no per-route counter in:\n{body}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(!body.contains("/items/10"), "ids are not labels");
}

#[tokio::test]
async fn ready_checks_every_dependency_within_its_timeout() {
    let server = ServerSettings::default();
    let healthy = Probes::new(metrics(), Duration::from_millis(200))
        .check("database", || Box::pin(async { Ok(()) }));
    let (status, _, body) = send(&router(&server, healthy), get_request("/ready")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let failing = Probes::new(metrics(), Duration::from_millis(200))
        .check("database", || Box::pin(async { Ok(()) }))
        .check("cache", || {
            Box::pin(async { Err(Error::unavailable("down")) })
        })
        .check("queue", || {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
        });
    let app = router(&server, failing);
    let started = std::time::Instant::now();
    let (status, _, body) = send(&app, get_request("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["checks"]["database"]["status"], "ok");
    assert_eq!(ready["checks"]["cache"]["code"], "unavailable");
    assert_eq!(ready["checks"]["queue"]["code"], "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "checks run at once, each bounded"
    );

    let (status, _, _) = send(&app, get_request("/health")).await;
    assert_eq!(status, StatusCode::OK, "liveness does not depend on them");
}

/// A message published while handling a request carries the request's trace.
#[cfg(feature = "mq")]
#[tokio::test]
async fn an_incoming_traceparent_reaches_the_messages_a_handler_publishes() {
    use core_mq::{Message, MqSettings};

    let queue = core_mq::connect(&MqSettings::default()).await.unwrap();
    let published: Arc<std::sync::Mutex<Vec<Message>>> = Arc::default();
    let api = Router::new().route(
        "/orders",
        post({
            let queue = Arc::clone(&queue);
            move || {
                let queue = Arc::clone(&queue);
                async move {
                    queue.publish(Message::new("orders", "placed")).await?;
                    ApiResult::Ok("placed".to_string())
                }
            }
        }),
    );
    let consumer = queue
        .consume(
            "orders",
            "audit",
            core_mq::handler_fn({
                let published = Arc::clone(&published);
                move |delivery| {
                    let published = Arc::clone(&published);
                    async move {
                        published.lock().unwrap().push(delivery.message);
                        Ok(core_mq::Outcome::Ack)
                    }
                }
            }),
            core_mq::ConsumeOptions::default(),
        )
        .await
        .unwrap();
    let app = core_web::app(
        api,
        Probes::new(metrics(), Duration::from_millis(200)),
        &ServerSettings::default(),
    )
    .unwrap();
    let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let request = Request::post("/orders")
        .header("traceparent", incoming)
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while published.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    consumer.shutdown(Duration::from_secs(5)).await.unwrap();
    let messages = published.lock().unwrap();
    let traceparent = &messages[0].headers[core_mq::layers::TRACEPARENT_HEADER];
    assert!(
        traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "the message continues the request's trace: {traceparent}"
    );
}

#[tokio::test]
async fn a_method_of_the_clients_own_is_counted_as_other() {
    let app = service(&ServerSettings::default());
    let brew = Request::builder()
        .method("BREWCOFFEE")
        .uri("/items/7")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&app, brew).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (_, _, body) = send(&app, get_request("/metrics")).await;
    assert!(
        body.lines()
            .any(|line| line.starts_with("http_requests_total")
                && line.contains(r#"method="other""#)
                && line.contains(r#"route="/items/{id}""#)),
        "no method=\"other\" series in:\n{body}"
    );
    assert!(
        !body.contains("BREWCOFFEE"),
        "a client's method makes no series of its own"
    );
}

#[tokio::test]
async fn cors_answers_the_allowed_origins_only_and_nothing_when_none_are_set() {
    let with_origin = |method: &str, path: &str, origin: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let mut server = ServerSettings::default();
    server.cors.allowed_origins = vec!["https://app.example".into()];
    let app = service(&server);
    let (status, headers, _) = send(
        &app,
        with_origin("OPTIONS", "/items/1", "https://app.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a preflight from an allowed origin");
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert!(headers.contains_key("x-request-id"), "{headers:?}");
    let varies_by_origin = |headers: &axum::http::HeaderMap| {
        headers
            .get_all(header::VARY)
            .iter()
            .any(|vary| vary.to_str().unwrap().contains("origin"))
    };
    assert!(varies_by_origin(&headers), "{headers:?}");
    let (_, headers, _) = send(&app, with_origin("GET", "/items/1", "https://evil.example")).await;
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(
        varies_by_origin(&headers),
        "a cache must not serve this answer to another origin: {headers:?}"
    );
    let (_, headers, _) = send(&app, get_request("/items/1")).await;
    assert!(varies_by_origin(&headers), "{headers:?}");
    assert!(
        !headers.contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS),
        "no Origin, not a browser's cross-origin call: {headers:?}"
    );
    let (_, headers, _) = send(&app, with_origin("GET", "/items/1", "https://app.example")).await;
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert_eq!(
        headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
        "x-request-id"
    );

    server.cors.allowed_origins = vec!["*".into()];
    let app = service(&server);
    let (_, headers, _) = send(&app, get_request("/items/1")).await;
    assert!(
        !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{headers:?}"
    );
    assert!(varies_by_origin(&headers), "{headers:?}");
    let (_, headers, _) = send(&app, with_origin("GET", "/items/1", "https://any.example")).await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let app = service(&ServerSettings::default());
    let (status, headers, _) =
        send(&app, with_origin("GET", "/items/1", "https://app.example")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert!(
        !headers.contains_key(header::VARY),
        "no CORS, no CORS headers: {headers:?}"
    );
}

/// The access-log lines written for one `GET /items/7` (request id
/// `req-access-1`) under core-log's subscriber at `level`.
fn access_log_lines(level: &str) -> Vec<serde_json::Value> {
    let directory = std::env::temp_dir().join(core_testkit::unique_name("access_log"));
    let settings = core_log::LogSettings {
        level: level.into(),
        stdout: false,
        file: Some(core_log::FileSettings {
            directory: directory.clone(),
            file_name: "service.log".into(),
            rotation: core_log::Rotation::Never,
            ..core_log::FileSettings::default()
        }),
        ..core_log::LogSettings::default()
    };
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    let app = service(&ServerSettings::default());
    {
        let _default = tracing::dispatcher::set_default(&dispatch);
        let request = Request::get("/items/7")
            .header("x-request-id", "req-access-1")
            .body(Body::empty())
            .unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(send(&app, request));
    }
    drop(guard);
    let text = std::fs::read_to_string(directory.join("service.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&directory);
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| line["message"] == "request finished")
        .collect()
}

#[test]
fn one_access_log_line_per_request_with_its_route_status_and_request_id() {
    let lines = access_log_lines("info");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["fields"]["method"], "GET", "{line}");
    assert_eq!(line["fields"]["route"], "/items/{id}", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
    assert_eq!(line["context"]["request_id"], "req-access-1", "{line}");
    assert_eq!(
        line["context"]["user_id"], "user-7",
        "bound by the handler: {line}"
    );

    assert!(access_log_lines("warn").is_empty(), "filtered out at warn");
}
