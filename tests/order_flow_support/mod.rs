//! What `order_flow_e2e` needs beyond `tests/support` (which runs the
//! binaries and talks to them): a poison message.

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
