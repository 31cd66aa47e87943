//! Redis Streams on a Redis with its append-only file synced on every write
//! (`scripts/services.sh start redis-durable`), restarted in the middle of
//! a 10 000-message run: stream entries and the group's pending lists
//! survive, nothing is lost and every message takes effect exactly once
//! (see `support/broker_restart.rs`).
//!
//! The machine's main Redis keeps nothing on disk, so `redis_restart.rs`
//! can only show recovery there; this is the durability half.
#![cfg(all(feature = "redis-streams", feature = "idempotency"))]

#[path = "support/broker_restart.rs"]
mod broker_restart;

use core_mq::MqSettings;
use core_testkit::{Service, require_service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_redis_restart_mid_run_loses_nothing_and_duplicates_take_effect_once() {
    let url = require_service!(Service::RedisDurable);
    let dedup_url = require_service!(Service::Redis);
    if Service::RedisDurable.first_address(&url) != "127.0.0.1:6380" {
        eprintln!("SKIPPED: REDIS_DURABLE_URL points at a server this test cannot restart");
        return;
    }
    broker_restart::ten_thousand_messages_through_a_restart(
        MqSettings::from_url(url),
        "redis-durable",
        dedup_url,
    )
    .await;
}
