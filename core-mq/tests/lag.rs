//! `Consumer::lag` as each broker tells it, against the real servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use core_mq::{
    ConsumeOptions, Delivery, ErrorKind, Message, MqSettings, Outcome, connect, handler_fn,
};
#[allow(unused_imports)]
use core_testkit::{Service, require_service, unique_name};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Polls `lag()` until `wanted` holds for it, or fails naming the last value.
async fn wait_for_lag(
    consumer: &core_mq::Consumer,
    patience: Duration,
    what: &str,
    wanted: impl Fn(u64) -> bool,
) {
    let deadline = Instant::now() + patience;
    loop {
        let lag = consumer.lag().await.expect("read the lag");
        if wanted(lag) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: lag still {lag} after {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Six messages behind a handler that holds the first until released: the
/// lag counts what is not finished (RabbitMQ only what is not delivered
/// either: five), then falls to zero once everything is handled.
async fn lag_counts_what_the_group_has_not_finished(settings: MqSettings, patience: Duration) {
    let queue = connect(&settings).await.expect("connect");
    assert!(queue.capabilities().lag);
    let topic = unique_name("lag");
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (gate, started) = (Arc::clone(&gate), Arc::clone(&started));
        handler_fn(move |_: Delivery| {
            let (gate, started) = (Arc::clone(&gate), Arc::clone(&started));
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                gate.acquire().await.expect("the gate stays open").forget();
                Ok(Outcome::Ack)
            }
        })
    };
    let options = ConsumeOptions {
        prefetch: 1,
        ..ConsumeOptions::default()
    };
    let consumer = queue
        .consume(&topic, &format!("{topic}_g"), handler, options)
        .await
        .expect("consume");
    for n in 0..6 {
        queue
            .publish(Message::new(&topic, n.to_string()))
            .await
            .expect("publish");
    }
    let deadline = Instant::now() + patience;
    while started.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the handler got no message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_lag(
        &consumer,
        patience,
        "six messages, one in the handler",
        |lag| (5..=6).contains(&lag),
    )
    .await;
    assert_eq!(
        started.load(Ordering::SeqCst),
        1,
        "the handler holds the first"
    );
    gate.add_permits(6);
    wait_for_lag(&consumer, patience, "everything handled", |lag| lag == 0).await;
    consumer.shutdown(Duration::from_secs(30)).await.unwrap();
}

#[tokio::test]
async fn memory_says_it_cannot_tell() {
    let queue = connect(&MqSettings::default()).await.unwrap();
    assert!(!queue.capabilities().lag);
    let consumer = queue
        .consume(
            "lag",
            "g",
            handler_fn(|_| async { Ok(Outcome::Ack) }),
            ConsumeOptions::default(),
        )
        .await
        .unwrap();
    let err = consumer.lag().await.expect_err("no lag in memory");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    consumer.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[cfg(feature = "rabbitmq")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_lag_is_the_ready_count_of_the_group_queue() {
    let url = require_service!(Service::RabbitMq);
    let mut settings = MqSettings::from_url(url);
    settings.rabbitmq.queue_expires_ms = Some(600_000);
    lag_counts_what_the_group_has_not_finished(settings, Duration::from_secs(20)).await;
}

#[cfg(feature = "redis-streams")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lag_is_undelivered_plus_pending() {
    let url = require_service!(Service::Redis);
    lag_counts_what_the_group_has_not_finished(MqSettings::from_url(url), Duration::from_secs(20))
        .await;
}

#[cfg(feature = "kafka")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_lag_is_high_watermark_minus_committed() {
    let brokers = require_service!(Service::Kafka);
    // Offsets are committed every auto.commit.interval.ms (5 s).
    lag_counts_what_the_group_has_not_finished(
        MqSettings::from_url(format!("kafka://{brokers}")),
        Duration::from_secs(60),
    )
    .await;
}
