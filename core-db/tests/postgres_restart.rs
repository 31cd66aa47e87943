//! PostgreSQL shut down and started again under a live pool: calls fail
//! fast with a temporary `Unavailable`, nothing panics, and the same
//! `SqlDatabase` recovers without being recreated.
//!
//! This stops the shared PostgreSQL server, so it lives in a test binary
//! of its own (cargo runs test binaries one at a time) and keeps the outage
//! to a few seconds.

#[path = "support/restart.rs"]
mod restart;
#[path = "support/sql_restart.rs"]
mod sql_restart;

use core_testkit::{Service, require_service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_postgres_gives_unavailable_then_the_same_pool_recovers() {
    let url = require_service!(Service::Postgres);
    sql_restart::outage_then_recovery(Service::Postgres, "postgres", url).await;
}
