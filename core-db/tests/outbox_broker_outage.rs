//! RabbitMQ stopped while changes with outbox messages are committed on
//! PostgreSQL: the writes succeed, the messages wait in the table, and
//! every one of them is delivered, in order per key, once the broker is
//! back.
//!
//! This stops the shared RabbitMQ server, so it lives in a test binary of
//! its own (cargo runs test binaries one at a time) and starts the server
//! again even when it fails.
#![cfg(all(
    feature = "outbox",
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite"
))]

#[path = "support/outbox.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use core_testkit::{Service, require_service, services_script};
use support::{
    Received, assert_delivered, connect, fresh_outbox, quick_settings, wait_drained, write,
};

/// Starts RabbitMQ again when the test ends, passed or failed.
struct RestartOnDrop;

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        services_script("start", "rabbitmq");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_written_while_the_broker_is_down_are_all_delivered_when_it_returns() {
    let amqp = require_service!(Service::RabbitMq);
    let url = require_service!(Service::Postgres);
    if Service::RabbitMq.first_address(&amqp) != "127.0.0.1:5672" {
        eprintln!("SKIPPED: AMQP_URL points at a server this test cannot restart");
        return;
    }
    let received = Received::on_rabbitmq(amqp).await;
    let (outbox, db) = fresh_outbox(&url, quick_settings()).await;
    let relay = outbox
        .relay(connect(&url).await, Arc::clone(&received.queue))
        .spawn();

    let restart = RestartOnDrop;
    services_script("stop", "rabbitmq");
    let written = write(&outbox, &db, &received.topic, 10, 20).await;
    let backlog = outbox.backlog(&db).await.expect("backlog");
    assert_eq!(
        backlog.pending,
        written.committed.len() as u64,
        "with the broker down every committed message waits in the table"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(outbox.backlog(&db).await.expect("backlog").oldest_age >= Some(Duration::from_secs(2)));
    drop(restart);

    received
        .wait_for(&written.committed, Duration::from_secs(180))
        .await;
    wait_drained(&outbox, &db, Duration::from_secs(60)).await;
    relay
        .shutdown(Duration::from_secs(10))
        .await
        .expect("relay stops");
    assert_delivered(&received.bodies(), &written);
    received.close().await;
}
