//! The axum integration, driven through a real router: 401 and 403 JSON
//! bodies with the shared codes, the permission layer, the extractor, and
//! API keys.

#![cfg(feature = "axum")]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use core_auth::api_key::{ApiKeys, CacheApiKeyStore};
use core_auth::axum::{AuthState, Authenticated};
use core_auth::rbac::{Rbac, RbacSettings};
use core_auth::tokens::{TokenService, TokenSettings};
use http_body_util::BodyExt as _;
use secrecy::ExposeSecret as _;
use tower::ServiceExt as _;

async fn me(Authenticated(principal): Authenticated) -> String {
    principal.subject
}

struct App {
    router: Router,
    tokens: TokenService,
    api_keys: ApiKeys,
}

async fn app() -> App {
    let cache = common::memory_cache().await;
    let tokens = common::service(cache.clone(), &TokenSettings::default());
    let rbac: RbacSettings = serde_json::from_str(
        r#"{"roles": {"viewer": {"permissions": ["orders:read"]}, "admin": {"permissions": ["*"]}}}"#,
    )
    .unwrap();
    let api_keys = ApiKeys::new("ck", Arc::new(CacheApiKeyStore::new(cache))).unwrap();
    let auth = AuthState::new(tokens.clone(), Rbac::from_settings(&rbac).unwrap())
        .with_api_keys(api_keys.clone());
    let router = Router::new()
        .route("/orders", get(me).layer(auth.require("orders:read")))
        .route(
            "/admin",
            get(|| async { "admin" }).layer(auth.require("admin:panel")),
        )
        .route("/me", get(me))
        .with_state(auth);
    App {
        router,
        tokens,
        api_keys,
    }
}

async fn call(
    router: &Router,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder().uri(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap(), challenge)
}

fn code(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON: {body}"));
    json["error"]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn missing_or_bad_credentials_get_401_json() {
    let app = app().await;
    let pair = app
        .tokens
        .issue("user-1", &["viewer".into()], &[])
        .await
        .unwrap();
    let tampered = format!("Bearer {}x", pair.access_token);
    for (path, authorization) in [
        ("/orders", None),
        ("/me", None),
        ("/orders", Some("Basic dXNlcjpwYXNz")),
        ("/orders", Some("Bearer")),
        ("/orders", Some(tampered.as_str())),
        ("/me", Some(tampered.as_str())),
    ] {
        let (status, body, challenge) = call(&app.router, path, authorization).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{path} {authorization:?}: {body}"
        );
        assert_eq!(code(&body), "unauthenticated");
        assert_eq!(challenge.as_deref(), Some("Bearer"));
        assert!(
            !body.contains(&pair.access_token[40..]),
            "the token is not echoed: {body}"
        );
    }
}

#[tokio::test]
async fn a_missing_permission_gets_403_json_and_a_held_one_passes() {
    let app = app().await;
    let viewer = app
        .tokens
        .issue("user-1", &["viewer".into()], &[])
        .await
        .unwrap();
    let bearer = format!("Bearer {}", viewer.access_token);
    let (status, body, _) = call(&app.router, "/orders", Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user-1"));
    let (status, body, challenge) = call(&app.router, "/admin", Some(&bearer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), "permission_denied");
    assert!(body.contains("admin:panel"), "{body}");
    assert_eq!(challenge, None);

    let admin = app
        .tokens
        .issue("root", &["admin".into()], &[])
        .await
        .unwrap();
    let (status, _, _) = call(
        &app.router,
        "/admin",
        Some(&format!("bearer {}", admin.access_token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the scheme is case-insensitive");
}

#[tokio::test]
async fn a_revoked_token_is_refused_by_the_extractor() {
    let app = app().await;
    let pair = app.tokens.issue("user-1", &[], &[]).await.unwrap();
    let bearer = format!("Bearer {}", pair.access_token);
    assert_eq!(
        call(&app.router, "/me", Some(&bearer)).await.0,
        StatusCode::OK
    );
    app.tokens.logout(&pair.refresh_token).await.unwrap();
    let (status, body, _) = call(&app.router, "/me", Some(&bearer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("revoked"), "{body}");
}

#[tokio::test]
async fn api_keys_authenticate_with_their_scopes() {
    let app = app().await;
    let reader = app
        .api_keys
        .generate("svc-report", &["orders:read".into()], None)
        .await
        .unwrap();
    let bearer = format!("Bearer {}", reader.key.expose_secret());
    let (status, body, _) = call(&app.router, "/orders", Some(&bearer)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "svc-report"));
    assert_eq!(
        call(&app.router, "/admin", Some(&bearer)).await.0,
        StatusCode::FORBIDDEN
    );
    app.api_keys.revoke(&reader.record.id).await.unwrap();
    assert_eq!(
        call(&app.router, "/orders", Some(&bearer)).await.0,
        StatusCode::UNAUTHORIZED
    );
}
