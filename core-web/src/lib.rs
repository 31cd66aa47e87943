//! The service runtime: what every core-* service does between `main` and
//! its own routes, so a new service writes only those.
//!
//! - [`start`] loads the service's settings through core-config (the
//!   [`server`](ServerSettings) and `log` sections plus its own), starts
//!   core-log and the Prometheus recorder.
//! - [`app`] puts the service's router behind the standard layers (request
//!   id, W3C trace context into the log context, access log and HTTP
//!   metrics per route, CORS, load shedding, body limit, request timeout, a
//!   panicking handler answered as a JSON 500) and adds [`Probes`]:
//!   `/health`, `/ready` (each dependency within a timeout) and `/metrics`.
//! - [`serve`] listens until SIGTERM or Ctrl-C, then lets in-flight requests
//!   finish within `server.shutdown_timeout_ms`.
//! - [`ApiError`] turns a `core_error::Error` into the SDK's JSON error body
//!   with the status of its kind (5xx details are logged, never sent);
//!   [`ApiJson`] rejects a bad body in the same shape, naming the field.
//! - [`testing`] drives the app in a service's own tests, in-process, with
//!   JSON helpers and tokens minted on the test's key ring.
//!
//! ```no_run
//! use axum::routing::get;
//! use core_web::{ApiResult, Probes, ServerSettings, ServiceSettings};
//!
//! #[derive(serde::Deserialize)]
//! struct Settings {
//!     #[serde(default)]
//!     log: core_log::LogSettings,
//!     #[serde(default)]
//!     server: ServerSettings,
//! }
//!
//! impl ServiceSettings for Settings {
//!     const USES_JWT: bool = false;
//!     fn log(&self) -> &core_log::LogSettings { &self.log }
//!     fn server(&self) -> &ServerSettings { &self.server }
//! }
//!
//! async fn hello() -> ApiResult<&'static str> {
//!     Ok("hello")
//! }
//!
//! #[tokio::main]
//! async fn main() -> core_error::Result<()> {
//!     let started = core_web::start::<Settings>("hello")?; // configs/hello/
//!     let server = &started.settings.server;
//!     let probes = Probes::new(started.metrics.clone(), server.ready_timeout());
//!     let app = core_web::app(axum::Router::new().route("/hello", get(hello)), probes, server)?;
//!     core_web::serve(app, server).await
//! }
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cors;
mod error;
mod observe;
mod probes;
mod rate_limit;
mod request_id;
mod server;
mod settings;
mod standard;
pub mod testing;

pub use error::{ApiError, ApiJson, ApiResult, FIELD, STATUS, no_route, wrong_method};
pub use observe::{
    DURATION_METRIC, REQUEST_ID_HEADER, REQUESTS_METRIC, TRACEPARENT_HEADER, bind_user,
};
pub use probes::Probes;
pub use rate_limit::{ClientKey, KeyBy, RateLimitSettings, RateLimiter};
pub use request_id::RandomRequestId;
pub use server::{Started, app, serve, serve_on, start};
pub use settings::{
    BIND_ADDR_VAR, CONFIG_DIR_VAR, CorsSettings, ServerSettings, ServiceSettings, load,
};

/// axum, re-exported so a service uses the version core-web is built on.
pub use axum;
