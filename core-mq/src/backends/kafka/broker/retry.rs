//! Retries that wait in Kafka: a retry topic per topic and group.
//!
//! A retry is produced (idempotent, `acks=all`) to `<topic>.<group>.retry`
//! with the same key and two headers, the next attempt number and the time
//! it is due (`x-core-not-before`); only once the broker has acknowledged
//! it is the original's offset stored. The group's consumers read the retry
//! topic too: a retry record not due yet is held and its partition paused
//! (the others keep flowing) until it is. Records of one retry partition
//! come due in the order they were written, so a long wait can hold up a
//! shorter one behind it in the same partition, never longer than its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_error::Result;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::codec::{self, RetryMark};
use super::{Fetched, KafkaBackend, Record, error};
use crate::Message;

/// The retry topic of `topic` for `group` (at most 247 characters, as both
/// names are at most [`MAX_NAME_LEN`](crate::MAX_NAME_LEN)).
pub(super) fn topic_name(topic: &str, group: &str) -> String {
    format!("{topic}.{group}.retry")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Where a group's retries are written.
pub(super) struct RetryTopic {
    pub(super) backend: KafkaBackend,
    pub(super) topic: String,
}

impl RetryTopic {
    /// Produces `message` to the retry topic as attempt `attempt`, due in
    /// `after`, and waits for the broker's acknowledgement.
    pub(super) async fn schedule(
        &self,
        message: &Message,
        attempt: u32,
        after: Duration,
    ) -> Result<()> {
        let mark = RetryMark {
            attempt,
            not_before_ms: now_ms()
                .saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
        };
        let headers = codec::retry_headers(message, mark);
        let future = self
            .backend
            .enqueue_to(&self.topic, message, headers, "mq.retry")?;
        KafkaBackend::delivered(future, message, "mq.retry").await
    }
}

/// A record's place in the log, stored as consumed once it is settled.
pub(super) struct Position {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) offset: i64,
}

impl Position {
    pub(super) fn store(&self, reader: &StreamConsumer) -> Result<()> {
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&self.topic, self.partition, Offset::Offset(self.offset + 1))
            .map_err(|err| error::map(err, "mq.ack", &self.topic))?;
        reader
            .store_offsets(&offsets)
            .map_err(|err| error::map(err, "mq.ack", &self.topic))
    }
}

/// Returns `record` if it is due now. Otherwise pauses its partition and
/// hands it to a task (in `held`) that passes it on and resumes the
/// partition when it is due.
pub(super) fn hold_until_due(
    reader: &std::sync::Arc<StreamConsumer>,
    record: Record,
    sender: &mpsc::Sender<Fetched>,
    held: &mut JoinSet<()>,
) -> Option<Record> {
    let wait = record.mark.not_before_ms.saturating_sub(now_ms());
    if wait == 0 {
        return Some(record);
    }
    let mut partition = TopicPartitionList::new();
    partition.add_partition(&record.topic, record.partition);
    if let Err(err) = reader.pause(&partition) {
        // Not paused: the partition's next records queue up behind this one
        // in the channel instead, which delays them but loses nothing.
        tracing::warn!(topic = %record.topic, partition = record.partition, error = %err, "pausing a retry partition failed");
    }
    let (reader, sender) = (std::sync::Arc::clone(reader), sender.clone());
    held.spawn(async move {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if sender.send(Ok(record)).await.is_ok() {
            // Fails harmlessly if a rebalance took the partition meanwhile.
            let _ = reader.resume(&partition);
        }
    });
    None
}
