//! Per-request observation: the request id bound to every log line, one
//! access log line, and Prometheus request metrics per route and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use core_sdk::log::LogContext;

/// The header carrying the request id, set when the client sent none.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";
/// Requests handled, by `method`, `route` (the matched pattern, such as
/// `/api/v1/users/{id}`, or `unmatched`) and `status`.
pub(crate) const REQUESTS_METRIC: &str = "http_requests_total";
/// Seconds from request to response head, with the same labels.
pub(crate) const DURATION_METRIC: &str = "http_request_duration_seconds";

/// Middleware (`axum::middleware::from_fn(observe)`) running each request
/// inside a [`LogContext`] holding its `request_id`, then counting it.
pub(crate) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    // The pattern, not the path: ids in paths would make one series per user.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let context = LogContext::new().request_id(request_id);
    let span = context.span();
    let response = {
        use tracing::Instrument as _;
        next.run(request).instrument(span.clone()).await
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics::counter!(REQUESTS_METRIC, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(DURATION_METRIC, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            method,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    response
}

/// Binds `user_id` to the current request's log context, once the caller
/// is known.
pub(crate) fn bind_user(subject: &str) {
    tracing::Span::current().record("user_id", subject);
}
