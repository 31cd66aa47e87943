//! The `MessageQueueBase` behaviour suite, run against every backend on its real broker.
//!
//! Each case in [`cases`] is written once against the trait; `mq_suite!`
//! instantiates all of them for one backend. `cargo test -p core-mq
//! --all-features --test conformance rabbitmq::` runs the RabbitMQ ones.

mod cases;
mod outside_backend;

use std::sync::Arc;
use std::time::Duration;

use core_mq::{MessageQueueBase, MqSettings, connect};
#[allow(unused_imports)]
use core_testkit::{Service, require_service, unique_name};

/// What a case gets: a connected queue, the settings that made it (to
/// connect more clients, as other processes would), and a topic of its own.
pub(crate) struct Target {
    pub(crate) queue: Arc<dyn MessageQueueBase>,
    pub(crate) settings: MqSettings,
    pub(crate) topic: String,
    /// How long to wait for deliveries: Kafka group joins take seconds.
    pub(crate) patience: Duration,
}

impl Target {
    async fn new(settings: MqSettings, patience: Duration) -> Option<Target> {
        let queue = connect(&settings)
            .await
            .expect("connect the queue under test");
        Some(Target {
            queue,
            settings,
            topic: unique_name("mq"),
            patience,
        })
    }

    /// A consumer group of this case's own (Kafka group ids are global:
    /// sharing one across cases would make every join rebalance them all).
    pub(crate) fn group(&self, name: &str) -> String {
        format!("{}_{name}", self.topic)
    }

    /// Another client of the same broker, as another process would hold.
    /// For the in-memory backend (one process by nature) it is the same queue.
    pub(crate) async fn another_client(&self) -> Arc<dyn MessageQueueBase> {
        if !self.queue.capabilities().shared {
            return Arc::clone(&self.queue);
        }
        connect(&self.settings)
            .await
            .expect("connect another client")
    }
}

macro_rules! mq_suite {
    ($backend:ident, $setup:path) => {
        core_testkit::conformance_suite! {
            suite: crate::cases,
            backend: $backend,
            setup: $setup,
            cases: [
                a_message_round_trips_with_every_field,
                typed_json_payloads_round_trip,
                order_is_kept_per_key,
                a_group_shares_the_work_and_each_group_gets_everything,
                retry_then_success,
                a_temporary_error_is_retried,
                max_attempts_lead_to_the_dead_letter_topic_with_the_reason,
                a_dead_letter_answer_or_a_permanent_error_goes_straight_to_the_dead_letter_topic,
                a_panicking_handler_is_retried_and_the_consumer_survives,
                graceful_shutdown_loses_nothing,
                a_killed_consumer_leaves_nothing_unhandled,
                messages_left_unhandled_at_shutdown_still_get_their_attempt,
                start_positions_decide_what_a_new_group_sees,
                a_batch_is_published_in_order,
                an_oversized_message_gives_a_clear_error,
                invalid_names_are_rejected_with_the_culprit,
            ],
        }
    };
}

/// The backend of `outside_backend.rs`, built from core-mq's public API
/// alone, under the standard layers as `connect` puts them.
async fn outside() -> Option<Target> {
    let settings = MqSettings::default();
    let backend: Arc<dyn MessageQueueBase> = Arc::new(outside_backend::LogBroker::default());
    Some(Target {
        queue: core_mq::layers::stack(backend, &settings.layers),
        settings,
        topic: unique_name("mq"),
        patience: Duration::from_secs(10),
    })
}

#[cfg(feature = "memory")]
async fn memory() -> Option<Target> {
    Target::new(MqSettings::from_url("memory://"), Duration::from_secs(10)).await
}

#[cfg(feature = "redis-streams")]
async fn redis_streams() -> Option<Target> {
    let url = require_service!(Service::Redis, None);
    Target::new(MqSettings::from_url(url), Duration::from_secs(20)).await
}

/// Redis Streams over TLS, verified against the project CA, as the ACL user `app`.
#[cfg(feature = "redis-streams")]
async fn redis_streams_tls() -> Option<Target> {
    let url = require_service!(Service::RedisTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    let url = url.replacen("rediss://", "rediss://app:core-sdk-redis-pw@", 1);
    let url = format!("{url}/0?sslrootcert={}", ca.display());
    Target::new(MqSettings::from_url(url), Duration::from_secs(20)).await
}

#[cfg(feature = "rabbitmq")]
async fn rabbitmq() -> Option<Target> {
    let url = require_service!(Service::RabbitMq, None);
    let mut settings = MqSettings::from_url(url);
    // Test queues go away ten minutes after their consumers.
    settings.rabbitmq.queue_expires_ms = Some(600_000);
    Target::new(settings, Duration::from_secs(20)).await
}

/// RabbitMQ behind the TLS terminator of `scripts/services.sh`, verified
/// against the project CA.
#[cfg(feature = "rabbitmq")]
async fn rabbitmq_tls() -> Option<Target> {
    let url = require_service!(Service::RabbitMqTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    let mut settings = MqSettings::from_url(format!("{url}?sslrootcert={}", ca.display()));
    settings.rabbitmq.queue_expires_ms = Some(600_000);
    Target::new(settings, Duration::from_secs(20)).await
}

#[cfg(feature = "kafka")]
async fn kafka() -> Option<Target> {
    let brokers = require_service!(Service::Kafka, None);
    Target::new(
        MqSettings::from_url(format!("kafka://{brokers}")),
        Duration::from_secs(60),
    )
    .await
}

/// Kafka over TLS (`security.protocol=ssl`, the project CA), through the
/// terminator of `scripts/services.sh` (the broker has no TLS of its own).
#[cfg(feature = "kafka")]
async fn kafka_tls() -> Option<Target> {
    let brokers = require_service!(Service::KafkaTls, None);
    let mut settings = MqSettings::from_url(format!("kafka://{brokers}"));
    settings.kafka.security.protocol = core_mq::KafkaProtocol::Ssl;
    settings.kafka.security.ca_file = Some(Service::tls_dir().join("ca.pem"));
    Target::new(settings, Duration::from_secs(60)).await
}

/// Kafka with SASL SCRAM-SHA-512 (user `app`), the broker's own.
#[cfg(feature = "kafka")]
async fn kafka_sasl() -> Option<Target> {
    let brokers = require_service!(Service::KafkaSasl, None);
    let mut settings = MqSettings::from_url(format!("kafka://{brokers}"));
    settings.kafka.security.protocol = core_mq::KafkaProtocol::SaslPlaintext;
    settings.kafka.security.sasl_mechanism = Some(core_mq::SaslMechanism::ScramSha512);
    settings.kafka.security.sasl_username = Some("app".into());
    settings.kafka.security.sasl_password = Some("core-sdk-kafka-pw".into());
    Target::new(settings, Duration::from_secs(60)).await
}

/// NATS JetStream; test streams live in their own stream, `core-mq-test`.
#[cfg(feature = "nats")]
async fn nats() -> Option<Target> {
    let url = require_service!(Service::Nats, None);
    let mut settings = MqSettings::from_url(url);
    settings.nats.stream = "core-mq-test".into();
    settings.nats.subject_prefix = "core-mq-test".into();
    settings.nats.max_messages = 100_000;
    Target::new(settings, Duration::from_secs(20)).await
}

/// NATS JetStream over TLS, verified against the project CA, with the
/// project's client certificate (the server requires one).
#[cfg(feature = "nats")]
async fn nats_tls() -> Option<Target> {
    let url = require_service!(Service::NatsTls, None);
    let dir = Service::tls_dir();
    let mut settings = MqSettings::from_url(format!(
        "{url}?sslrootcert={}&sslcert={}&sslkey={}",
        dir.join("ca.pem").display(),
        dir.join("client.pem").display(),
        dir.join("client.key").display(),
    ));
    settings.nats.stream = "core-mq-test".into();
    settings.nats.subject_prefix = "core-mq-test".into();
    settings.nats.max_messages = 100_000;
    Target::new(settings, Duration::from_secs(20)).await
}

#[cfg(feature = "memory")]
mq_suite!(memory, crate::memory);
mq_suite!(outside, crate::outside);
#[cfg(feature = "redis-streams")]
mq_suite!(redis_streams, crate::redis_streams);
#[cfg(feature = "redis-streams")]
mq_suite!(redis_streams_tls, crate::redis_streams_tls);
#[cfg(feature = "rabbitmq")]
mq_suite!(rabbitmq, crate::rabbitmq);
#[cfg(feature = "rabbitmq")]
mq_suite!(rabbitmq_tls, crate::rabbitmq_tls);
#[cfg(feature = "kafka")]
mq_suite!(kafka, crate::kafka);
#[cfg(feature = "kafka")]
mq_suite!(kafka_tls, crate::kafka_tls);
#[cfg(feature = "kafka")]
mq_suite!(kafka_sasl, crate::kafka_sasl);
#[cfg(feature = "nats")]
mq_suite!(nats, crate::nats);
#[cfg(feature = "nats")]
mq_suite!(nats_tls, crate::nats_tls);
