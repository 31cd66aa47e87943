//! NATS (JetStream, file storage) restarted in the middle of a 10 000-message
//! run: nothing is lost and every message takes effect exactly once (see
//! `support/broker_restart.rs`).
//!
//! This stops the shared NATS server, so it lives in a test binary of its
//! own (cargo runs test binaries one at a time) and starts the server again
//! even when it fails.
#![cfg(all(feature = "nats", feature = "idempotency"))]

#[path = "support/broker_restart.rs"]
mod broker_restart;

use core_mq::MqSettings;
use core_testkit::{Service, require_service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing_and_duplicates_take_effect_once() {
    let url = require_service!(Service::Nats);
    let redis_url = require_service!(Service::Redis);
    if Service::Nats.first_address(&url) != "127.0.0.1:4222" {
        eprintln!("SKIPPED: NATS_URL points at a server this test cannot restart");
        return;
    }
    let mut settings = MqSettings::from_url(url);
    settings.nats.stream = "core-mq-restart".into();
    settings.nats.subject_prefix = "core-mq-restart".into();
    broker_restart::ten_thousand_messages_through_a_restart(settings, "nats", redis_url).await;
}
