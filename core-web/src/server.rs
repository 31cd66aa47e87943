//! Starting a service (settings, logs, metrics), assembling its router with
//! the shared layers, and serving it until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

use core_config::AppEnv;
use core_error::{Error, Result};
use core_log::{LogGuard, Metrics};
use tower::ServiceBuilder;

use crate::error::{no_route, wrong_method};
use crate::probes::Probes;
use crate::rate_limit::RateLimiter;
use crate::settings::{ServerSettings, ServiceSettings, load};
use crate::standard::StandardLayer;

/// A service whose settings are loaded and whose logs and metrics are on.
pub struct Started<S> {
    /// The service's settings.
    pub settings: S,
    /// The environment they were loaded for.
    pub env: AppEnv,
    /// The Prometheus recorder, for `/metrics`.
    pub metrics: Metrics,
    /// Flushes the logs when dropped: keep it until the end of `main`.
    pub log_guard: LogGuard,
}

/// Loads `service`'s settings (see [`load`]), installs logging and the
/// metrics recorder.
pub fn start<S: ServiceSettings>(service: &'static str) -> Result<Started<S>> {
    let (settings, env) = load::<S>(service)?;
    let log_guard = core_log::init(settings.log())?;
    let metrics = Metrics::install()?;
    tracing::info!(service, env = %env, "starting");
    Ok(Started {
        settings,
        env,
        metrics,
        log_guard,
    })
}

/// `api` with `/health`, `/ready` and `/metrics`, behind the standard
/// layers, outermost first: request id (kept from `x-request-id` or a new
/// UUID, echoed back), per-request log context (request id, incoming W3C
/// trace id) with one access-log line and the `http_requests_total` /
/// `http_request_duration_seconds` metrics per route pattern, a handler
/// panic answered as a JSON 500 (the service stays up), load shedding past
/// `max_concurrent_requests` (503 with `Retry-After`), the body limit (413)
/// and the request timeout (408), then CORS (for requests with an `Origin`
/// header: the others are not a browser's cross-origin calls; every answer
/// carries its `Vary`); with `server.rate_limit` set, a
/// per-client limit on `api`'s routes (429; [`RateLimiter`] for one shared
/// between instances).
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming
/// `server.cors.allowed_origins` for an origin that is not a header value.
pub fn app(api: Router, probes: Probes, server: &ServerSettings) -> Result<Router> {
    if !server.standard_layers {
        tracing::warn!(
            "server.standard_layers is false: no request ids, access log, HTTP metrics or limits"
        );
        return Ok(api
            .merge(probes.router())
            .fallback(no_route)
            .method_not_allowed_fallback(wrong_method));
    }
    let cors = crate::cors::layer(&server.cors)?;
    let layers = ServiceBuilder::new()
        .layer(StandardLayer::new(server, cors.is_some()))
        .option_layer(cors)
        .layer(axum::extract::DefaultBodyLimit::max(server.max_body_bytes));
    // The limit covers the service's own routes, never the probes.
    let api = match RateLimiter::from_settings(&server.rate_limit)? {
        Some(limiter) => limiter.apply(api),
        None => api,
    };
    Ok(api
        .merge(probes.router())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(layers))
}

/// Serves `app` on the configured address until SIGTERM or Ctrl-C, then
/// drains: `/ready` answers 503 for `server.drain_delay_ms` while new
/// requests are still served (so a load balancer stops sending them), then
/// the listener closes and in-flight requests get `server.shutdown_timeout_ms`
/// to finish.
///
/// Prints `listening on http://<addr>` on stdout once bound, with the real
/// port when the address asked for port 0.
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a bind address
/// that is not one; [`Unavailable`](core_error::ErrorKind::Unavailable)
/// when it cannot be bound or the server fails.
pub async fn serve(app: Router, server: &ServerSettings) -> Result<()> {
    // Listen for signals before announcing the address, so a SIGTERM sent
    // right after it is never the default "terminate now".
    let stop = stop_signal()?;
    let addr = server.bind_addr()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        Error::unavailable(format!("cannot listen on {addr}: {err}")).with_operation("server.bind")
    })?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    tracing::info!(addr = %local, "listening");
    serve_on(listener, app, server, stop).await
}

/// [`serve`] on a listener already bound, until `stop` resolves: for tests,
/// and for services with a stop signal of their own.
///
/// # Errors
///
/// [`Unavailable`](core_error::ErrorKind::Unavailable) when the server fails.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    server: &ServerSettings,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let drain_delay = Duration::from_millis(server.drain_delay_ms);
    tokio::spawn(async move {
        stop.await;
        crate::probes::start_draining();
        tracing::info!(?drain_delay, "draining: /ready answers 503");
        tokio::time::sleep(drain_delay).await;
        let _ = stopping.send(true);
    });
    let mut graceful_rx = stopped.clone();
    let graceful = async move {
        let _ = graceful_rx.wait_for(|stop| *stop).await;
        tracing::info!("shutting down: finishing in-flight requests");
    };
    let server_future = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(graceful);
    let grace = Duration::from_millis(server.shutdown_timeout_ms);
    let deadline = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server_future => served.map_err(|err| {
            Error::unavailable(format!("the server failed: {err}")).with_operation("server.serve")
        })?,
        () = deadline => tracing::warn!(?grace, "requests still running after the grace period were cut off"),
    }
    Ok(())
}

/// Resolves on the first SIGTERM or Ctrl-C.
fn stop_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|err| Error::internal(format!("cannot listen for SIGTERM: {err}")))?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = terminate.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
            _ = terminated => tracing::info!("SIGTERM received"),
        }
    })
}
