//! A group's lag on Kafka: high watermark minus committed offset, summed
//! over the topic's partitions.

use std::sync::Arc;

use async_trait::async_trait;
use core_error::{Error, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::{ADMIN_TIMEOUT, error};
use crate::raw::LagProbe;

/// Every partition of the topic counts, not only this member's; a partition
/// the group never committed counts from its low watermark. The retry topic
/// is not counted: its records are waiting by design.
///
/// It asks through a client of its own that never joins the group. Asking
/// through the member's client would keep that member alive for as long as
/// a request takes (up to [`ADMIN_TIMEOUT`]) after its consumer stopped
/// polling: a member that is neither polled nor gone stalls the group's
/// next rebalance, and with it every consumer that joins meanwhile.
pub(super) struct CommittedLag {
    client: Arc<BaseConsumer>,
    topic: String,
}

impl CommittedLag {
    /// A probe for `topic` with the consumer's `config` (its `group.id`
    /// names whose committed offsets count).
    pub(super) fn new(config: &ClientConfig, topic: &str) -> Result<CommittedLag> {
        let mut config = config.clone();
        config.set("enable.auto.commit", "false");
        let client = config
            .create::<BaseConsumer>()
            .map_err(|err| error::map(err, "mq.consume", topic))?;
        Ok(CommittedLag {
            client: Arc::new(client),
            topic: topic.to_string(),
        })
    }
}

#[async_trait]
impl LagProbe for CommittedLag {
    async fn lag(&self) -> Result<u64> {
        let (client, topic) = (Arc::clone(&self.client), self.topic.clone());
        // Metadata, committed offsets and watermarks are blocking requests.
        let lag = tokio::task::spawn_blocking(move || -> rdkafka::error::KafkaResult<u64> {
            let metadata = client.fetch_metadata(Some(&topic), ADMIN_TIMEOUT)?;
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
            let committed = client.committed_offsets(partitions, ADMIN_TIMEOUT)?;
            let mut lag = 0_u64;
            for partition in committed.elements() {
                let (low, high) =
                    client.fetch_watermarks(&topic, partition.partition(), ADMIN_TIMEOUT)?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use core_testkit::{Service, require_service, unique_name};

    use crate::{ConsumeOptions, Delivery, MessageQueueBase, MqSettings, Outcome, handler_fn};

    /// A stopped consumer whose lag is still being read (the metrics layer
    /// reads it every ten seconds) must leave its group at once: the group's
    /// next member gets the partitions within a join, not after the broker
    /// gives up on a member that is neither polled nor gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lag_read_in_flight_does_not_keep_a_stopped_consumer_in_its_group() {
        let brokers = require_service!(Service::Kafka);
        let settings = MqSettings::default();
        let queue = super::super::KafkaBackend::connect(
            &brokers,
            &settings.kafka,
            settings.max_message_bytes,
        )
        .await
        .expect("connect");
        let (topic, group) = (unique_name("lag_leave"), unique_name("lag_leave_g"));
        let ack = || handler_fn(|_: Delivery| async { Ok(Outcome::Ack) });
        let first = queue
            .consume(&topic, &group, ack(), ConsumeOptions::default())
            .await
            .expect("the first consumer joins");
        // What a lag read in flight holds while the consumer stops.
        let probe = first.lag_probe().expect("Kafka reports lag");
        first.abort();

        let joined = tokio::time::timeout(
            Duration::from_secs(30),
            queue.consume(&topic, &group, ack(), ConsumeOptions::default()),
        )
        .await
        .expect("the next consumer gets the partitions while the probe is held")
        .expect("the next consumer joins");
        assert_eq!(probe.lag().await.expect("the probe still answers"), 0);
        joined
            .shutdown(Duration::from_secs(30))
            .await
            .expect("shutdown");
    }
}
