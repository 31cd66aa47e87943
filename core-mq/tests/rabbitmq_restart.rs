//! RabbitMQ restarted in the middle of a 10 000-message run: nothing is
//! lost and every message takes effect exactly once (see
//! `support/broker_restart.rs`).
//!
//! This stops the shared RabbitMQ server, so it lives in a test binary of
//! its own (cargo runs test binaries one at a time) and starts the server
//! again even when it fails.
#![cfg(all(feature = "rabbitmq", feature = "idempotency"))]

#[path = "support/broker_restart.rs"]
mod broker_restart;

use core_mq::MqSettings;
use core_testkit::{Service, require_service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing_and_duplicates_take_effect_once() {
    let url = require_service!(Service::RabbitMq);
    let redis_url = require_service!(Service::Redis);
    if Service::RabbitMq.first_address(&url) != "127.0.0.1:5672" {
        eprintln!("SKIPPED: AMQP_URL points at a server this test cannot restart");
        return;
    }
    let mut settings = MqSettings::from_url(url);
    settings.rabbitmq.queue_expires_ms = Some(600_000);
    broker_restart::ten_thousand_messages_through_a_restart(settings, "rabbitmq", redis_url).await;
}
