//! Each broker the backends need answers and round-trips a message.
//!
//! These prove the harness and `scripts/services.sh`; the `MessageQueueBase`
//! conformance suite exercises the backends themselves.

use std::time::Duration;

use core_testkit::{Service, require_service, unique_name};
use futures::StreamExt as _;

/// Long enough for a Kafka-protocol broker to create a topic and answer a
/// fetch on a loaded two-core machine.
const BROKER_DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn rabbitmq_round_trips_a_confirmed_message() {
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;

    let url = require_service!(Service::RabbitMq);
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.expect("open a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("enable confirms");
    let queue = unique_name("smoke");
    let declare = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.as_str().into(), declare, FieldTable::default())
        .await
        .expect("declare queue");

    let confirmation = channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            "héllo".as_bytes(),
            lapin::BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("broker confirmation");
    assert!(
        confirmation.is_ack(),
        "the broker did not confirm: {confirmation:?}"
    );

    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "smoke".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let delivery = tokio::time::timeout(BROKER_DEADLINE, consumer.next())
        .await
        .expect("a delivery before the deadline")
        .expect("an open consumer")
        .expect("a delivery, not an error");
    delivery.ack(BasicAckOptions::default()).await.expect("ack");
    assert_eq!(delivery.data, "héllo".as_bytes());

    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("delete queue");
    connection.close(200, "done".into()).await.expect("close");
}

#[tokio::test]
async fn kafka_round_trips_an_acknowledged_record() {
    use rdkafka::ClientConfig;
    use rdkafka::Message as _;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::consumer::{Consumer as _, StreamConsumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let brokers = require_service!(Service::Kafka);
    let topic = unique_name("smoke");
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &brokers);

    let admin: AdminClient<_> = config.create().expect("admin client");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(BROKER_DEADLINE)),
        )
        .await
        .expect("create topics request");
    for result in created {
        result.unwrap_or_else(|(name, code)| panic!("creating topic {name} failed: {code}"));
    }

    let producer: FutureProducer = config
        .clone()
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let delivery = producer
        .send(
            FutureRecord::to(&topic).key("k").payload("héllo"),
            BROKER_DEADLINE,
        )
        .await
        .unwrap_or_else(|(err, _)| panic!("produce failed: {err}"));

    let consumer: StreamConsumer = config
        .clone()
        .set("group.id", unique_name("smoke_group"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment
        .add_partition_offset(
            &topic,
            delivery.partition,
            rdkafka::Offset::Offset(delivery.offset),
        )
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let message = tokio::time::timeout(BROKER_DEADLINE, consumer.recv())
        .await
        .expect("a record before the deadline")
        .expect("a record, not an error");
    assert_eq!(message.payload(), Some("héllo".as_bytes()));
    assert_eq!(message.key(), Some("k".as_bytes()));
}

#[tokio::test]
async fn nats_round_trips_a_message() {
    let url = require_service!(Service::Nats);
    let client = async_nats::connect(&url).await.expect("connect to NATS");
    let subject = unique_name("smoke");
    let mut subscriber = client.subscribe(subject.clone()).await.expect("subscribe");
    client
        .publish(subject, "héllo".into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");
    let message = tokio::time::timeout(BROKER_DEADLINE, subscriber.next())
        .await
        .expect("a message before the deadline")
        .expect("an open subscription");
    assert_eq!(message.payload.as_ref(), "héllo".as_bytes());
}
