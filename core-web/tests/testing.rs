//! `core_web::testing` as a downstream service's tests use it: the whole app
//! in-process, JSON in and out, a token minted on the test's key ring.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use core_auth::axum::{AuthState, Authenticated};
use core_auth::jwt::{JwtSettings, KeyRing};
use core_auth::rbac::{Rbac, RbacSettings};
use core_auth::tokens::{TokenService, TokenSettings};
use core_cache::CacheSettings;
use core_log::Metrics;
use core_web::testing::{TestApp, access_token};
use core_web::{ApiJson, ApiResult, Probes, ServerSettings};

#[derive(serde::Deserialize, serde::Serialize)]
struct Note {
    text: String,
}

async fn whoami(Authenticated(caller): Authenticated) -> ApiResult<String> {
    Ok(format!("{} {:?}", caller.subject, caller.roles))
}

async fn echo(ApiJson(note): ApiJson<Note>) -> ApiResult<ApiJson<Note>> {
    Ok(ApiJson(note))
}

async fn service() -> (TestApp, Arc<KeyRing>) {
    let jwt = JwtSettings {
        secret: Some("a-key-for-tests-only-32-bytes-long!".to_string().into()),
        ..JwtSettings::default()
    };
    let keys = Arc::new(KeyRing::from_settings(&jwt).unwrap());
    let cache = core_cache::connect(&CacheSettings::default())
        .await
        .unwrap();
    let tokens = TokenService::new(Arc::clone(&keys), cache, &TokenSettings::default()).unwrap();
    let auth = AuthState::new(
        tokens,
        Rbac::from_settings(&RbacSettings::default()).unwrap(),
    );
    let api = Router::new()
        .route("/whoami", get(whoami))
        .route("/notes", post(echo))
        .with_state(auth);
    let server = ServerSettings::default();
    let (_recorder, metrics) = Metrics::local();
    let probes = Probes::new(metrics, server.ready_timeout());
    let app = core_web::app(api, probes, &server).unwrap();
    (TestApp::new(app), keys)
}

#[tokio::test]
async fn a_minted_token_is_accepted_and_none_is_refused() {
    let (app, keys) = service().await;
    let token = access_token(&keys, "user-1", &["writer"]).unwrap();

    let response = app.with_token(&token).get("/whoami").await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.text(), r#"user-1 ["writer"]"#);
    // Through the standard layers: a request id was made and echoed.
    assert!(response.header("x-request-id").is_some());

    let anonymous = app.get("/whoami").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = anonymous.json();
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn json_goes_in_and_comes_out_and_a_bad_field_is_named() {
    let (app, _) = service().await;
    let response = app.post_json("/notes", &Note { text: "hi".into() }).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json::<Note>().text, "hi");

    let response = app
        .post_json("/notes", &serde_json::json!({ "text": 42 }))
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = response.json();
    assert_eq!(body["error"]["field"], "text");
}

#[tokio::test]
async fn a_request_built_by_the_test_keeps_its_own_authorization() {
    let (app, keys) = service().await;
    let mine = access_token(&keys, "user-2", &[]).unwrap();
    let app = app.with_token(access_token(&keys, "user-1", &[]).unwrap());
    let request = Request::get("/whoami")
        .header(header::AUTHORIZATION, format!("Bearer {mine}"))
        .body(Body::empty())
        .unwrap();
    let response = app.request_with(request).await;
    assert_eq!(response.text(), "user-2 []");
    // The probes are there too.
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
}
