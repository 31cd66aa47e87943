//! Rate limiting: at most `requests` per `window` for each client, counted
//! in this process or, shared between the service's instances, in any
//! `CacheBase` with atomic increments (Redis, Redis Cluster, Memcached).
//!
//! Fixed windows: a client's count lives in the key
//! `ratelimit:<client>:<window number>`, so every instance counting through
//! one cache agrees without coordination, and a window's key expires with
//! it. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (seconds); a request over the limit is answered 429
//! with `Retry-After`, in the SDK's JSON error shape (`rate_limited`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use core_error::{Error, Result};
use serde::Deserialize;

use crate::ApiError;

/// The `server.rate_limit` section: the in-process limit [`app`](crate::app)
/// puts on the service's own routes (never on the probes).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests each client may make per window; 0 turns the limit off
    /// (the default).
    pub requests: u64,
    /// The window, in seconds. Default 60.
    pub window_secs: u64,
    /// Who a client is: `client_address` (the default) or
    /// `header:<name>` (an API key header, say `header:x-api-key`).
    pub key_by: String,
}

impl Default for RateLimitSettings {
    fn default() -> RateLimitSettings {
        RateLimitSettings {
            requests: 0,
            window_secs: 60,
            key_by: "client_address".to_string(),
        }
    }
}

/// Names the client a request comes from, or `None`.
pub type ClientKey = Arc<dyn Fn(&Request) -> Option<String> + Send + Sync>;

/// Who a request counts against.
#[derive(Clone)]
pub enum KeyBy {
    /// The peer address of the connection.
    ClientAddress,
    /// A header's value (an API key); requests without it count against
    /// their client address.
    Header(HeaderName),
    /// Anything the request carries, such as the authenticated subject an
    /// earlier layer put in its extensions; `None` counts against the
    /// client address.
    Custom(ClientKey),
}

impl std::fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyBy::ClientAddress => f.write_str("ClientAddress"),
            KeyBy::Header(name) => write!(f, "Header({name})"),
            KeyBy::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// Where the counts live.
#[derive(Clone)]
enum Counts {
    /// This process: (window number, count) per client.
    Local(Arc<Mutex<HashMap<String, (u64, u64)>>>),
    /// A cache every instance shares.
    #[cfg(feature = "cache")]
    Shared(Arc<dyn core_cache::CacheBase>),
}

/// A rate limit to put on a router with [`RateLimiter::apply`].
///
/// ```
/// use std::time::Duration;
/// use core_web::{KeyBy, RateLimiter};
///
/// let api: axum::Router = axum::Router::new();
/// let limited = RateLimiter::in_process(100, Duration::from_secs(60))
///     .key_by(KeyBy::Header(axum::http::HeaderName::from_static("x-api-key")))
///     .apply(api);
/// # let _ = limited;
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    requests: u64,
    window: Duration,
    key_by: KeyBy,
    counts: Counts,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("requests", &self.requests)
            .field("window", &self.window)
            .field("key_by", &self.key_by)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `requests` per `window` for each client, counted in this process.
    pub fn in_process(requests: u64, window: Duration) -> RateLimiter {
        RateLimiter {
            requests,
            window: window.max(Duration::from_secs(1)),
            key_by: KeyBy::ClientAddress,
            counts: Counts::Local(Arc::default()),
        }
    }

    /// `requests` per `window` for each client, counted in `cache` (its
    /// `incr` is atomic on every backend), so the instances of a service
    /// share one limit.
    #[cfg(feature = "cache")]
    pub fn shared(
        cache: Arc<dyn core_cache::CacheBase>,
        requests: u64,
        window: Duration,
    ) -> RateLimiter {
        RateLimiter {
            counts: Counts::Shared(cache),
            ..RateLimiter::in_process(requests, window)
        }
    }

    /// The limit `settings` describe, in process; `None` when it is off.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming
    /// `server.rate_limit.key_by` for a value it does not know.
    pub fn from_settings(settings: &RateLimitSettings) -> Result<Option<RateLimiter>> {
        if settings.requests == 0 {
            return Ok(None);
        }
        let key_by = match settings.key_by.trim() {
            "client_address" => KeyBy::ClientAddress,
            other => match other.strip_prefix("header:").map(str::trim) {
                Some(name) if !name.is_empty() => KeyBy::Header(
                    HeaderName::try_from(name.to_ascii_lowercase()).map_err(|_| {
                        Error::invalid_input(format!("{name:?} is not a header name"))
                            .with_key("server.rate_limit.key_by")
                    })?,
                ),
                _ => {
                    return Err(
                        Error::invalid_input("expected client_address or header:<name>")
                            .with_key("server.rate_limit.key_by"),
                    );
                }
            },
        };
        Ok(Some(
            RateLimiter::in_process(settings.requests, Duration::from_secs(settings.window_secs))
                .key_by(key_by),
        ))
    }

    /// Counts requests against what `key_by` says.
    #[must_use]
    pub fn key_by(mut self, key_by: KeyBy) -> RateLimiter {
        self.key_by = key_by;
        self
    }

    /// `router` with this limit on every route it has.
    pub fn apply<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        router.layer(axum::middleware::from_fn_with_state(Arc::new(self), limit))
    }

    fn client(&self, request: &Request) -> String {
        let address = || {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_string(), |info| info.0.ip().to_string())
        };
        match &self.key_by {
            KeyBy::ClientAddress => address(),
            KeyBy::Header(name) => request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map_or_else(address, |value| format!("{name}={value}")),
            KeyBy::Custom(key) => key(request).unwrap_or_else(address),
        }
    }

    /// The count of `client` in the current window, this request included,
    /// and the seconds until the window ends.
    async fn count(&self, client: &str) -> Result<(u64, u64)> {
        let window = self.window.as_secs();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let number = now / window;
        let reset = window - now % window;
        let count = match &self.counts {
            Counts::Local(counts) => {
                let mut counts = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // Past windows are dropped whenever a new one starts.
                if counts.values().any(|(seen, _)| *seen < number) {
                    counts.retain(|_, (seen, _)| *seen == number);
                }
                let entry = counts.entry(client.to_string()).or_insert((number, 0));
                entry.1 += 1;
                entry.1
            }
            #[cfg(feature = "cache")]
            Counts::Shared(cache) => {
                let key = format!("ratelimit:{client}:{number}");
                let count = cache.incr(&key, 1).await?;
                if count == 1 {
                    cache.expire(&key, self.window).await?;
                }
                u64::try_from(count).unwrap_or(0)
            }
        };
        Ok((count, reset))
    }
}

async fn limit(State(limiter): State<Arc<RateLimiter>>, request: Request, next: Next) -> Response {
    let client = limiter.client(&request);
    let (count, reset) = match limiter.count(&client).await {
        Ok(counted) => counted,
        Err(err) => {
            // A limit that cannot count lets traffic through rather than
            // taking the service down with its cache.
            tracing::warn!(error = %err, "rate limit not counted; request let through");
            return next.run(request).await;
        }
    };
    let remaining = limiter.requests.saturating_sub(count);
    let mut response = if count > limiter.requests {
        ApiError(
            Error::rate_limited(
                format!(
                    "more than {} requests in {} s",
                    limiter.requests,
                    limiter.window.as_secs()
                ),
                reset,
            )
            .with_operation("request.admit"),
        )
        .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", limiter.requests),
        ("ratelimit-remaining", remaining),
        ("ratelimit-reset", reset),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    response
}
