//! Per-request observation: the request id bound to every log line, one
//! access log line, and Prometheus request metrics per route and status.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use core_log::LogContext;
use crossbeam_utils::CachePadded;
use futures::FutureExt as _;
#[cfg(feature = "mq")]
use futures::future::Either;
use metrics::{Counter, Histogram, Label, SharedString};
use thread_local::ThreadLocal;

/// The header carrying the request id, set when the client sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Requests handled, by `method`, `route` (the matched pattern, such as
/// `/api/v1/users/{id}`, or `unmatched`) and `status`.
pub const REQUESTS_METRIC: &str = "http_requests_total";
/// Seconds from request to response head, with the same labels.
pub const DURATION_METRIC: &str = "http_request_duration_seconds";

/// The W3C trace-context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// [`TRACEPARENT_HEADER`] as a header name, made once (a `&str` key is
/// parsed again on every lookup).
const TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT_HEADER);

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

/// The request metrics' handles, by route pattern, method and status.
///
/// Looking a series up in the recorder builds its key (name and three
/// labels) and hashes it on every request; a handle kept here is found by
/// the route's text alone and then only incremented. Each thread keeps its
/// own table: a shared one's lock was written by every request on every
/// thread (a lock is written to be read) and passed between the cores.
#[derive(Debug, Default)]
pub(crate) struct RequestMetrics {
    /// Padded: the tables of two threads side by side would share the
    /// line that each borrow writes.
    by_route: ThreadLocal<CachePadded<RefCell<ByRoute>>>,
}

/// The series of each route pattern.
type ByRoute = HashMap<Box<str>, Vec<Series>>;

#[derive(Debug)]
struct Series {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl RequestMetrics {
    /// Counts one request of `method` to `route` answered with `status`
    /// after `elapsed`.
    fn record(&self, method: &'static str, route: &str, status: StatusCode, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let code = status.as_u16();
        let known = |series: &&Series| series.method == method && series.status == code;
        let mut by_route = self.by_route.get_or_default().borrow_mut();
        if let Some(series) = by_route.get(route).and_then(|all| all.iter().find(known)) {
            series.requests.increment(1);
            series.duration.record(seconds);
            return;
        }
        let labels = [
            Label::new("method", SharedString::const_str(method)),
            Label::new("route", SharedString::from_owned(route.to_owned())),
            Label::new("status", status_label(status)),
        ];
        let series = Series {
            method,
            status: code,
            requests: metrics::counter!(REQUESTS_METRIC, labels.iter()),
            duration: metrics::histogram!(DURATION_METRIC, labels.iter()),
        };
        series.requests.increment(1);
        series.duration.record(seconds);
        by_route.entry(route.into()).or_default().push(series);
    }
}

/// One request's observation: started before the request runs, finished
/// [`around`](Observation::around) its answer.
pub(crate) struct Observation {
    started: Instant,
    method: &'static str,
    /// The pattern, not the path: ids in paths would make one series per user.
    route: Option<MatchedPath>,
    context: LogContext,
    /// A valid incoming W3C `traceparent`.
    traceparent: Option<String>,
}

impl Observation {
    /// Starts observing `request`, known by `request_id`.
    pub(crate) fn start(request: &Request, request_id: &HeaderValue) -> Observation {
        let traceparent = request
            .headers()
            .get(&TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .filter(|value| trace_id(value).is_some())
            .map(str::to_owned);
        let mut context = LogContext::new().request_id(request_id.to_str().unwrap_or("-"));
        if let Some(trace) = traceparent.as_deref().and_then(trace_id) {
            context = context.trace_id(trace);
        }
        Observation {
            started: Instant::now(),
            method: method_label(request.method()),
            route: request.extensions().get::<MatchedPath>().cloned(),
            context,
            traceparent,
        }
    }

    /// Waits for `answer` inside a [`LogContext`] holding the request's
    /// `request_id` (and the `trace_id` of its `traceparent`), then counts
    /// the request in `metrics` and writes its access-log line, in the same
    /// context (with the `user_id` the handler bound). With the `mq`
    /// feature, the `traceparent` also goes into the messages the handler
    /// publishes.
    ///
    /// Built from combinators, not `async` blocks: each of those would hold
    /// the future it is given twice (as its capture and as what it awaits),
    /// and this future goes on the heap once per request.
    pub(crate) fn around<M, F>(self, metrics: M, answer: F) -> impl Future<Output = Response>
    where
        M: AsRef<RequestMetrics>,
        F: Future<Output = Response>,
    {
        let Observation {
            started,
            method,
            route,
            context,
            traceparent,
        } = self;
        #[cfg(feature = "mq")]
        let answer = match traceparent {
            Some(traceparent) => {
                Either::Left(core_mq::layers::with_traceparent(traceparent, answer))
            }
            None => Either::Right(answer),
        };
        #[cfg(not(feature = "mq"))]
        drop(traceparent);
        context.scope(answer.map(move |response| {
            let elapsed = started.elapsed();
            let status = response.status();
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            metrics.as_ref().record(method, route, status, elapsed);
            tracing::info!(
                method,
                route,
                status = status.as_u16(),
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request finished"
            );
            response
        }))
    }
}

/// The `method` label: a standard method's name, else `other` (the method
/// is the client's choice: its own names would each make new series).
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    STANDARD
        .iter()
        .find(|(standard, _)| standard == method)
        .map_or("other", |(_, name)| name)
}

/// The `status` label: the codes services answer most without an
/// allocation.
fn status_label(status: StatusCode) -> SharedString {
    const COMMON: [&str; 21] = [
        "200", "201", "202", "204", "301", "302", "304", "400", "401", "403", "404", "405", "408",
        "409", "413", "422", "429", "500", "502", "503", "504",
    ];
    let code = status.as_str();
    COMMON.iter().find(|common| **common == code).map_or_else(
        || SharedString::from_owned(code.to_owned()),
        |common| SharedString::const_str(common),
    )
}

/// Binds `user_id` to the current request's log context, once the caller
/// is known: the handler's later log lines and the request's access-log
/// line carry it.
pub fn bind_user(subject: &str) {
    core_log::bind_user_id(subject);
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
