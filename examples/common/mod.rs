//! The plumbing every example service shares; each includes it with
//! `#[path = "../common/mod.rs"] mod common;`.
//!
//! ```ignore
//! let started = common::start::<Settings>("user_service")?;      // config, logs, metrics
//! let probes = common::Probes::new(started.metrics.clone(), ready_timeout)
//!     .database(db).cache(cache).queue(queue);
//! let app = common::app(api_router, probes, &settings.server)?;  // shared layers
//! common::serve(app, &settings.server).await?;                   // until SIGTERM / Ctrl-C
//! ```
//!
//! - [`settings`]: the `server` section (bind address, `BIND_ADDR`, CORS,
//!   timeouts) and loading `configs/<service>/` through core-config.
//! - [`server`]: start-up, the shared layers (request id, CORS, request
//!   log context and metrics, timeout), serving with graceful shutdown.
//! - [`observe`]: the per-request middleware behind the log context and the
//!   `http_requests_total` / `http_request_duration_seconds` metrics.
//! - [`probes`]: `/health`, `/ready` (database, cache, queue, each within a
//!   timeout) and `/metrics`.
//! - [`error`]: JSON error bodies with the shared codes, and [`ApiJson`].
//! - [`database`]: connecting to and migrating the SQL database.
//! - [`revocations`]: the cache namespace for revoked tokens, shared by the
//!   services that accept the user service's tokens.

// Each example uses the part of this module it needs.
#![allow(dead_code, unused_imports)]

pub(crate) mod database;
pub(crate) mod error;
pub(crate) mod observe;
pub(crate) mod probes;
pub(crate) mod revocations;
pub(crate) mod server;
pub(crate) mod settings;

pub(crate) use error::{ApiError, ApiJson, ApiResult};
pub(crate) use observe::bind_user;
pub(crate) use probes::Probes;
pub(crate) use revocations::RevocationSettings;
pub(crate) use server::{Started, app, serve, start};
pub(crate) use settings::{ServerSettings, ServiceSettings};
