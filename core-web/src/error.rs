//! Errors as JSON bodies with the shared codes, and a JSON extractor whose
//! rejections use them too.
//!
//! Every error answers `{"error": {"code": "...", "message": "..."}}` with
//! the status of its `core_error` kind (core-auth's `AuthRejection` renders
//! it, `WWW-Authenticate` included). Two refinements:
//!
//! - an `invalid_input` error naming a `field` answers 422 and adds
//!   `"field"` to the body: the request was well-formed JSON, one value was
//!   not acceptable. Malformed JSON stays 400.
//! - a 5xx hides its message (logged instead), which may name tables or hosts.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use core_auth::axum::AuthRejection;
use core_error::{Error, ErrorKind};
use serde::de::DeserializeOwned;

/// The context entry naming the request field an `invalid_input` is about.
pub const FIELD: &str = "field";
/// The context entry holding an HTTP status that overrides the kind's: 413
/// for a body over the limit, 408 for a request over its deadline.
pub const STATUS: &str = "http_status";

/// A handler's error; any `core_error::Error` converts into it with `?`.
///
/// ```
/// use axum::response::IntoResponse as _;
/// use core_web::ApiError;
///
/// let response = ApiError::from(core_error::Error::not_found("no such order")).into_response();
/// assert_eq!(response.status(), 404);
/// ```
#[derive(Debug)]
pub struct ApiError(pub Error);

/// What handlers return.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    /// 422: the value of `field` is not acceptable, for `reason`.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> ApiError {
        let reason = reason.into();
        ApiError(
            Error::invalid_input(format!("{field}: {reason}"))
                .with_context(FIELD, field)
                .with_operation("request.validate"),
        )
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        // A lock-out (429) or a full hashing queue (503) says when to retry.
        let retry_after = error
            .context_value("retry_after_secs")
            .and_then(|seconds| HeaderValue::from_str(seconds).ok());
        let status = error
            .context_value(STATUS)
            .and_then(|status| status.parse::<u16>().ok())
            .and_then(|status| StatusCode::from_u16(status).ok());
        let mut response = if let Some(status) = status {
            let body = serde_json::json!({
                "error": {"code": error.code(), "message": error.message()}
            });
            (status, axum::Json(body)).into_response()
        } else if error.http_status() >= 500 {
            tracing::error!(error = %error, code = error.code(), "request failed");
            let hidden = Error::new(error.kind(), "the service could not handle the request");
            AuthRejection(hidden).into_response()
        } else if error.kind() == ErrorKind::InvalidInput
            && let Some(field) = error.context_value(FIELD)
        {
            let body = serde_json::json!({
                "error": {"code": error.code(), "message": error.message(), "field": field}
            });
            (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
        } else {
            AuthRejection(error).into_response()
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

/// `axum::Json`, rejecting with [`ApiError`]s: 400 for a body that is not
/// JSON (or not sent as JSON), 422 naming the field for a value of the
/// wrong type.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let malformed =
        |message: String| ApiError(Error::invalid_input(message).with_operation("request.parse"));
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // serde_path_to_error's text: "<path>: <problem>", the path `.`
            // at the top level (where a missing field is reported).
            let text = err.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d);
            let (path, problem) = detail.split_once(": ").unwrap_or((".", detail));
            let field = match problem.split_once("missing field `") {
                Some((_, rest)) => rest.split('`').next().unwrap_or(path),
                None => path,
            };
            ApiError::invalid_field(field, problem.to_string())
        }
        JsonRejection::JsonSyntaxError(_) => malformed("the body is not valid JSON".to_string()),
        JsonRejection::MissingJsonContentType(_) => {
            malformed("the body must be sent as Content-Type: application/json".to_string())
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError(
            Error::invalid_input("the body is larger than this service accepts")
                .with_operation("request.parse")
                .with_context(STATUS, StatusCode::PAYLOAD_TOO_LARGE.as_u16()),
        ),
        other => malformed(other.body_text()),
    }
}

/// The JSON 404 of a path no route matches (axum's own is an empty body).
pub async fn no_route() -> ApiError {
    ApiError(Error::not_found("no such route").with_operation("request.route"))
}

/// The JSON 405 of a route that exists for other methods.
pub async fn wrong_method() -> ApiError {
    ApiError(
        Error::invalid_input("this route does not take this method")
            .with_operation("request.route")
            .with_context(STATUS, StatusCode::METHOD_NOT_ALLOWED.as_u16()),
    )
}
