//! The test harness every `core-*` backend test uses.
//!
//! Backends are tested against their real servers, never against mocks. This
//! crate makes that practical:
//!
//! - [`Service`] says where each server is: an environment variable, or the
//!   loopback address `scripts/services.sh` starts it on.
//! - [`require_service!`] ends a test early with a printed reason when its
//!   server is down — or fails it when `CORE_REQUIRE_SERVICES=1`, as in CI.
//! - [`unique_name`] gives each test its own keys, topics, queues or schemas,
//!   so tests run in parallel and re-run against a dirty server.
//! - [`conformance_suite!`] instantiates a trait's behaviour suite, written
//!   once, for one backend.
//!
//! ```no_run
//! use core_testkit::{Service, require_service, unique_name};
//!
//! #[tokio::test]
//! async fn postgres_answers() {
//!     let url = require_service!(Service::Postgres);
//!     let table = unique_name("smoke");
//!     // connect to `url`, create `table`, round-trip a row ...
//! }
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod allocator;
mod captured;
mod control;
mod recorder;
mod require;
mod service;
mod suite;
mod unique;

pub use allocator::THREAD_CACHE_LIMIT;
pub use captured::Captured;
pub use control::{pause_redis, services_script};
pub use recorder::Recorded;
pub use require::{REQUIRE_SERVICES_VAR, require, require_at, services_required};
pub use service::Service;
pub use unique::unique_name;
