//! RabbitMQ restarted in the middle of a 10 000-message run: nothing is
//! lost, and the duplicates the restart causes (unconfirmed publishes sent
//! again, unacknowledged deliveries redelivered) are absorbed by the
//! idempotency helper, so every message takes effect exactly once.
//!
//! This stops the shared RabbitMQ server, so it lives in a test binary of
//! its own (cargo runs test binaries one at a time) and starts the server
//! again even when it fails.
#![cfg(all(feature = "rabbitmq", feature = "idempotency"))]

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_cache::CacheSettings;
use core_mq::idempotency::Idempotency;
use core_mq::{ConsumeOptions, Message, MqSettings, Outcome, connect, handler_fn};
use core_testkit::{Service, require_service, unique_name};
use uuid::Uuid;

const TOTAL: usize = 10_000;

fn services(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let status = Command::new("bash")
        .args([script, action, "rabbitmq"])
        .status()
        .expect("run services.sh");
    assert!(
        status.success(),
        "scripts/services.sh {action} rabbitmq failed"
    );
}

/// Starts RabbitMQ again when dropped, so a failing test leaves it running.
struct StartOnDrop;

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        services("start");
    }
}

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
    let queue = connect(&settings).await.unwrap();
    let topic = unique_name("restart");

    let mut cache_settings = CacheSettings::from_url(redis_url);
    cache_settings.namespace = Some(unique_name("restart_dedup"));
    let dedup = Idempotency::new(
        core_cache::connect(&cache_settings).await.unwrap(),
        "restart",
        Duration::from_secs(600),
    );
    let effects: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let deliveries = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (dedup, effects, deliveries) = (dedup.clone(), effects.clone(), deliveries.clone());
        handler_fn(move |delivery| {
            let (dedup, effects, deliveries) = (dedup.clone(), effects.clone(), deliveries.clone());
            async move {
                deliveries.fetch_add(1, Ordering::Relaxed);
                dedup
                    .run_once(&delivery.message, async {
                        *effects
                            .lock()
                            .unwrap()
                            .entry(delivery.message.id)
                            .or_default() += 1;
                        Ok(())
                    })
                    .await?;
                Ok(Outcome::Ack)
            }
        })
    };
    let options = ConsumeOptions {
        concurrency: 8,
        prefetch: 64,
        ..ConsumeOptions::default()
    };
    let consumer = queue
        .consume(&topic, "workers", handler, options)
        .await
        .unwrap();

    let messages: Vec<Message> = (0..TOTAL)
        .map(|n| Message::new(&topic, n.to_string()).with_key(format!("k{}", n % 97)))
        .collect();
    let published = Arc::new(AtomicUsize::new(0));
    let publisher = {
        let (queue, messages, published) = (queue.clone(), messages.clone(), published.clone());
        tokio::spawn(async move {
            let mut publish_errors = 0_usize;
            for message in messages {
                // A publish without a confirm may or may not have reached the
                // broker: send the same message (same id) until confirmed.
                while let Err(err) = queue.publish(message.clone()).await {
                    assert!(err.is_temporary(), "an outage is temporary: {err}");
                    publish_errors += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                published.fetch_add(1, Ordering::Relaxed);
            }
            publish_errors
        })
    };

    while published.load(Ordering::Relaxed) < TOTAL / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart = StartOnDrop;
    tokio::task::spawn_blocking(|| services("stop"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(restart);

    let publish_errors = tokio::time::timeout(Duration::from_secs(300), publisher)
        .await
        .expect("publishing finished within 5 minutes of the restart")
        .expect("the publisher did not panic");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while effects.lock().unwrap().len() < TOTAL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {TOTAL} messages took effect",
            effects.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = consumer.shutdown(Duration::from_secs(30)).await.unwrap();
    let effects = effects.lock().unwrap();
    let expected: std::collections::BTreeSet<Uuid> = messages.iter().map(|m| m.id).collect();
    let took_effect: std::collections::BTreeSet<Uuid> = effects.keys().copied().collect();
    assert_eq!(
        took_effect, expected,
        "every message took effect, none lost"
    );
    assert!(
        effects.values().all(|&count| count == 1),
        "and each exactly once"
    );
    eprintln!(
        "restart run: {TOTAL} messages, {} deliveries ({} duplicates absorbed), {publish_errors} publish errors retried, consumer {stats:?}",
        deliveries.load(Ordering::Relaxed),
        deliveries.load(Ordering::Relaxed) - TOTAL,
    );
}
