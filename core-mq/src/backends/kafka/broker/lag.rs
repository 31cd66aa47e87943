//! A group's lag on Kafka: high watermark minus committed offset, summed
//! over the topic's partitions.

use std::sync::{Arc, OnceLock};

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
///
/// That client (librdkafka threads and buffers of its own) is made on the
/// first read, so a consumer whose lag nobody reads never has one.
pub(super) struct CommittedLag {
    config: ClientConfig,
    client: OnceLock<Arc<BaseConsumer>>,
    topic: String,
}

impl CommittedLag {
    /// A probe for `topic` with the consumer's `config` (its `group.id`
    /// names whose committed offsets count).
    pub(super) fn new(config: &ClientConfig, topic: &str) -> CommittedLag {
        let mut config = config.clone();
        config.set("enable.auto.commit", "false");
        CommittedLag {
            config,
            client: OnceLock::new(),
            topic: topic.to_string(),
        }
    }

    fn client(&self) -> Result<Arc<BaseConsumer>> {
        if let Some(client) = self.client.get() {
            return Ok(Arc::clone(client));
        }
        let made = self
            .config
            .create::<BaseConsumer>()
            .map_err(|err| error::map(err, "mq.lag", &self.topic))?;
        // Two first reads at once make two; one is kept.
        Ok(Arc::clone(self.client.get_or_init(|| Arc::new(made))))
    }
}

#[async_trait]
impl LagProbe for CommittedLag {
    async fn lag(&self) -> Result<u64> {
        let (client, topic) = (self.client()?, self.topic.clone());
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

    use crate::raw::LagProbe as _;
    use crate::{ConsumeOptions, Delivery, MessageQueueBase, MqSettings, Outcome, handler_fn};

    #[tokio::test]
    async fn the_probe_makes_its_client_on_its_first_read() {
        let brokers = require_service!(Service::Kafka);
        let mut config = rdkafka::config::ClientConfig::new();
        config
            .set("bootstrap.servers", &brokers)
            .set("group.id", unique_name("lag_lazy_g"));
        let probe = super::CommittedLag::new(&config, &unique_name("lag_lazy"));
        assert!(probe.client.get().is_none(), "made before anyone asked");
        // A topic nobody wrote to: no lag, or the broker saying so.
        let _ = probe.lag().await;
        assert!(probe.client.get().is_some(), "not made by the first read");
    }

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
