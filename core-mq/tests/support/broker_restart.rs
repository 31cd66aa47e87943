//! The broker-restart scenario every durable backend shares: a broker
//! restarted in the middle of a 10 000-message run loses nothing, and the
//! duplicates the restart causes (unconfirmed publishes sent again,
//! unacknowledged deliveries redelivered) are absorbed by the idempotency
//! helper, so every message takes effect exactly once.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_cache::CacheSettings;
use core_mq::idempotency::Idempotency;
use core_mq::{ConsumeOptions, Message, MqSettings, Outcome, connect, handler_fn};
use core_testkit::unique_name;
use uuid::Uuid;

const TOTAL: usize = 10_000;

fn services(action: &str, server: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let status = Command::new("bash")
        .args([script, action, server])
        .status()
        .expect("run services.sh");
    assert!(
        status.success(),
        "scripts/services.sh {action} {server} failed"
    );
}

/// Starts the broker again when dropped, so a failing test leaves it running.
struct StartOnDrop(&'static str);

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        services("start", self.0);
    }
}

/// Publishes 10 000 messages through `settings`' broker while a consumer
/// group handles them, stops the broker (`server`, as `scripts/services.sh`
/// names it) a third of the way in, starts it again, and checks that every
/// message took effect exactly once. The dedup store is the Redis at
/// `dedup_url`, which is not restarted.
pub(crate) async fn ten_thousand_messages_through_a_restart(
    settings: MqSettings,
    server: &'static str,
    dedup_url: String,
) {
    let queue = connect(&settings).await.unwrap();
    let topic = unique_name("restart");

    let mut cache_settings = CacheSettings::from_url(dedup_url);
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
        .consume(&topic, &unique_name("workers"), handler, options)
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
    let restart = StartOnDrop(server);
    tokio::task::spawn_blocking(move || services("stop", server))
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
        "{server} restart run: {TOTAL} messages, {} deliveries ({} duplicates absorbed), {publish_errors} publish errors retried, consumer {stats:?}",
        deliveries.load(Ordering::Relaxed),
        deliveries.load(Ordering::Relaxed) - TOTAL,
    );
}
