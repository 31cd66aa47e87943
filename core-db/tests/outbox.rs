//! The transactional outbox on each SQL engine's real server, publishing to
//! a real RabbitMQ: two relays at once deliver every committed message and
//! no rolled-back one, each key in order; a relay killed in the middle of a
//! batch loses nothing.
#![cfg(all(
    feature = "outbox",
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite"
))]

#[path = "support/outbox.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use core_db::outbox::OutboxSettings;
use core_mq::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, Result, SharedHandler,
};
use core_testkit::{Service, require_service};
use support::{
    Received, assert_delivered, connect, fresh_outbox, quick_settings, wait_drained, write,
};

const DEADLINE: Duration = Duration::from_secs(90);

fn sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("outbox.db").display()
    );
    (dir, url)
}

/// Two relays, each on its own connection as two instances would be, while
/// 20 writers commit (and sometimes roll back) 30 messages each.
async fn two_relays_at_once(db_url: &str, amqp_url: String) {
    let received = Received::on_rabbitmq(amqp_url).await;
    let (outbox, db) = fresh_outbox(db_url, quick_settings()).await;
    let first = outbox
        .relay(connect(db_url).await, Arc::clone(&received.queue))
        .spawn();
    let second = outbox
        .relay(connect(db_url).await, Arc::clone(&received.queue))
        .spawn();

    let written = write(&outbox, &db, &received.topic, 20, 30).await;

    received.wait_for(&written.committed, DEADLINE).await;
    wait_drained(&outbox, &db, DEADLINE).await;
    first
        .shutdown(Duration::from_secs(10))
        .await
        .expect("first relay stops");
    second
        .shutdown(Duration::from_secs(10))
        .await
        .expect("second relay stops");
    assert_delivered(&received.bodies(), &written);
    received.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_at_once_on_postgres() {
    let amqp = require_service!(Service::RabbitMq);
    let url = require_service!(Service::Postgres);
    two_relays_at_once(&url, amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_at_once_on_mysql() {
    let amqp = require_service!(Service::RabbitMq);
    let url = require_service!(Service::MySql);
    two_relays_at_once(&url, amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_at_once_on_sqlite() {
    let amqp = require_service!(Service::RabbitMq);
    let (_dir, url) = sqlite_url();
    two_relays_at_once(&url, amqp).await;
}

/// The real queue, except that a batch stops halfway, forever: the relay
/// publishing it is then killed.
#[derive(Debug)]
struct DiesMidBatch {
    inner: Arc<dyn MessageQueueBase>,
    stuck: Arc<AtomicBool>,
}

#[async_trait]
impl MessageQueueBase for DiesMidBatch {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn publish(&self, message: Message) -> Result<()> {
        self.inner.publish(message).await
    }
    async fn publish_batch(&self, mut messages: Vec<Message>) -> Result<()> {
        let second_half = messages.split_off(messages.len() / 2);
        self.inner.publish_batch(messages).await?;
        drop(second_half);
        self.stuck.store(true, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        self.inner.consume(topic, group, handler, options).await
    }
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// A relay killed with half its batch published: another relay publishes
/// every row, the half already sent again (at least once, same ids).
async fn relay_killed_mid_batch(db_url: &str, amqp_url: String) {
    let received = Received::on_rabbitmq(amqp_url).await;
    let settings = OutboxSettings {
        // Publish timeout longer than the test waits: the batch is stuck
        // until the relay dies, as it would be in a process that is killed.
        publish_timeout_ms: 60_000,
        lease_ms: 61_000,
        ..quick_settings()
    };
    let (outbox, db) = fresh_outbox(db_url, settings).await;
    let written = write(&outbox, &db, &received.topic, 60, 3).await;

    let stuck = Arc::new(AtomicBool::new(false));
    let dying = Arc::new(DiesMidBatch {
        inner: Arc::clone(&received.queue),
        stuck: Arc::clone(&stuck),
    });
    let doomed = outbox.relay(connect(db_url).await, dying).spawn();
    while !stuck.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.abort();
    assert!(
        outbox.backlog(&db).await.expect("backlog").pending > 0,
        "the killed batch is still pending"
    );

    // On SQLite the killed relay's lease must run out first; with the
    // test's lease, end it now as time would.
    if db_url.starts_with("sqlite") {
        let expire = format!(
            "UPDATE {} SET lease_until_ms = 0 WHERE lease_until_ms IS NOT NULL",
            outbox.settings().table
        );
        let leased = db.query(&expire).execute().await.expect("expire the lease");
        assert_eq!(
            leased, 50,
            "the killed relay held its whole batch under a lease"
        );
    }
    let survivor = outbox
        .relay(connect(db_url).await, Arc::clone(&received.queue))
        .spawn();
    received.wait_for(&written.committed, DEADLINE).await;
    wait_drained(&outbox, &db, DEADLINE).await;
    survivor
        .shutdown(Duration::from_secs(10))
        .await
        .expect("relay stops");
    let bodies = received.bodies();
    assert!(
        bodies.len() > written.committed.len(),
        "the half sent before the kill was sent again"
    );
    assert_delivered(&bodies, &written);
    received.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_nothing_on_postgres() {
    let amqp = require_service!(Service::RabbitMq);
    let url = require_service!(Service::Postgres);
    relay_killed_mid_batch(&url, amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_nothing_on_mysql() {
    let amqp = require_service!(Service::RabbitMq);
    let url = require_service!(Service::MySql);
    relay_killed_mid_batch(&url, amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_loses_nothing_on_sqlite() {
    let amqp = require_service!(Service::RabbitMq);
    let (_dir, url) = sqlite_url();
    relay_killed_mid_batch(&url, amqp).await;
}
