//! A group's lag on RabbitMQ: the messages ready in its queue.

use std::sync::Arc;

use async_trait::async_trait;
use core_error::Result;
use lapin::options::QueueDeclareOptions;
use lapin::types::{FieldTable, ShortString};

use super::{Link, error};
use crate::raw::LagProbe;

/// Asks for the group queue's message count with a passive declare (which
/// changes nothing), on a channel of its own: a passive declare of a queue
/// that is gone closes its channel.
pub(super) struct QueueDepth {
    pub(super) link: Arc<Link>,
    pub(super) queue: ShortString,
    pub(super) topic: String,
}

#[async_trait]
impl LagProbe for QueueDepth {
    async fn lag(&self) -> Result<u64> {
        let fail = |err| error::map(err, "mq.lag", &self.topic).with_endpoint(&self.link.endpoint);
        let live = self.link.get("mq.lag").await?;
        let channel = live.connection.create_channel().await.map_err(fail)?;
        let declared = channel
            .queue_declare(
                self.queue.clone(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await;
        if channel.status().connected() {
            let _ = channel.close(200, "lag read".into()).await;
        }
        Ok(u64::from(declared.map_err(fail)?.message_count()))
    }
}
