//! Retries that wait in the broker (RabbitMQ retry queues, Kafka retry
//! topics): the wait survives the consumer that scheduled it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_mq::{
    ConsumeOptions, Consumer, Delivery, Message, MessageQueueBase, MqSettings, Outcome,
    SharedHandler, connect, handler_fn,
};
#[allow(unused_imports)]
use core_testkit::{Service, require_service, unique_name};
use tokio::time::Instant;

/// How long the handler asks the retry to wait: longer than a consumer
/// restart takes, so a retry waiting in the consumer would show up early.
const RETRY_DELAY: Duration = Duration::from_secs(3);

/// Deliveries with when they arrived.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(Instant, Delivery)>>>);

impl Log {
    fn all(&self) -> Vec<(Instant, Delivery)> {
        self.0.lock().unwrap().clone()
    }

    /// A handler that logs each delivery and answers `answer`.
    fn handler(&self, answer: fn(&Delivery) -> Outcome) -> SharedHandler {
        let log = self.clone();
        handler_fn(move |delivery: Delivery| {
            let log = log.clone();
            async move {
                let outcome = answer(&delivery);
                log.0.lock().unwrap().push((Instant::now(), delivery));
                Ok(outcome)
            }
        })
    }

    async fn wait_for(
        &self,
        patience: Duration,
        what: &str,
        count: usize,
    ) -> Vec<(Instant, Delivery)> {
        let deadline = Instant::now() + patience;
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            assert!(Instant::now() < deadline, "{what}: not within {patience:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn start(
    queue: &dyn MessageQueueBase,
    topic: &str,
    group: &str,
    handler: SharedHandler,
) -> Consumer {
    queue
        .consume(topic, group, handler, ConsumeOptions::default())
        .await
        .unwrap_or_else(|err| panic!("consume {topic} as {group}: {err}"))
}

/// A retry is scheduled, its consumer shut down, a new consumer (another
/// client, as another process would be) started: the message comes back
/// as attempt 2, intact, no sooner than the delay the handler asked for.
async fn a_retry_waits_in_the_broker_across_a_consumer_restart(
    settings: MqSettings,
    patience: Duration,
) {
    let first_client = connect(&settings).await.expect("connect");
    assert!(first_client.capabilities().broker_retries);
    let topic = unique_name("retry");
    let group = format!("{topic}_g");
    let first = Log::default();
    let consumer = start(
        &*first_client,
        &topic,
        &group,
        first.handler(|_| Outcome::Retry(RETRY_DELAY)),
    )
    .await;
    let sent = Message::new(&topic, "later")
        .with_key("k")
        .with_header("tenant", "acme");
    first_client.publish(sent.clone()).await.expect("publish");
    let seen = first.wait_for(patience, "the first attempt", 1).await;
    let first_attempt_at = seen[0].0;
    let stats = consumer
        .shutdown(Duration::from_secs(30))
        .await
        .expect("shut down the first consumer");
    assert_eq!((stats.retried, stats.acked), (1, 0));
    first_client.close().await.expect("close the first client");
    drop(first_client);

    let second_client = connect(&settings).await.expect("connect again");
    let second = Log::default();
    let consumer = start(
        &*second_client,
        &topic,
        &group,
        second.handler(|_| Outcome::Ack),
    )
    .await;
    let seen = second
        .wait_for(patience + RETRY_DELAY, "the retry after the restart", 1)
        .await;
    let (arrived_at, delivery) = &seen[0];
    assert_eq!(delivery.attempt, 2);
    let mut received = delivery.message.clone();
    received.headers.remove(core_mq::layers::TRACEPARENT_HEADER);
    assert_eq!(
        received, sent,
        "the retried message is the one sent, with no broker bookkeeping"
    );
    assert!(
        arrived_at.duration_since(first_attempt_at) >= RETRY_DELAY,
        "the retry came after {:?}, before the {RETRY_DELAY:?} asked for",
        arrived_at.duration_since(first_attempt_at)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(second.all().len(), 1, "delivered once after the restart");
    let stats = consumer.shutdown(Duration::from_secs(30)).await.unwrap();
    assert_eq!(stats.acked, 1);
    assert_eq!(first.all().len(), 1, "the first consumer saw one attempt");
}

#[cfg(feature = "rabbitmq")]
mod rabbitmq {
    use super::*;

    async fn settings() -> Option<MqSettings> {
        let url = require_service!(Service::RabbitMq, None);
        let mut settings = MqSettings::from_url(url);
        // Test queues go away ten minutes after their consumers.
        settings.rabbitmq.queue_expires_ms = Some(600_000);
        Some(settings)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_waits_in_the_broker_across_a_consumer_restart() {
        let Some(settings) = settings().await else {
            return;
        };
        super::a_retry_waits_in_the_broker_across_a_consumer_restart(
            settings,
            Duration::from_secs(20),
        )
        .await;
    }

    /// RabbitMQ expires messages only at a queue's head: one retry queue per
    /// delay bucket keeps a long wait from holding up a short one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_retry_does_not_hold_up_a_short_one() {
        let Some(settings) = settings().await else {
            return;
        };
        let queue = connect(&settings).await.unwrap();
        let topic = unique_name("buckets");
        let log = Log::default();
        let consumer = start(
            &*queue,
            &topic,
            "g",
            log.handler(|d| match (&*d.message.body, d.attempt) {
                (b"slow", 1) => Outcome::Retry(Duration::from_secs(8)),
                (b"fast", 1) => Outcome::Retry(Duration::from_millis(200)),
                _ => Outcome::Ack,
            }),
        )
        .await;
        queue.publish(Message::new(&topic, "slow")).await.unwrap();
        log.wait_for(
            Duration::from_secs(20),
            "the slow message's first attempt",
            1,
        )
        .await;
        queue.publish(Message::new(&topic, "fast")).await.unwrap();
        let seen = log
            .wait_for(Duration::from_secs(20), "the fast message's retry", 3)
            .await;
        let (fast_first, _) = seen.iter().find(|(_, d)| d.message.body == "fast").unwrap();
        let (fast_retry, retry) = &seen[2];
        assert_eq!((&*retry.message.body, retry.attempt), (&b"fast"[..], 2));
        assert!(
            fast_retry.duration_since(*fast_first) < Duration::from_secs(4),
            "the 200 ms retry waited {:?}, behind the 8 s one",
            fast_retry.duration_since(*fast_first)
        );
        consumer.shutdown(Duration::from_secs(30)).await.unwrap();
    }
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_retry_waits_in_the_broker_across_a_consumer_restart() {
        let brokers = require_service!(Service::Kafka);
        let settings = MqSettings::from_url(format!("kafka://{brokers}"));
        super::a_retry_waits_in_the_broker_across_a_consumer_restart(
            settings,
            Duration::from_secs(60),
        )
        .await;
    }
}
