//! A JSON client of one example service over real HTTP.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A JSON client of the service at one base URL; cheap to clone.
#[derive(Clone)]
pub(crate) struct Api {
    /// The underlying client, for requests the helpers do not cover
    /// (a body that is not JSON, a custom header).
    pub(crate) http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of `base` (`http://127.0.0.1:<port>`), with a 30 s timeout
    /// so a hung service fails the test instead of stalling it.
    pub(crate) fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            base: base.to_string(),
        }
    }

    /// The URL of `path` (starting with `/`) on this service.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request, with a bearer token and a JSON body when given.
    pub(crate) async fn try_request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await
    }

    /// [`try_request`](Api::try_request), for a service that must answer.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        self.try_request(method, path, token, body)
            .await
            .expect("the service answers")
    }

    /// The status and the body: JSON, `null` when empty, else the text as a
    /// JSON string (so an assertion message shows it).
    pub(crate) async fn try_call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let response = self.try_request(method, path, token, body).await?;
        let status = response.status();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body))
    }

    /// [`try_call`](Api::try_call), for a service that must answer.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.try_call(method, path, token, body)
            .await
            .expect("the service answers")
    }

    /// Registers a user at the user service; panics unless it answers 201.
    pub(crate) async fn register(&self, username: &str, email: &str, password: &str) -> Value {
        let body = json!({"username": username, "email": email, "password": password});
        let (status, user) = self
            .call(Method::POST, "/api/v1/auth/register", None, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {username}: {user}");
        user
    }

    /// Logs in at the user service; panics unless it answers 200. The token
    /// pair as JSON (`access_token`, `refresh_token`, …).
    pub(crate) async fn login(&self, username: &str, password: &str) -> Value {
        let body = json!({"username": username, "password": password});
        let (status, tokens) = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(&body))
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {tokens}");
        tokens
    }
}
