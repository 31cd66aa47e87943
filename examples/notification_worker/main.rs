//! The notification worker: consumes order events in a consumer group and
//! writes one notification per event, exactly once by effect.
//!
//! `APP__MQ__URL=amqp://guest:guest@127.0.0.1:5672/%2f cargo run --features rabbitmq --example notification_worker`
//!
//! - Joins `notifications.group` on `notifications.topic`; run as many
//!   instances as needed, each event is handled by one of them.
//! - Deduplicates by message id in the database it writes to (see
//!   `notifications.rs`): redeliveries and republished events never notify
//!   twice, even across processes and crashes.
//! - Retries temporary failures with backoff, dead-letters after
//!   `notifications.max_attempts` and at once for a message that is not an
//!   order event.
//! - One audit line (`notification.sent`) per notification.
//! - `/health`, `/ready`, `/metrics` on `BIND_ADDR` (default `127.0.0.1:8083`).
//! - SIGTERM or Ctrl-C: stops fetching, finishes the events in hand, exits 0.
//!
//! It needs a broker: on the in-memory queue (the embedded default) no
//! other process can publish to it, and the order service runs this same
//! handler in-process instead (`notifications.embedded_worker`).

#[path = "../order_service/events.rs"]
mod events;
mod notifications;

use std::time::Duration;

use core_sdk::db::{DatabaseBase as _, DatabaseSettings};
use core_sdk::error::Result;
use core_sdk::log::LogSettings;
use core_sdk::mq::MqSettings;
use serde::Deserialize;

use crate::notifications::NotificationSettings;
use core_sdk::web::{ServerSettings, ServiceSettings};

/// The worker's settings: no `auth` section, as it checks no tokens.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    server: ServerSettings,
    log: LogSettings,
    database: DatabaseSettings,
    mq: MqSettings,
    notifications: NotificationSettings,
}

impl ServiceSettings for Settings {
    const USES_JWT: bool = false;

    fn log(&self) -> &LogSettings {
        &self.log
    }
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = core_sdk::web::start::<Settings>("notification_worker")?;
    let settings = &started.settings;

    let database = core_sdk::db::connect(&settings.database).await?;
    let db = database.sql()?.clone();
    db.migrate_embedded(notifications::MIGRATIONS).await?;
    let queue = core_sdk::mq::connect(&settings.mq).await?;
    if !queue.capabilities().shared {
        tracing::warn!(
            queue = queue.name(),
            "this queue lives in this process only: no order event will arrive; \
             point mq.url at a broker, or let the order service run the worker"
        );
    }
    let consumer =
        notifications::start(queue.as_ref(), db.clone(), &settings.notifications).await?;

    let server = &settings.server;
    let probes = core_sdk::web::Probes::new(
        started.metrics.clone(),
        Duration::from_millis(server.ready_timeout_ms),
    )
    .database(database.into_base())
    .queue(std::sync::Arc::clone(&queue));
    let app = core_sdk::web::app(axum::Router::new(), probes, server)?;
    core_sdk::web::serve(app, server).await?;

    // Stop fetching, let the events in hand finish, then leave.
    let stats = consumer
        .shutdown(settings.notifications.shutdown_timeout())
        .await?;
    tracing::info!(?stats, "notifications: stopped");
    queue.close().await?;
    db.close().await;
    Ok(())
}
