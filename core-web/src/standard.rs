//! The standard layers as one tower layer: request id, observation, the
//! answer to a panic, and the limits, around each request in one boxed
//! future.
//!
//! One layer rather than one per concern (tower-http's request-id and
//! catch-panic layers, a timeout layer, ...): each of those costs a future
//! and a poll per request. Nor axum's `from_fn`, which on every request
//! clones the services below it (the CORS layer's settings among them) and
//! boxes them for its `Next`: here the service that was made ready takes
//! the request, as tower's contract has it.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use core_error::Error;
use futures::FutureExt as _;
use futures::future::{Either, ready};
use tower::{Layer, Service};

use crate::cors::CORS_VARY;
use crate::error::{ApiError, STATUS};
use crate::observe::{Observation, RequestMetrics};
use crate::request_id::REQUEST_ID;
use crate::settings::ServerSettings;

/// The standard layers of [`app`](crate::app), as one tower layer.
#[derive(Debug, Clone)]
pub(crate) struct StandardLayer {
    shared: Arc<Shared>,
}

/// What every request's pass through the layer reads.
#[derive(Debug)]
struct Shared {
    metrics: RequestMetrics,
    limits: Limits,
    /// The `Vary` of CORS, when it is on: made once here, where the CORS
    /// layer would build it from its parts on every response.
    vary: Option<HeaderValue>,
}

impl StandardLayer {
    /// The layer for `server`'s limits; `cors` says whether CORS is on.
    pub(crate) fn new(server: &ServerSettings, cors: bool) -> StandardLayer {
        StandardLayer {
            shared: Arc::new(Shared {
                metrics: RequestMetrics::default(),
                limits: Limits {
                    max_in_flight: server.max_concurrent_requests,
                    in_flight: AtomicUsize::new(0),
                    max_body_bytes: server.max_body_bytes,
                    timeout: (server.request_timeout_ms > 0)
                        .then(|| Duration::from_millis(server.request_timeout_ms)),
                },
                vary: cors.then(|| HeaderValue::from_static(CORS_VARY)),
            }),
        }
    }
}

impl<S> Layer<S> for StandardLayer {
    type Service = Standard<S>;

    fn layer(&self, inner: S) -> Standard<S> {
        Standard {
            shared: Arc::clone(&self.shared),
            inner,
        }
    }
}

/// `S` behind the standard layers: see [`app`](crate::app).
#[derive(Debug, Clone)]
pub(crate) struct Standard<S> {
    shared: Arc<Shared>,
    inner: S,
}

impl<S> Service<Request> for Standard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// Keeps or makes the request id (echoed on the answer), observes the
    /// request (log context, metrics, access log; see [`Observation`]),
    /// holds it to the limits (see [`Pass::admit`]) and answers a panic with a
    /// JSON 500 — so the answers of the limits and to panics are observed
    /// and carry the request id too.
    fn call(&mut self, mut request: Request) -> Self::Future {
        let request_id = crate::request_id::ensure(&mut request);
        let observation = Observation::start(&request, &request_id);
        let mut pass = Pass {
            shared: Arc::clone(&self.shared),
            running: false,
        };
        // Composed from combinators rather than `async` blocks, which would
        // each hold the future inside them twice: the whole goes on the heap
        // once per request, and under glibc's thread-cache limit (1 032
        // bytes) that allocation takes no lock.
        let answer = match pass.admit(&request) {
            Err(refusal) => Either::Left(ready(ApiError(refusal).into_response())),
            // A panic while the service makes its future is a handler's
            // panic too. Boxed where it is made: moved into the futures
            // around it, its state (the whole request) would be copied at
            // every level.
            Ok(()) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Box::pin(self.inner.call(request))
            })) {
                Err(panic) => Either::Left(ready(panicked(panic))),
                Ok(future) => Either::Right(
                    std::panic::AssertUnwindSafe(match self.shared.limits.timeout {
                        Some(timeout) => Either::Left(tokio::time::timeout(timeout, future)),
                        None => Either::Right(future.map(Ok::<_, tokio::time::error::Elapsed>)),
                    })
                    .catch_unwind()
                    .map(|finished| match finished {
                        Ok(Ok(Ok(response))) => response,
                        Ok(Ok(Err(infallible))) => match infallible {},
                        Ok(Err(_elapsed)) => timed_out(),
                        Err(panic) => panicked(panic),
                    }),
                ),
            },
        };
        let vary = self.shared.vary.clone();
        Box::pin(observation.around(pass, answer).map(move |mut response| {
            let headers = response.headers_mut();
            // A handler that answers with an id of its own (an upstream's)
            // keeps it, as tower-http's propagation layer did.
            headers.entry(REQUEST_ID).or_insert(request_id);
            if let Some(vary) = vary {
                headers.append(header::VARY, vary);
            }
            Ok(response)
        }))
    }
}

/// The limits every request is held to.
#[derive(Debug)]
struct Limits {
    /// At most this many requests at once; 0: no limit.
    max_in_flight: usize,
    /// Requests running now (only counted under a limit).
    in_flight: AtomicUsize,
    max_body_bytes: usize,
    /// How long a request may run: past it, 408. `None`: no limit.
    timeout: Option<Duration>,
}

/// One request's pass through the layer: the layer's state, and whether
/// the request counts in [`Limits::in_flight`], until the pass ends.
struct Pass {
    shared: Arc<Shared>,
    running: bool,
}

impl Pass {
    /// Before the request runs, in order: refuses a body whose
    /// Content-Length is over the limit before reading it (413; a body
    /// without one is cut at the limit by the extractors,
    /// `DefaultBodyLimit`, with the same answer); sheds load when
    /// `max_concurrent_requests` are already running (503 with
    /// `Retry-After: 1` at once, instead of queueing until every request
    /// times out). Gives the refusal for the JSON error body.
    fn admit(&mut self, request: &Request) -> core_error::Result<()> {
        let limits = &self.shared.limits;
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if announced.is_some_and(|length| length > limits.max_body_bytes as u64) {
            return Err(
                Error::invalid_input("the body is larger than this service accepts")
                    .with_operation("request.parse")
                    .with_context(STATUS, StatusCode::PAYLOAD_TOO_LARGE.as_u16()),
            );
        }
        if limits.max_in_flight == 0 {
            return Ok(());
        }
        // A counter, not a semaphore: nothing ever waits for a slot, and
        // tokio's semaphore takes a lock on every release.
        if limits.in_flight.fetch_add(1, Ordering::Relaxed) >= limits.max_in_flight {
            limits.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(
                Error::unavailable("the service is at its limit of concurrent requests")
                    .with_operation("request.admit")
                    .with_context("retry_after_secs", 1),
            );
        }
        self.running = true;
        Ok(())
    }
}

/// The pass goes with the observation, which counts the request in the
/// layer's metrics, and ends with it.
impl AsRef<RequestMetrics> for Pass {
    fn as_ref(&self) -> &RequestMetrics {
        &self.shared.metrics
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if self.running {
            self.shared.limits.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The 408 of a request that ran past `request_timeout_ms`.
fn timed_out() -> Response {
    ApiError(
        Error::timeout("the request took longer than the service allows")
            .with_operation("request.deadline")
            .with_context(STATUS, StatusCode::REQUEST_TIMEOUT.as_u16()),
    )
    .into_response()
}

/// The JSON 500 of a handler that panicked; what it panicked with is
/// logged, never sent.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    ApiError(
        Error::internal(format!("the handler panicked: {text}")).with_operation("request.handle"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use tower::{Layer as _, Service as _};

    use core_testkit::THREAD_CACHE_LIMIT;

    use super::StandardLayer;
    use crate::settings::ServerSettings;

    #[tokio::test]
    async fn a_requests_pass_through_the_layers_fits_the_allocators_thread_cache() {
        let handler = tower::service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let mut service = StandardLayer::new(&ServerSettings::default(), true).layer(handler);
        let future = service.call(Request::new(Body::empty()));
        let bytes = std::mem::size_of_val(&*future);
        assert!(
            bytes <= THREAD_CACHE_LIMIT,
            "the standard layers' future takes {bytes} bytes, over the allocator's thread cache"
        );
    }
}
