//! The Kafka-protocol broker process (nisshi on its libSQL storage
//! engine, `scripts/services.sh start kafka-durable`) restarted in the
//! middle of a 10 000-message run: nothing is lost and every message takes
//! effect exactly once (see `support/broker_restart.rs`).
#![cfg(all(feature = "kafka", feature = "idempotency"))]

#[path = "support/broker_restart.rs"]
mod broker_restart;

use core_mq::MqSettings;
use core_testkit::{Service, require_service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_broker_restart_mid_run_loses_nothing_and_duplicates_take_effect_once() {
    let brokers = require_service!(Service::KafkaDurable);
    let dedup_url = require_service!(Service::Redis);
    if Service::KafkaDurable.first_address(&brokers) != "127.0.0.1:9094" {
        eprintln!("SKIPPED: KAFKA_DURABLE_BROKERS points at a broker this test cannot restart");
        return;
    }
    broker_restart::ten_thousand_messages_through_a_restart(
        MqSettings::from_url(format!("kafka://{brokers}")),
        "kafka-durable",
        dedup_url,
    )
    .await;
}
