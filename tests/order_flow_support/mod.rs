//! What `order_flow_e2e` needs beyond `tests/support` (which runs the
//! binaries and talks to them): a PostgreSQL database of its own, a poison
//! message.

/// A database of its own on the PostgreSQL server; dropped by [`drop`](Self::drop).
#[cfg(feature = "postgres")]
pub(crate) struct PostgresDatabase {
    server: core_sdk::db::sql::SqlDatabase,
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

#[cfg(feature = "postgres")]
impl PostgresDatabase {
    pub(crate) async fn create(server_url: &str) -> PostgresDatabase {
        use core_sdk::db::DatabaseSettings;
        let server =
            core_sdk::db::sql::SqlDatabase::connect(&DatabaseSettings::from_url(server_url))
                .await
                .expect("postgres");
        let name = core_testkit::unique_name("orders");
        server
            .query(&format!("CREATE DATABASE {name}"))
            .execute()
            .await
            .expect("create database");
        let (base, query) = server_url
            .split_once('?')
            .map_or((server_url, None), |(b, q)| (b, Some(q)));
        let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
        let url = match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        };
        PostgresDatabase { server, name, url }
    }

    pub(crate) async fn drop(self) {
        use core_sdk::db::DatabaseBase as _;
        let _ = self
            .server
            .query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute()
            .await;
        self.server.close().await;
    }
}

/// Publishes a message that is not an order event to `topic` and reports
/// whether it reached `<topic>.dead-letter`.
#[cfg(feature = "rabbitmq")]
pub(crate) async fn poison_is_dead_lettered(amqp_url: &str, topic: &str) -> bool {
    use core_sdk::mq::{ConsumeOptions, Message, MqSettings, Outcome, handler_fn};
    use std::time::Duration;
    let queue = core_sdk::mq::connect(&MqSettings::from_url(amqp_url))
        .await
        .expect("rabbitmq");
    let (seen, mut dead) = tokio::sync::mpsc::unbounded_channel();
    // The dead-letter group must exist before the message is dead-lettered.
    let watcher = queue
        .consume(
            &ConsumeOptions::default().dead_letter_topic_for(topic),
            &core_testkit::unique_name("dead_letters"),
            handler_fn(move |delivery| {
                let seen = seen.clone();
                async move {
                    let _ = seen.send(delivery.message.id);
                    Ok(Outcome::Ack)
                }
            }),
            ConsumeOptions::default(),
        )
        .await
        .expect("consume dead letters");
    let poison = Message::new(topic.to_string(), "this is not JSON");
    let poison_id = poison.id;
    queue.publish(poison).await.expect("publish");
    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(id) = dead.recv().await {
            if id == poison_id {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let _ = watcher.shutdown(Duration::from_secs(5)).await;
    let _ = queue.close().await;
    arrived
}
