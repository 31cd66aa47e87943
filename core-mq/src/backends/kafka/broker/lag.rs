//! A group's lag on Kafka: high watermark minus committed offset, summed
//! over the topic's partitions.

use std::sync::Arc;

use async_trait::async_trait;
use core_error::{Error, Result};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{ADMIN_TIMEOUT, error};
use crate::raw::LagProbe;

/// Every partition of the topic counts, not only this member's; a partition
/// the group never committed counts from its low watermark. The retry topic
/// is not counted: its records are waiting by design.
pub(super) struct CommittedLag {
    pub(super) reader: Arc<StreamConsumer>,
    pub(super) topic: String,
}

#[async_trait]
impl LagProbe for CommittedLag {
    async fn lag(&self) -> Result<u64> {
        let (reader, topic) = (Arc::clone(&self.reader), self.topic.clone());
        // Metadata, committed offsets and watermarks are blocking requests.
        let lag = tokio::task::spawn_blocking(move || -> rdkafka::error::KafkaResult<u64> {
            let metadata = reader.fetch_metadata(Some(&topic), ADMIN_TIMEOUT)?;
            let mut partitions = TopicPartitionList::new();
            for found in metadata
                .topics()
                .iter()
                .filter(|found| found.name() == topic)
            {
                for partition in found.partitions() {
                    partitions.add_partition(&topic, partition.id());
                }
            }
            let committed = reader.committed_offsets(partitions, ADMIN_TIMEOUT)?;
            let mut lag = 0_u64;
            for partition in committed.elements() {
                let (low, high) =
                    reader.fetch_watermarks(&topic, partition.partition(), ADMIN_TIMEOUT)?;
                let done = match partition.offset() {
                    Offset::Offset(committed) => committed.max(low),
                    _ => low,
                };
                lag += u64::try_from(high - done).unwrap_or(0);
            }
            Ok(lag)
        })
        .await
        .map_err(|err| Error::internal("reading the lag panicked").with_source(err))?;
        lag.map_err(|err| error::map(err, "mq.lag", &self.topic))
    }
}
