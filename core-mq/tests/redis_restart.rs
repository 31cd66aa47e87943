//! Redis restarted under a live publisher and consumer: calls fail with
//! temporary errors during the outage, nothing panics, and both carry on
//! once Redis is back.
//!
//! What this does NOT show: that messages sitting in Redis survive the
//! restart. The Redis this machine runs has persistence off (`--save ""
//! --appendonly no`, `shutdown nosave`), so a restart empties it; with AOF
//! on, stream entries and pending lists survive and the same consumer
//! resumes them. The consumer recreates its vanished group and handles what
//! is published after the restart.
//!
//! This stops the shared Redis server, so it lives in a test binary of its
//! own and starts the server again even when it fails.
#![cfg(feature = "redis-streams")]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_mq::{ConsumeOptions, ErrorKind, Message, MqSettings, Outcome, connect, handler_fn};
use core_testkit::{Service, require_service, services_script, unique_name};
use uuid::Uuid;

struct StartOnDrop;

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        services_script("start", "redis");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_and_consumer_recover_from_a_redis_restart() {
    let url = require_service!(Service::Redis);
    if Service::Redis.first_address(&url) != "127.0.0.1:6379" {
        eprintln!("SKIPPED: REDIS_URL points at a server this test cannot restart");
        return;
    }
    let queue = connect(&MqSettings::from_url(url)).await.unwrap();
    let topic = unique_name("restart");
    let seen: Arc<Mutex<BTreeSet<Uuid>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |delivery| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().insert(delivery.message.id);
                Ok(Outcome::Ack)
            }
        })
    };
    let consumer = queue
        .consume(&topic, "g", handler, ConsumeOptions::default())
        .await
        .unwrap();

    let restart = StartOnDrop;
    tokio::task::spawn_blocking(|| services_script("stop", "redis"))
        .await
        .unwrap();
    let outage = async {
        for _ in 0..3 {
            let err = queue
                .publish(Message::new(&topic, "during"))
                .await
                .expect_err("publishing while Redis is down fails");
            assert!(
                matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
                "{err}"
            );
            assert!(err.is_temporary(), "an outage is worth retrying: {err}");
        }
    };
    let bounded = tokio::time::timeout(Duration::from_secs(60), outage).await;
    tokio::task::spawn_blocking(move || drop(restart))
        .await
        .unwrap();
    bounded.expect("calls during the outage returned within the deadline");

    let after: Vec<Message> = (0..100)
        .map(|n| Message::new(&topic, n.to_string()))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for message in &after {
        while let Err(err) = queue.publish(message.clone()).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "publishing never recovered: {err}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let expected: BTreeSet<Uuid> = after.iter().map(|m| m.id).collect();
    while !expected.is_subset(&seen.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer handled {} of the 100 messages published after the restart",
            expected.intersection(&seen.lock().unwrap()).count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = consumer.shutdown(Duration::from_secs(10)).await.unwrap();
    assert!(
        stats.fetch_failures > 0,
        "the outage was noticed: {stats:?}"
    );
}
