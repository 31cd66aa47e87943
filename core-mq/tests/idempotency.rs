//! The idempotency helper turns at-least-once delivery into effects that
//! happen once per message id, across consumers sharing a Redis dedup store.
#![cfg(all(feature = "idempotency", feature = "redis-streams"))]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_cache::CacheSettings;
use core_mq::idempotency::{Idempotency, Once};
use core_mq::{
    ConsumeOptions, Error, ErrorKind, Message, MqSettings, Outcome, connect, handler_fn,
};
use core_testkit::{Service, require_service, unique_name};

async fn dedup(redis_url: &str, scope: &str) -> Idempotency {
    let mut settings = CacheSettings::from_url(redis_url);
    settings.namespace = Some(unique_name("dedup"));
    let cache = core_cache::connect(&settings)
        .await
        .expect("connect the dedup cache");
    Idempotency::new(cache, scope, Duration::from_secs(600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_republished_messages_take_effect_once() {
    let url = require_service!(Service::Redis);
    let queue = connect(&MqSettings::from_url(url.clone())).await.unwrap();
    let topic = unique_name("idem");
    let dedup = dedup(&url, "billing").await;
    let effects: Arc<Mutex<HashMap<uuid::Uuid, u32>>> = Arc::default();
    let deliveries = Arc::new(Mutex::new(0_u32));

    let handler = {
        let (dedup, effects, deliveries) = (dedup.clone(), effects.clone(), deliveries.clone());
        handler_fn(move |delivery| {
            let (dedup, effects, deliveries) = (dedup.clone(), effects.clone(), deliveries.clone());
            async move {
                *deliveries.lock().unwrap() += 1;
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
        concurrency: 4,
        ..ConsumeOptions::default()
    };
    let consumer = queue
        .consume(&topic, "billing", handler, options)
        .await
        .unwrap();

    let sent: Vec<Message> = (0..50)
        .map(|n| Message::new(&topic, n.to_string()))
        .collect();
    // Every message twice, as a publisher retrying after a lost confirm would.
    queue.publish_batch(sent.clone()).await.unwrap();
    queue.publish_batch(sent.clone()).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while *deliveries.lock().unwrap() < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all 100 deliveries arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.shutdown(Duration::from_secs(10)).await.unwrap();
    let effects = effects.lock().unwrap();
    assert_eq!(effects.len(), 50, "every message took effect");
    assert!(
        effects.values().all(|&count| count == 1),
        "and only once: {effects:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_of_one_id_run_once_and_failures_release_the_claim() {
    let url = require_service!(Service::Redis);
    let dedup = dedup(&url, "shipping").await;
    let message = Message::new("orders", "o-1");

    let runs = Arc::new(Mutex::new(0));
    let attempts = (0..8).map(|_| {
        let (dedup, message, runs) = (dedup.clone(), message.clone(), runs.clone());
        tokio::spawn(async move {
            dedup
                .run_once(&message, async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    *runs.lock().unwrap() += 1;
                    Ok(())
                })
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let ran = results
        .iter()
        .filter(|result| matches!(result, Ok(Once::Ran(()))))
        .count();
    assert_eq!((ran, *runs.lock().unwrap()), (1, 1));
    for result in &results {
        if let Err(err) = result {
            assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
            assert!(
                err.is_temporary(),
                "in progress elsewhere means retry: {err}"
            );
        }
    }
    assert_eq!(
        dedup.run_once(&message, async { Ok(()) }).await.unwrap(),
        Once::Duplicate,
        "once the work finished, a redelivery is a duplicate"
    );

    let other = Message::new("orders", "o-2");
    let failed = dedup
        .run_once(&other, async {
            Err::<(), _>(Error::unavailable("downstream down"))
        })
        .await;
    assert!(failed.is_err());
    assert!(
        !dedup.seen(&other).await.unwrap(),
        "a failed run releases its claim"
    );
    assert_eq!(
        dedup.run_once(&other, async { Ok(7) }).await.unwrap(),
        Once::Ran(7)
    );
    assert!(dedup.seen(&other).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_dying_mid_work_leaves_a_claim_that_lapses_so_the_work_runs_again() {
    let url = require_service!(Service::Redis);
    let dedup = dedup(&url, "invoicing")
        .await
        .with_claim_lease(Duration::from_secs(1));
    let message = Message::new("orders", "o-3");

    // The consumer "dies" while its work is in flight: the future is dropped.
    let died = tokio::time::timeout(
        Duration::from_millis(100),
        dedup.run_once(&message, std::future::pending::<core_mq::Result<()>>()),
    )
    .await;
    assert!(died.is_err(), "the work never finished");

    let err = dedup
        .run_once(&message, async { Ok(()) })
        .await
        .expect_err("the claim still holds right after the crash");
    assert!(err.is_temporary(), "{err}");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        dedup.run_once(&message, async { Ok("ran") }).await.unwrap(),
        Once::Ran("ran"),
        "the redelivery after the lease runs the work: nothing is lost"
    );
}
