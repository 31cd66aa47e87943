//! The broker code behind the `kafka` registration, compiled with its feature.

mod codec;
mod error;
mod lag;
mod retry;
mod security;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use secrecy::ExposeSecret as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{KafkaProtocol, KafkaSettings};
use crate::raw::{self, Ack, Inbound, Source, check_batch, check_consume, check_outgoing};
use crate::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, MqSettings, SharedHandler,
    StartPosition,
};

pub(crate) const BACKEND: &str = "kafka";

/// How long a publish may wait for the broker's acknowledgement, retries included.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long admin requests (topic creation) may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `consume` waits for the group to assign partitions.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an idle fetch waits.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// The Kafka backend. Clones share the producer and admin client.
#[derive(Clone)]
pub struct KafkaBackend {
    shared: Arc<Shared>,
}

struct Shared {
    brokers: String,
    settings: KafkaSettings,
    max_message_bytes: usize,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// Topics known to exist, so each is created at most once per process.
    topics: Mutex<HashSet<String>>,
}

impl fmt::Debug for KafkaBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaBackend")
            .field("brokers", &self.shared.brokers)
            .field("partitions", &self.shared.settings.partitions)
            .finish_non_exhaustive()
    }
}

/// The registration's connect function: `kafka://host:port[,host:port…]`.
pub(super) fn open(settings: &MqSettings) -> BoxFuture<'_, Result<Arc<dyn MessageQueueBase>>> {
    Box::pin(async move {
        let url = settings.url.expose_secret();
        let brokers = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .trim_end_matches('/');
        let backend =
            KafkaBackend::connect(brokers, &settings.kafka, settings.max_message_bytes).await?;
        Ok(Arc::new(backend) as Arc<dyn MessageQueueBase>)
    })
}

impl KafkaBackend {
    /// Creates the clients for the brokers `brokers` (`host:port[,host:port…]`).
    ///
    /// librdkafka connects lazily, so an unreachable broker shows up as
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) or
    /// [`Timeout`](core_error::ErrorKind::Timeout) on the first call.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a client
    /// setting librdkafka refuses.
    pub async fn connect(
        brokers: &str,
        settings: &KafkaSettings,
        max_message_bytes: usize,
    ) -> Result<KafkaBackend> {
        security::check(&settings.security, &settings.client)?;
        let base = client_config(brokers, settings);
        if settings.security.protocol != KafkaProtocol::Plaintext {
            security::handshake(&base, brokers).await?;
        }
        let mut producer_config = base.clone();
        producer_config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .set("linger.ms", "1");
        apply_overrides(&mut producer_config, settings);
        let producer: FutureProducer = producer_config
            .create()
            .map_err(|err| error::map(err, "mq.connect", ""))?;
        let admin: AdminClient<DefaultClientContext> = base
            .create()
            .map_err(|err| error::map(err, "mq.connect", ""))?;
        Ok(KafkaBackend {
            shared: Arc::new(Shared {
                brokers: brokers.to_string(),
                settings: settings.clone(),
                max_message_bytes,
                producer,
                admin,
                topics: Mutex::new(HashSet::new()),
            }),
        })
    }

    fn known(&self, topic: &str) -> bool {
        self.shared
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(topic)
    }

    /// Creates `topic` through the admin API unless it exists.
    async fn ensure_topic(&self, topic: &str) -> Result<()> {
        if self.known(topic) {
            return Ok(());
        }
        let settings = &self.shared.settings;
        let new_topic = NewTopic::new(
            topic,
            settings.partitions,
            TopicReplication::Fixed(settings.replication),
        );
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = self
            .shared
            .admin
            .create_topics(&[new_topic], &options)
            .await
            .map_err(|err| error::map(err, "mq.create_topic", topic))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(error::map_code(code, "mq.create_topic", topic)),
            }
        }
        self.shared
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_string());
        Ok(())
    }

    /// Queues `message` with the producer; the future resolves on the broker's ack.
    fn enqueue(&self, message: &Message, operation: &'static str) -> Result<DeliveryFuture> {
        self.enqueue_to(&message.topic, message, codec::headers(message), operation)
    }

    /// Queues `message` for `topic` with `headers`.
    fn enqueue_to(
        &self,
        topic: &str,
        message: &Message,
        headers: rdkafka::message::OwnedHeaders,
        operation: &'static str,
    ) -> Result<DeliveryFuture> {
        let mut record = FutureRecord::to(topic)
            .payload(message.body.as_ref())
            .headers(headers)
            .timestamp(i64::try_from(message.timestamp_ms).unwrap_or(i64::MAX));
        if let Some(key) = &message.key {
            record = record.key(key.as_str());
        }
        self.shared
            .producer
            .send_result(record)
            .map_err(|(err, _)| error::map(err, operation, topic))
    }

    async fn delivered(
        future: DeliveryFuture,
        message: &Message,
        operation: &'static str,
    ) -> Result<()> {
        match future.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((err, _))) => {
                Err(error::map(err, operation, &message.topic)
                    .with_context("message_id", message.id))
            }
            Err(_) => Err(
                Error::unavailable("the producer shut down before the broker answered")
                    .with_operation(operation)
                    .with_backend(BACKEND)
                    .with_key(message.topic.clone()),
            ),
        }
    }
}

fn client_config(brokers: &str, settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    security::apply(&mut config, &settings.security);
    apply_overrides(&mut config, settings);
    config
}

fn apply_overrides(config: &mut ClientConfig, settings: &KafkaSettings) {
    for (name, value) in &settings.client {
        config.set(name, value);
    }
}

#[async_trait]
impl MessageQueueBase for KafkaBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: true,
            durable: true,
            shared: true,
            claims_abandoned: false,
            broker_retries: true,
            lag: true,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        check_outgoing(BACKEND, &message, self.shared.max_message_bytes)?;
        self.ensure_topic(&message.topic).await?;
        let future = self.enqueue(&message, "mq.publish")?;
        KafkaBackend::delivered(future, &message, "mq.publish").await
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        check_batch(BACKEND, &messages, self.shared.max_message_bytes)?;
        for message in &messages {
            self.ensure_topic(&message.topic).await?;
        }
        // Queue all, then wait for all: the idempotent producer keeps their
        // order within each partition.
        let mut futures = Vec::with_capacity(messages.len());
        for message in &messages {
            futures.push(self.enqueue(message, "mq.publish_batch")?);
        }
        for (future, message) in futures.into_iter().zip(&messages) {
            KafkaBackend::delivered(future, message, "mq.publish_batch").await?;
        }
        Ok(())
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        check_consume(BACKEND, topic, group, &options)?;
        let retry_topic = retry::topic_name(topic, group);
        self.ensure_topic(topic).await?;
        self.ensure_topic(&retry_topic).await?;
        let mut config = client_config(&self.shared.brokers, &self.shared.settings);
        config
            .set("group.id", group)
            // A group (re)balance waits for members about half a session
            // timeout; librdkafka's 45 s default makes every join slow.
            // 6 s is the smallest a stock broker accepts, and also how soon
            // a crashed consumer's partitions move to the others.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.auto.commit", "true")
            // Offsets are stored by hand, after the handler finished.
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.offset.reset",
                match options.start {
                    StartPosition::Earliest => "earliest",
                    StartPosition::Latest => "latest",
                },
            );
        apply_overrides(&mut config, &self.shared.settings);
        let reader: StreamConsumer = config
            .create()
            .map_err(|err| error::map(err, "mq.consume", topic))?;
        reader
            .subscribe(&[topic, retry_topic.as_str()])
            .map_err(|err| error::map(err, "mq.consume", topic))?;
        let reader = Arc::new(reader);
        let (sender, receiver) = mpsc::channel(options.prefetch);
        let pump = tokio::spawn(pump(Arc::clone(&reader), sender, topic.to_string()));
        let source = KafkaSource {
            backend: self.clone(),
            reader,
            receiver,
            pump,
            topic: topic.to_string(),
            retry_topic,
        };
        source.wait_for_assignment(topic).await?;
        if options.start == StartPosition::Latest {
            source.pin_new_partitions().await?;
        }
        let lag = lag::CommittedLag::new(&config, topic);
        Ok(raw::spawn(
            Arc::new(self.clone()),
            Box::new(source),
            topic,
            group,
            handler,
            options,
        )
        .with_lag(lag))
    }

    async fn health(&self, timeout: Duration) -> Result<()> {
        let producer = self.shared.producer.clone();
        // A metadata request: an answer from the brokers, nothing written.
        let answered = tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::client(&producer)
                .fetch_metadata(None, timeout)
                .map(drop)
        })
        .await
        .map_err(|err| Error::internal(format!("the Kafka health check failed: {err}")))?;
        answered.map_err(|err| error::map(err, "mq.health", "").with_endpoint(&self.shared.brokers))
    }

    async fn close(&self) -> Result<()> {
        let producer = self.shared.producer.clone();
        // Flushing blocks the calling thread; keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::flush(&producer, DELIVERY_TIMEOUT)
        })
        .await
        .map_err(|err| Error::internal("flushing the producer panicked").with_source(err))?
        .map_err(|err| error::map(err, "mq.close", ""))
    }
}

/// A record, decoded, with where it came from.
type Fetched = Result<Record>;

/// A decoded record and its place in the log.
pub(super) struct Record {
    message: Message,
    mark: codec::RetryMark,
    topic: String,
    partition: i32,
    offset: i64,
}

/// Reads records as librdkafka delivers them (which also drives the group
/// protocol) into a channel `fetch` can wait on without losing any. A retry
/// record that is not due yet is held back and its partition paused until
/// it is, so the other partitions keep flowing.
async fn pump(reader: Arc<StreamConsumer>, sender: mpsc::Sender<Fetched>, topic: String) {
    let mut held = tokio::task::JoinSet::new();
    loop {
        let fetched = match reader.recv().await {
            Ok(record) => codec::decode(&record)
                .map(|(message, mark)| Record {
                    message,
                    mark,
                    topic: record.topic().to_string(),
                    partition: record.partition(),
                    offset: record.offset(),
                })
                .map_err(|problem| {
                    Error::internal(format!("a record is not a core-mq message: {problem}"))
                        .with_operation("mq.fetch")
                        .with_backend(BACKEND)
                        .with_key(topic.clone())
                        .with_context("partition", record.partition())
                        .with_context("offset", record.offset())
                }),
            Err(err) => Err(error::map(err, "mq.fetch", &topic)),
        };
        let fetched = match fetched {
            Ok(record) => match retry::hold_until_due(&reader, record, &sender, &mut held) {
                Some(record) => Ok(record),
                None => continue,
            },
            Err(err) => Err(err),
        };
        if sender.send(fetched).await.is_err() {
            return;
        }
        while held.try_join_next().is_some() {}
    }
}

struct KafkaSource {
    backend: KafkaBackend,
    reader: Arc<StreamConsumer>,
    receiver: mpsc::Receiver<Fetched>,
    pump: JoinHandle<()>,
    topic: String,
    retry_topic: String,
}

/// A consumer dropped without shutdown (its task aborted) must leave the
/// group: the pump holds the reader, and an idle pump would otherwise keep
/// it, and its partitions, for as long as no record arrives.
impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl KafkaSource {
    async fn wait_for_assignment(&self, topic: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        loop {
            let assigned = self
                .reader
                .assignment()
                .map(|assignment| assignment.count() > 0)
                .unwrap_or(false);
            if assigned {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::timeout(format!(
                    "the consumer group assigned no partitions within {JOIN_TIMEOUT:?} (more consumers than partitions?)"
                ))
                .with_operation("mq.consume")
                .with_backend(BACKEND)
                .with_key(topic));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Seeks every assigned partition of the topic the group has no
    /// committed offset for to its current end, and commits that, so
    /// `latest` means "after `consume` returned" rather than "whenever the
    /// reset resolved". Partitions of the retry topic go to their start
    /// instead: every retry there is this group's and still due.
    async fn pin_new_partitions(&self) -> Result<()> {
        let reader = Arc::clone(&self.reader);
        let retry_topic = self.retry_topic.clone();
        let pinned = tokio::task::spawn_blocking(move || -> rdkafka::error::KafkaResult<()> {
            let assignment = reader.assignment()?;
            let committed = reader.committed_offsets(assignment, ADMIN_TIMEOUT)?;
            let mut pins = TopicPartitionList::new();
            for partition in committed.elements() {
                if matches!(partition.offset(), Offset::Offset(_)) {
                    continue;
                }
                let (start, end) = reader.fetch_watermarks(
                    partition.topic(),
                    partition.partition(),
                    ADMIN_TIMEOUT,
                )?;
                let pin = if partition.topic() == retry_topic {
                    start
                } else {
                    end
                };
                reader.seek(
                    partition.topic(),
                    partition.partition(),
                    Offset::Offset(pin),
                    ADMIN_TIMEOUT,
                )?;
                pins.add_partition_offset(
                    partition.topic(),
                    partition.partition(),
                    Offset::Offset(pin),
                )?;
            }
            if pins.count() > 0 {
                reader.commit(&pins, CommitMode::Sync)?;
            }
            Ok(())
        })
        .await
        .map_err(|err| Error::internal("pinning partitions panicked").with_source(err))?;
        pinned.map_err(|err| error::map(err, "mq.consume", &self.topic))
    }

    fn inbound(&self, record: Record) -> Inbound {
        let Record {
            mut message,
            mark,
            topic,
            partition,
            offset,
        } = record;
        // A retry is handled as a message of the topic it was first sent to.
        message.topic.clone_from(&self.topic);
        Inbound {
            lane: u64::from(partition.unsigned_abs()),
            attempt: mark.attempt,
            ack: Box::new(KafkaAck {
                reader: Arc::clone(&self.reader),
                position: retry::Position {
                    topic,
                    partition,
                    offset,
                },
                retries: retry::RetryTopic {
                    backend: self.backend.clone(),
                    topic: self.retry_topic.clone(),
                },
            }),
            message,
        }
    }
}

#[async_trait]
impl Source for KafkaSource {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        let mut batch = Vec::new();
        let first = match tokio::time::timeout(IDLE_WAIT, self.receiver.recv()).await {
            Err(_) | Ok(None) => return Ok(batch),
            Ok(Some(first)) => first,
        };
        let mut next = Some(first);
        while let Some(fetched) = next.take() {
            match fetched {
                Ok(record) => batch.push(self.inbound(record)),
                Err(err) if batch.is_empty() => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, "fetching from Kafka failed");
                    break;
                }
            }
            if batch.len() < max {
                next = self.receiver.try_recv().ok();
            }
        }
        Ok(batch)
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.pump.abort();
        let reader = Arc::clone(&self.reader);
        // Commit what the handlers stored; blocking, so off the async workers.
        let committed = tokio::task::spawn_blocking(move || {
            let result = reader.commit_consumer_state(CommitMode::Sync);
            reader.unsubscribe();
            result
        })
        .await
        .map_err(|err| Error::internal("committing offsets panicked").with_source(err))?;
        match committed {
            Ok(()) => Ok(()),
            // Nothing stored since the last commit.
            Err(err) if err.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset) => Ok(()),
            Err(err) => Err(error::map(err, "mq.commit", "")),
        }
    }
}

struct KafkaAck {
    reader: Arc<StreamConsumer>,
    position: retry::Position,
    retries: retry::RetryTopic,
}

#[async_trait]
impl Ack for KafkaAck {
    async fn ack(self: Box<Self>) -> Result<()> {
        self.position.store(&self.reader)
    }

    /// Stores the offset in librdkafka for its next commit: no round trip.
    fn is_immediate(&self) -> bool {
        true
    }

    async fn retry_in_broker(
        &self,
        message: &Message,
        attempt: u32,
        after: Duration,
    ) -> Result<bool> {
        self.retries.schedule(message, attempt, after).await?;
        Ok(true)
    }
}
