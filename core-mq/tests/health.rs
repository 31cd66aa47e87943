//! `MessageQueueBase::health`: every backend answers it on its real server,
//! an unreachable broker fails it, and it leaves nothing behind (a readiness
//! probe that published a message added one to RabbitMQ's unrouted queue
//! on every call).

use std::time::Duration;

use core_mq::{MqSettings, connect};
use core_testkit::{Service, require_service, unique_name};

const TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(feature = "memory")]
#[tokio::test]
async fn memory_is_always_healthy() {
    let mq = connect(&MqSettings::from_url("memory://")).await.unwrap();
    mq.health(TIMEOUT).await.unwrap();
}

#[cfg(feature = "redis-streams")]
#[tokio::test]
async fn redis_answers_a_ping() {
    let url = require_service!(Service::Redis);
    let mq = connect(&MqSettings::from_url(url)).await.unwrap();
    mq.health(TIMEOUT).await.unwrap();
}

#[cfg(feature = "nats")]
#[tokio::test]
async fn nats_answers_a_ping() {
    let url = require_service!(Service::Nats);
    let mq = connect(&MqSettings::from_url(url)).await.unwrap();
    mq.health(TIMEOUT).await.unwrap();
}

#[cfg(feature = "kafka")]
#[tokio::test]
async fn kafka_answers_a_metadata_request_and_an_absent_broker_does_not() {
    let brokers = require_service!(Service::Kafka);
    let mq = connect(&MqSettings::from_url(format!("kafka://{brokers}")))
        .await
        .unwrap();
    mq.health(TIMEOUT).await.unwrap();

    // Clients connect lazily: only the health check finds the broker absent.
    let absent = connect(&MqSettings::from_url("kafka://127.0.0.1:1"))
        .await
        .unwrap();
    assert!(absent.health(Duration::from_secs(1)).await.is_err());
}

#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn rabbitmq_health_checks_leave_nothing_in_the_unrouted_queue() {
    use lapin::options::QueueDeclareOptions;

    let url = require_service!(Service::RabbitMq);
    let mut settings = MqSettings::from_url(url.clone());
    // An exchange of this test's own, so its unrouted queue is too.
    settings.rabbitmq.exchange = unique_name("health");
    let mq = connect(&settings).await.unwrap();
    for _ in 0..20 {
        mq.health(TIMEOUT).await.unwrap();
    }

    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let unrouted = channel
        .queue_declare(
            format!("{}/unrouted", settings.rabbitmq.exchange)
                .as_str()
                .into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(unrouted.message_count(), 0);
    let _ = channel
        .queue_delete(
            format!("{}/unrouted", settings.rabbitmq.exchange)
                .as_str()
                .into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await;
}
