//! Retries that wait in RabbitMQ: per-delay retry queues that dead-letter
//! back into the group's queue.
//!
//! For a group queue `Q`, a retry due in `d` milliseconds goes to the
//! durable queue `Q/retry-<b>ms`, where `b` is `d` rounded up to a power of
//! two, with `expiration = d` and the attempt number in a header. Nothing
//! consumes a retry queue: when a message expires, RabbitMQ dead-letters it
//! through the default exchange (`x-dead-letter-exchange = ""`) with the
//! routing key `Q` (`x-dead-letter-routing-key`), that is straight back into
//! the group's queue, and only into that group's.
//!
//! RabbitMQ expires messages only at the head of a queue, so one queue per
//! delay bucket keeps a long wait from holding up short ones: within a
//! bucket delays differ by at most a factor of two, so a retry waits between
//! its delay and twice it.
//!
//! Each retry queue is declared with exactly those arguments (plus
//! `x-expires`, when [`queue_expires_ms`](crate::backends::rabbitmq::RabbitMqSettings::queue_expires_ms)
//! is set, lengthened by the bucket so a waiting message outlives nothing
//! it needs), so declaring it again is a no-op and declaring it differently
//! is refused by the broker rather than silently changing it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_error::Result;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

use super::{Link, Route, codec, error};
use crate::Message;

/// The retry queue of the group queue `queue` for delays up to `bucket_ms`.
pub(super) fn queue_name(queue: &str, bucket_ms: u64) -> String {
    format!("{queue}/retry-{bucket_ms}ms")
}

/// The delay bucket a wait falls in: the wait in milliseconds rounded up
/// to a power of two.
fn bucket_of(delay_ms: u64) -> u64 {
    delay_ms.checked_next_power_of_two().unwrap_or(1 << 63)
}

/// The retry queues of one group.
pub(super) struct RetryQueues {
    link: Arc<Link>,
    /// The group's queue, where expired retries go back to.
    queue: ShortString,
    /// Buckets declared on this broker, so each is declared once per consumer.
    declared: Mutex<HashSet<u64>>,
}

impl RetryQueues {
    pub(super) fn new(link: Arc<Link>, queue: ShortString) -> RetryQueues {
        RetryQueues {
            link,
            queue,
            declared: Mutex::new(HashSet::new()),
        }
    }

    fn declared(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.declared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes `message` (confirmed) to wait `after` in a retry queue,
    /// then to come back as attempt `attempt`.
    pub(super) async fn schedule(
        &self,
        message: &Message,
        attempt: u32,
        after: Duration,
    ) -> Result<()> {
        const OPERATION: &str = "mq.retry";
        let delay_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let bucket = bucket_of(delay_ms);
        let name = queue_name(self.queue.as_str(), bucket);
        if !self.declared().contains(&bucket) {
            self.declare(&name, bucket, &message.topic).await?;
            self.declared().insert(bucket);
        }
        let properties = codec::encode_retry(message, attempt, delay_ms)?;
        let route = Route {
            exchange: "",
            routing_key: &name,
            mandatory: true,
        };
        let sent = async {
            let confirm = self
                .link
                .send_to(route, message, properties, OPERATION)
                .await?;
            self.link.confirmed(confirm, message, OPERATION).await
        };
        sent.await.inspect_err(|_| {
            // The queue may have been deleted: declare it again next time.
            self.declared().remove(&bucket);
        })
    }

    async fn declare(&self, name: &str, bucket_ms: u64, topic: &str) -> Result<()> {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from("")),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(LongString::from(self.queue.as_str())),
        );
        if let Some(expires) = self.link.settings.queue_expires_ms {
            let expires = expires.saturating_add(bucket_ms);
            arguments.insert(
                "x-expires".into(),
                AMQPValue::LongLongInt(i64::try_from(expires).unwrap_or(i64::MAX)),
            );
        }
        let live = self.link.get("mq.retry").await?;
        live.publisher
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .map_err(|err| {
                error::map(err, "mq.retry", topic)
                    .with_endpoint(&self.link.endpoint)
                    .with_context("queue", name)
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_holds_delays_within_a_factor_of_two() {
        assert_eq!(bucket_of(0), 1);
        assert_eq!(bucket_of(100), 128);
        assert_eq!(bucket_of(128), 128);
        assert_eq!(bucket_of(129), 256);
        assert_eq!(bucket_of(u64::MAX), 1 << 63);
    }
}
