//! The order service: orders with a status machine, and a transactional
//! outbox that turns every change into exactly one event.
//!
//! `cargo run --example order_service` (listens on `127.0.0.1:8082`, or
//! `BIND_ADDR`). Settings come from `configs/order_service/`; the JWT key
//! must be the user service's, whose access tokens this service accepts.
//!
//! - `POST /api/v1/orders`, `GET /api/v1/orders/{id}`,
//!   `GET /api/v1/orders?user_id=`, `PATCH /api/v1/orders/{id}/status`
//!   (see `routes.rs`): created → paid → shipped → delivered, cancelled
//!   before shipping; anything else is a 409 naming both statuses.
//! - Each change writes the order, a status-history row and an outbox row
//!   in one transaction; the SDK's outbox relay (`core_sdk::db::outbox`)
//!   publishes it, in order per order, with the same message id each time
//!   so consumers can drop republished copies.
//! - `/health`, `/ready`, `/metrics`; graceful shutdown on SIGTERM/Ctrl-C.
//!
//! ## Where notifications are sent
//!
//! The notification worker (`examples/notification_worker`) consumes the
//! events. On a broker (`APP__MQ__URL=amqp://…`, `redis://…`, `kafka://…`)
//! it runs as its own process, as many instances as needed, in one
//! consumer group. The embedded default, the in-memory queue, lives inside
//! this process, so no other process can consume from it: with it, this
//! service runs the worker's consumer itself — the same handler file,
//! included below — on the same database (`notifications.embedded_worker`,
//! which defaults to "when the queue is not shared"). Because an in-memory
//! queue forgets everything when the process dies, the relay then
//! publishes recent events again at start and the handler's dedup absorbs
//! them (`orders.outbox.replay_window_secs`).

mod events;
#[path = "../notification_worker/notifications.rs"]
mod notifications;
mod orders;
mod routes;
mod status;
mod store;

use std::sync::Arc;
use std::time::Duration;

use core_sdk::auth::AuthSettings;
use core_sdk::auth::axum::AuthState;
use core_sdk::auth::jwt::KeyRing;
use core_sdk::auth::rbac::Rbac;
use core_sdk::auth::tokens::TokenService;
use core_sdk::cache::CacheSettings;
use core_sdk::db::outbox::{Outbox, OutboxSettings};
use core_sdk::db::{DatabaseBase as _, DatabaseSettings};
use core_sdk::error::Result;
use core_sdk::log::LogSettings;
use core_sdk::mq::MqSettings;
use serde::Deserialize;

use crate::notifications::NotificationSettings;
use crate::routes::ApiState;
use crate::store::OrderStore;
use core_sdk::web::{ServerSettings, ServiceSettings};

/// The order service's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Settings {
    server: ServerSettings,
    log: LogSettings,
    database: DatabaseSettings,
    cache: CacheSettings,
    mq: MqSettings,
    auth: AuthSettings,
    orders: OrderSettings,
    /// Read only when the worker runs in this process; its `topic` is
    /// then `orders.topic`.
    notifications: NotificationSettings,
}

impl ServiceSettings for Settings {
    fn log(&self) -> &LogSettings {
        &self.log
    }
    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

/// The `orders` section.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct OrderSettings {
    /// Where order events are published. Default `orders.events`.
    topic: String,
    /// Whether this instance runs an outbox relay. Default true.
    relay: bool,
    /// The outbox (`core_sdk::db::outbox`); its table is `outbox`.
    outbox: OutboxSettings,
}

impl Default for OrderSettings {
    fn default() -> OrderSettings {
        OrderSettings {
            topic: NotificationSettings::default().topic,
            relay: true,
            outbox: OutboxSettings {
                table: "outbox".to_owned(),
                ..OutboxSettings::default()
            },
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let started = core_sdk::web::start::<Settings>("order_service")?;
    let settings = &started.settings;

    let database = core_sdk::db::connect(&settings.database).await?;
    let db = database.sql()?.clone();
    db.migrate_embedded(store::MIGRATIONS).await?;
    let cache = core_sdk::cache::connect(&settings.cache).await?;
    let queue = core_sdk::mq::connect(&settings.mq).await?;

    // Access tokens are the user service's: same key ring, and its
    // revocations, read from the namespace it writes them to
    // (auth.tokens.revocation_namespace; a logout reaches this service when
    // the cache server is shared, e.g. Redis).
    let keys = Arc::new(KeyRing::from_settings(&settings.auth.jwt)?);
    let tokens = TokenService::new(keys, cache.clone(), &settings.auth.tokens)?;
    let auth = AuthState::new(tokens, Rbac::from_settings(&settings.auth.rbac)?);

    let outbox = Outbox::new(settings.orders.outbox.clone())?;
    outbox.install(&db).await?;
    let relay = settings
        .orders
        .relay
        .then(|| outbox.relay(db.clone(), Arc::clone(&queue)).spawn());

    let embedded_worker = settings
        .notifications
        .embedded_worker
        .unwrap_or(!queue.capabilities().shared);
    let worker_settings = NotificationSettings {
        topic: settings.orders.topic.clone(),
        ..settings.notifications.clone()
    };
    let worker = if embedded_worker {
        db.migrate_embedded(notifications::MIGRATIONS).await?;
        Some(notifications::start(queue.as_ref(), db.clone(), &worker_settings).await?)
    } else {
        tracing::info!(
            queue = queue.name(),
            "notifications are left to the notification worker"
        );
        None
    };

    let server = &settings.server;
    let probes = core_sdk::web::Probes::new(
        started.metrics.clone(),
        Duration::from_millis(server.ready_timeout_ms),
    )
    .database(database.into_base())
    .cache(cache.clone())
    .queue(Arc::clone(&queue));
    let api = routes::router(ApiState {
        store: OrderStore::new(db.clone(), outbox, settings.orders.topic.clone()),
        auth,
    });
    let app = core_sdk::web::app(api, probes, server)?;
    core_sdk::web::serve(app, server).await?;

    // HTTP is done: publish what it committed, then let the worker finish
    // the events in hand.
    if let Some(relay) = relay {
        relay
            .shutdown(Duration::from_millis(server.shutdown_timeout_ms))
            .await?;
    }
    if let Some(worker) = worker {
        let stats = worker.shutdown(worker_settings.shutdown_timeout()).await?;
        tracing::info!(?stats, "notifications: stopped");
    }
    queue.close().await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
