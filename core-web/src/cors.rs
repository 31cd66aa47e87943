//! CORS for browsers: tower-http's layer, asked only by the requests that
//! carry an `Origin` header.
//!
//! Browsers send `Origin` with every cross-origin request, so a request
//! without one is not a cross-origin call from a browser, and CORS headers
//! on its answer would be read by nobody (the rs/cors and Spring
//! middlewares skip such requests too). Skipping the layer for them spares
//! service-to-service calls the header map it builds and merges into every
//! response: about 3 k of the 101 k instructions of a cached, token-checked
//! read (docs/BENCHMARKS.md). Every answer still carries `Vary`, added by
//! the standard layer (`standard.rs`), so a cache never serves an answer made
//! without `Origin` to a request with one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use core_error::{Error, Result};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::observe::REQUEST_ID_HEADER;
use crate::settings::CorsSettings;

/// What a CORS response varies with (the CORS layer's default list): a
/// cache must not answer one origin with another's response.
pub(crate) const CORS_VARY: &str =
    "origin, access-control-request-method, access-control-request-headers";

/// The CORS layer for `settings`; none without allowed origins, so no CORS
/// headers at all (not even `Vary`): browsers keep other origins out.
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming
/// `server.cors.allowed_origins` for an origin that is not a header value.
pub(crate) fn layer(settings: &CorsSettings) -> Result<Option<BrowserCors>> {
    let origins = &settings.allowed_origins;
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|origin| origin.trim() == "*") {
        AllowOrigin::from(Any)
    } else {
        let parsed = origins
            .iter()
            .map(|origin| {
                HeaderValue::from_str(origin.trim()).map_err(|_| {
                    Error::invalid_input(format!("{origin:?} is not a valid origin"))
                        .with_key("server.cors.allowed_origins")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        AllowOrigin::list(parsed)
    };
    Ok(Some(BrowserCors(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER)])
            .max_age(Duration::from_secs(600))
            // The standard layer (`standard.rs`) adds `CORS_VARY` to every answer.
            .vary([] as [HeaderName; 0]),
    )))
}

/// tower-http's CORS layer, applied to requests with an `Origin` header.
#[derive(Debug, Clone)]
pub(crate) struct BrowserCors(CorsLayer);

impl<S> Layer<S> for BrowserCors {
    type Service = WithOrigin<S>;

    fn layer(&self, inner: S) -> WithOrigin<S> {
        WithOrigin {
            cors: Arc::new(self.0.clone()),
            inner,
        }
    }
}

/// `inner` behind CORS for requests with an `Origin` header, as is for the
/// others.
///
/// axum clones a route's service for every request, so this holds the
/// CORS settings shared and one `inner`: holding tower-http's `Cors<S>`
/// beside `inner` cost every request a copy of the settings and a second
/// copy of `inner` (a boxed route: an allocation). The `Cors<S>` is made
/// for the requests that take it.
#[derive(Debug, Clone)]
pub(crate) struct WithOrigin<S> {
    cors: Arc<CorsLayer>,
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WithOrigin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Answer<tower_http::cors::ResponseFuture<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if !request.headers().contains_key(header::ORIGIN) {
            return Answer::Plain {
                future: self.inner.call(request),
            };
        }
        // The service that was polled ready takes the request, as tower's
        // contract has it; a clone stays for the next one.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        Answer::Cors {
            future: self.cors.layer(inner).call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`WithOrigin`]: through CORS or not.
    #[project = AnswerProjection]
    pub(crate) enum Answer<C, P> {
        Cors { #[pin] future: C },
        Plain { #[pin] future: P },
    }
}

impl<C, P> Future for Answer<C, P>
where
    C: Future,
    P: Future<Output = C::Output>,
{
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        match self.project() {
            AnswerProjection::Cors { future } => future.poll(cx),
            AnswerProjection::Plain { future } => future.poll(cx),
        }
    }
}
