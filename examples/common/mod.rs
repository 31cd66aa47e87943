//! What the example services share beyond the SDK's service runtime
//! (`core_sdk::web`); each includes it with
//! `#[path = "../common/mod.rs"] mod common;`.
//!
//! ```ignore
//! let started = common::start::<Settings>("user_service")?;      // config, logs, metrics
//! let probes = common::Probes::new(started.metrics.clone(), ready_timeout)
//!     .database(db).cache(cache).queue(queue);
//! let app = common::app(api_router, probes, &settings.server)?;  // standard layers
//! common::serve(app, &settings.server).await?;                   // until SIGTERM / Ctrl-C
//! ```
//!
//! - [`database`]: connecting to and migrating the SQL database.
//! - [`revocations`]: the cache namespace for revoked tokens, shared by the
//!   services that accept the user service's tokens.
//! - the rest is `core_sdk::web`, re-exported under the names the examples
//!   use.

// Each example uses the part of this module it needs.
#![allow(dead_code, unused_imports)]

pub(crate) mod database;
pub(crate) mod revocations;

pub(crate) use core_sdk::web::{
    ApiError, ApiJson, ApiResult, Probes, ServerSettings, ServiceSettings, Started, app, bind_user,
    serve, start,
};
pub(crate) use revocations::RevocationSettings;
