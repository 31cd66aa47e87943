//! 401/403 (and 503) answers with a JSON body.

use axum::Json;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use core_error::{Error, ErrorKind};

/// An authentication or authorization failure, answered as
/// `{"error": {"code": "unauthenticated", "message": "..."}}` with the
/// status of its [`ErrorKind`] (401, 403, or 503 when the cache is down).
///
/// The message is the error's own; it never holds the credential.
#[derive(Debug)]
pub struct AuthRejection(pub Error);

impl From<Error> for AuthRejection {
    fn from(error: Error) -> AuthRejection {
        AuthRejection(error)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let error = self.0;
        let status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error": {"code": error.code(), "message": error.message()}
        });
        let mut response = (status, Json(body)).into_response();
        if error.kind() == ErrorKind::Unauthenticated {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
