//! Driving a service's app in its own tests: requests go through the
//! router, the standard layers and the probes in-process (no port, no
//! server), with JSON in and out, and tokens minted on the test's key ring.
//!
//! ```
//! use axum::Router;
//! use axum::routing::post;
//! use core_web::testing::TestApp;
//! use core_web::{ApiJson, ApiResult, Probes, ServerSettings};
//!
//! #[derive(serde::Deserialize)]
//! struct Note {
//!     text: String,
//! }
//!
//! async fn shout(ApiJson(note): ApiJson<Note>) -> ApiResult<String> {
//!     Ok(note.text.to_uppercase())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> core_error::Result<()> {
//! let server = ServerSettings::default();
//! let (_recorder, metrics) = core_log::Metrics::local();
//! let probes = Probes::new(metrics, server.ready_timeout());
//! let app = core_web::app(Router::new().route("/shout", post(shout)), probes, &server)?;
//! let app = TestApp::new(app);
//!
//! let response = app.post_json("/shout", &serde_json::json!({ "text": "hi" })).await;
//! assert_eq!(response.status, 200);
//! assert_eq!(response.text(), "HI");
//!
//! // A body without the field: the SDK's error shape, naming it.
//! let response = app.post_json("/shout", &serde_json::json!({})).await;
//! assert_eq!(response.status, 422);
//! let error: serde_json::Value = response.json();
//! assert_eq!(error["error"]["field"], "text");
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use core_auth::jwt::{KeyRing, TokenType};
use core_error::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

/// A service's app driven in-process, optionally as a caller with a token.
#[derive(Clone)]
pub struct TestApp {
    app: Router,
    token: Option<String>,
}

/// What the app answered, its body read whole.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl TestApp {
    /// Drives `app` (usually what [`app`](crate::app) returned). Each request
    /// comes from 127.0.0.1, as far as the app can tell.
    pub fn new(app: Router) -> TestApp {
        TestApp { app, token: None }
    }

    /// The same app, every request now carrying `Authorization: Bearer
    /// {token}` (see [`access_token`] to mint one).
    #[must_use]
    pub fn with_token(&self, token: impl Into<String>) -> TestApp {
        TestApp {
            app: self.app.clone(),
            token: Some(token.into()),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path).body(Body::empty()))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::DELETE, path).body(Body::empty()))
            .await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> TestResponse {
        self.send_json(Method::POST, path, body).await
    }

    /// `PUT path` with `body` as JSON.
    pub async fn put_json(&self, path: &str, body: &impl Serialize) -> TestResponse {
        self.send_json(Method::PUT, path, body).await
    }

    /// `PATCH path` with `body` as JSON.
    pub async fn patch_json(&self, path: &str, body: &impl Serialize) -> TestResponse {
        self.send_json(Method::PATCH, path, body).await
    }

    /// Any request, built by the test. The token is added when the request
    /// has no `Authorization` of its own, and a client address (127.0.0.1,
    /// as `serve` would give, for handlers and the rate limiter that read
    /// `ConnectInfo`) when it has none.
    ///
    /// # Panics
    ///
    /// When the token is not a header value, or the response body cannot
    /// be read.
    pub async fn request_with(&self, mut request: Request<Body>) -> TestResponse {
        if let Some(token) = &self.token
            && !request.headers().contains_key(header::AUTHORIZATION)
        {
            let value = format!("Bearer {token}")
                .parse()
                .unwrap_or_else(|err| panic!("the test's token is not a header value: {err}"));
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
        }
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_else(|err| panic!("the app's response body could not be read: {err}"));
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn send_json(&self, method: Method, path: &str, body: &impl Serialize) -> TestResponse {
        let json = serde_json::to_vec(body)
            .unwrap_or_else(|err| panic!("the test's body is not JSON: {err}"));
        let request = self
            .request(method, path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json));
        self.send(request).await
    }

    /// The request line; the token and client address are added by
    /// [`request_with`](TestApp::request_with).
    fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        Request::builder().method(method).uri(path)
    }

    async fn send(&self, request: axum::http::Result<Request<Body>>) -> TestResponse {
        let request =
            request.unwrap_or_else(|err| panic!("the test built an invalid request: {err}"));
        self.request_with(request).await
    }
}

impl TestResponse {
    /// The body read as JSON into `T`.
    ///
    /// # Panics
    ///
    /// When it is not, with the status and the body in the message.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "the {} response's body is not the JSON expected ({err}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// An access token for `subject` with `roles`, valid for 15 minutes, signed
/// with `keys`' signing key (its issuer and audience included): what a test
/// (or an operator's smoke test, on that environment's key ring) presents to
/// a service that trusts `keys`. Unlike the pair
/// [`TokenService::issue`](core_auth::tokens::TokenService::issue) gives, it
/// has no refresh token, no token family (a family's logout does not reach
/// it; its expiry, a subject's revocation and the key ring's do) and no
/// scopes.
///
/// ```
/// use core_auth::jwt::{JwtSettings, KeyRing};
///
/// let mut settings = JwtSettings::default();
/// settings.secret = Some("a-key-for-tests-only-32-bytes-long!".to_string().into());
/// let keys = KeyRing::from_settings(&settings)?;
/// let token = core_web::testing::access_token(&keys, "user-1", &["writer"])?;
/// let claims = keys.verify(&token)?;
/// assert_eq!(claims.sub, "user-1");
/// assert_eq!(claims.roles, ["writer"]);
/// # Ok::<(), core_error::Error>(())
/// ```
///
/// # Errors
///
/// As [`KeyRing::sign`]: a ring that can only verify has no signing key.
pub fn access_token(keys: &KeyRing, subject: &str, roles: &[&str]) -> Result<String> {
    let claims = keys
        .claims(subject, TokenType::Access, Duration::from_secs(15 * 60))
        .with_roles(roles.iter().copied());
    keys.sign(&claims)
}
