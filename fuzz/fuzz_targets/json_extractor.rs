//! The services' JSON extractor (`examples/common/error.rs`, the shape
//! every example answers in) on arbitrary bodies: a value, or a 4xx in the
//! JSON error shape naming the field; never a panic or a 5xx.
#![no_main]

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/common/error.rs"]
mod error;

use axum::body::Body;
use axum::extract::FromRequest as _;
use axum::response::IntoResponse as _;
use libfuzzer_sys::fuzz_target;

/// The shape of a registration, with the field types the services use.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Register {
    username: String,
    email: String,
    password: String,
    roles: Option<Vec<String>>,
    page: Option<u32>,
}

fuzz_target!(|data: &[u8]| {
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/auth/register")
        .header("content-type", "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let outcome = runtime.block_on(error::ApiJson::<Register>::from_request(request, &()));
    if let Err(rejection) = outcome {
        let response = rejection.into_response();
        let status = response.status();
        assert!(status.is_client_error(), "{status}");
        let body = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("the body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
});
