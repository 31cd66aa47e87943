//! Per-request observation: the request id bound to every log line, one
//! access log line, and Prometheus request metrics per route and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use core_log::LogContext;

/// The header carrying the request id, set when the client sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Requests handled, by `method`, `route` (the matched pattern, such as
/// `/api/v1/users/{id}`, or `unmatched`) and `status`.
pub const REQUESTS_METRIC: &str = "http_requests_total";
/// Seconds from request to response head, with the same labels.
pub const DURATION_METRIC: &str = "http_request_duration_seconds";

/// The W3C trace-context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The trace id of a valid W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    valid.then_some(trace)
}

/// Middleware (`axum::middleware::from_fn(observe)`) running each request
/// inside a [`LogContext`] holding its `request_id` (and the `trace_id` of
/// an incoming W3C `traceparent`), then counting it. With the `mq` feature,
/// that `traceparent` also goes into the messages the handler publishes.
pub async fn observe(request: Request, next: Next) -> Response {
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
    let traceparent = request
        .headers()
        .get(TRACEPARENT_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| trace_id(value).is_some())
        .map(str::to_owned);
    let mut context = LogContext::new().request_id(request_id);
    if let Some(trace) = traceparent.as_deref().and_then(trace_id) {
        context = context.trace_id(trace);
    }
    let span = context.span();
    let handled = {
        use tracing::Instrument as _;
        next.run(request).instrument(span.clone())
    };
    #[cfg(feature = "mq")]
    let response = match traceparent {
        Some(traceparent) => core_mq::layers::with_traceparent(traceparent, handled).await,
        None => handled.await,
    };
    #[cfg(not(feature = "mq"))]
    let response = handled.await;
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
pub fn bind_user(subject: &str) {
    tracing::Span::current().record("user_id", subject);
}

#[cfg(test)]
mod tests {
    use super::trace_id;

    #[test]
    fn only_valid_traceparents_give_a_trace_id() {
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(trace_id(valid), Some("0af7651916cd43dd8448eb211c80319c"));
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
            None
        );
        assert_eq!(trace_id("00-xyz-b7ad6b7169203331-01"), None);
        assert_eq!(trace_id(""), None);
    }
}
