//! What the outbox tests share: a fresh outbox table on a real engine, a
//! consumer on a real RabbitMQ queue recording what arrives, writers, and
//! the checks (everything committed delivered, nothing rolled back
//! delivered, each key in order).

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use core_db::outbox::{Outbox, OutboxSettings};
use core_db::sql::SqlDatabase;
use core_db::{DatabaseSettings, Result};
use core_mq::{
    ConsumeOptions, Consumer, Delivery, Message, MessageQueueBase, MqSettings, Outcome, handler_fn,
};
use core_testkit::unique_name;

/// A fresh outbox table on `db_url`, and the connection that made it.
pub(crate) async fn fresh_outbox(db_url: &str, settings: OutboxSettings) -> (Outbox, SqlDatabase) {
    let db = connect(db_url).await;
    let outbox = Outbox::new(OutboxSettings {
        table: unique_name("outbox"),
        ..settings
    })
    .expect("valid outbox settings");
    outbox.install(&db).await.expect("create the outbox table");
    // Installing again is harmless: every instance does it at start.
    outbox
        .install(&db)
        .await
        .expect("create the outbox table again");
    (outbox, db)
}

/// Another instance's connection to the same database.
pub(crate) async fn connect(db_url: &str) -> SqlDatabase {
    SqlDatabase::connect(&DatabaseSettings::from_url(db_url))
        .await
        .expect("connect to the database")
}

/// Settings for tests: short polls, and on SQLite a lease that runs out
/// within a test.
pub(crate) fn quick_settings() -> OutboxSettings {
    OutboxSettings {
        batch_size: 50,
        poll_interval_ms: 50,
        publish_timeout_ms: 2_000,
        lease_ms: 3_000,
        ..OutboxSettings::default()
    }
}

/// A RabbitMQ queue and, on a unique topic, a consumer recording each
/// delivery's body in arrival order.
pub(crate) struct Received {
    pub(crate) queue: Arc<dyn MessageQueueBase>,
    pub(crate) topic: String,
    bodies: Arc<Mutex<Vec<String>>>,
    consumer: Option<Consumer>,
}

impl Received {
    pub(crate) async fn on_rabbitmq(url: String) -> Received {
        let mut settings = MqSettings::from_url(url);
        settings.rabbitmq.queue_expires_ms = Some(600_000);
        let queue = core_mq::connect(&settings)
            .await
            .expect("connect to RabbitMQ");
        let topic = unique_name("outbox.events");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&bodies);
        let handler = handler_fn(move |delivery: Delivery| {
            let sink = Arc::clone(&sink);
            async move {
                let body = String::from_utf8(delivery.message.body.to_vec()).expect("utf-8 body");
                sink.lock().expect("lock").push(body);
                Ok(Outcome::Ack)
            }
        });
        let consumer = queue
            .consume(&topic, "outbox-test", handler, ConsumeOptions::default())
            .await
            .expect("start the consumer");
        Received {
            queue,
            topic,
            bodies,
            consumer: Some(consumer),
        }
    }

    /// Waits until every body in `expected` has arrived (at least once).
    pub(crate) async fn wait_for(&self, expected: &BTreeSet<String>, within: Duration) {
        let started = Instant::now();
        loop {
            let missing = {
                let bodies = self.bodies.lock().expect("lock");
                let seen: BTreeSet<&String> = bodies.iter().collect();
                expected.iter().filter(|body| !seen.contains(body)).count()
            };
            if missing == 0 {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{missing} of {} committed messages not delivered within {within:?}",
                expected.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("lock").clone()
    }

    pub(crate) async fn close(mut self) {
        if let Some(consumer) = self.consumer.take() {
            consumer
                .shutdown(Duration::from_secs(10))
                .await
                .expect("consumer shutdown");
        }
        self.queue.close().await.expect("close the queue");
    }
}

/// What the writers committed and what they rolled back.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub(crate) committed: BTreeSet<String>,
    pub(crate) rolled_back: BTreeSet<String>,
}

/// `keys` writers, one per key, each writing `per_key` messages in a
/// transaction of their own (`key:n`, n rising), every seventh rolled back.
pub(crate) async fn write(
    outbox: &Outbox,
    db: &SqlDatabase,
    topic: &str,
    keys: usize,
    per_key: usize,
) -> Written {
    let writers = (0..keys).map(|k| {
        let (outbox, db, topic) = (outbox.clone(), db.clone(), topic.to_owned());
        tokio::spawn(async move {
            let mut written = Written::default();
            for n in 0..per_key {
                let body = format!("k{k}:{n:05}");
                let commit = (k + n) % 7 != 3;
                write_one(&outbox, &db, &topic, &format!("k{k}"), &body, commit)
                    .await
                    .expect("write an outbox row");
                if commit {
                    written.committed.insert(body);
                } else {
                    written.rolled_back.insert(body);
                }
            }
            written
        })
    });
    let mut all = Written::default();
    for writer in futures::future::join_all(writers).await {
        let written = writer.expect("writer task");
        all.committed.extend(written.committed);
        all.rolled_back.extend(written.rolled_back);
    }
    all
}

async fn write_one(
    outbox: &Outbox,
    db: &SqlDatabase,
    topic: &str,
    key: &str,
    body: &str,
    commit: bool,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let message = Message::new(topic, body.to_owned())
        .with_key(key)
        .with_header("source", "outbox-test");
    outbox.enqueue(&mut tx, &message).await?;
    if commit {
        tx.commit().await?;
        outbox.committed();
    } else {
        tx.rollback().await?;
    }
    Ok(())
}

/// Waits until nothing is pending in the table.
pub(crate) async fn wait_drained(outbox: &Outbox, db: &SqlDatabase, within: Duration) {
    let started = Instant::now();
    loop {
        let backlog = outbox.backlog(db).await.expect("read the backlog");
        if backlog.pending == 0 {
            assert_eq!(backlog.oldest_age, None);
            return;
        }
        assert!(
            started.elapsed() < within,
            "{backlog:?} still pending after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every committed message arrived, no rolled-back one did, and each key's
/// messages arrived in the order they were written (duplicates of an
/// at-least-once redelivery aside).
pub(crate) fn assert_delivered(received: &[String], written: &Written) {
    let seen: BTreeSet<&String> = received.iter().collect();
    for body in &written.committed {
        assert!(
            seen.contains(body),
            "committed message {body} never arrived"
        );
    }
    for body in &written.rolled_back {
        assert!(
            !seen.contains(body),
            "rolled-back message {body} was published"
        );
    }
    let mut last_of_key: BTreeMap<&str, &str> = BTreeMap::new();
    let mut first_seen = BTreeSet::new();
    for body in received {
        if !first_seen.insert(body) {
            continue;
        }
        let (key, n) = body.split_once(':').expect("key:n");
        if let Some(previous) = last_of_key.insert(key, n) {
            assert!(previous < n, "key {key}: {n} arrived after {previous}");
        }
    }
}
