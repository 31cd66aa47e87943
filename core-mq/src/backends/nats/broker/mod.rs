//! The broker code behind the `nats` registration, compiled with its feature.

mod codec;
mod error;
mod tls;

use std::fmt;
use std::hash::Hasher as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::message::Acker;
use async_nats::jetstream::{self, AckKind, stream};
use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use secrecy::ExposeSecret as _;

use super::NatsSettings;
use crate::raw::{
    self, Ack, Inbound, LagProbe, Source, check_batch, check_consume, check_outgoing, lane_of,
};
use crate::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, MqSettings, SharedHandler,
    StartPosition,
};

pub(crate) const BACKEND: &str = "nats";

/// How long an idle fetch waits for a message.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// How long connecting, and each JetStream request, may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The NATS JetStream backend. Clones share one connection.
#[derive(Clone)]
pub struct NatsBackend {
    shared: Arc<Shared>,
}

struct Shared {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    endpoint: String,
    settings: NatsSettings,
    max_message_bytes: usize,
}

impl fmt::Debug for NatsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsBackend")
            .field("endpoint", &self.shared.endpoint)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// The registration's connect function.
pub(super) fn open(settings: &MqSettings) -> BoxFuture<'_, Result<Arc<dyn MessageQueueBase>>> {
    Box::pin(async move {
        let url = settings.url.expose_secret();
        let backend = NatsBackend::connect(url, &settings.nats, settings.max_message_bytes).await?;
        Ok(Arc::new(backend) as Arc<dyn MessageQueueBase>)
    })
}

impl NatsBackend {
    /// Connects to the NATS server at `url` (`nats://[user:password@]host:port`,
    /// or `tls://` for TLS with the `sslrootcert`, `sslcert` and `sslkey`
    /// parameters) and creates the stream unless it exists.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a stream
    /// name or subject prefix NATS refuses, or a stream that exists with
    /// other subjects; [`Unavailable`](core_error::ErrorKind::Unavailable)
    /// when the server cannot be reached or has no JetStream.
    pub async fn connect(
        url: &str,
        settings: &NatsSettings,
        max_message_bytes: usize,
    ) -> Result<NatsBackend> {
        check_names(settings)?;
        let endpoint = core_error::redact_endpoint(url);
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(REQUEST_TIMEOUT)
            .request_timeout(Some(REQUEST_TIMEOUT));
        let (url, options) = tls::configure(url, options).map_err(|err| {
            err.with_operation("mq.connect")
                .with_backend(BACKEND)
                .with_endpoint(&endpoint)
        })?;
        let client = options
            .connect(url)
            .await
            .map_err(|err| error::map(err, "mq.connect", "").with_endpoint(&endpoint))?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(REQUEST_TIMEOUT);
        let backend = NatsBackend {
            shared: Arc::new(Shared {
                client,
                jetstream,
                endpoint,
                settings: settings.clone(),
                max_message_bytes,
            }),
        };
        backend.ensure_stream().await?;
        Ok(backend)
    }

    fn subject(&self, topic: &str) -> String {
        format!("{}.{topic}", self.shared.settings.subject_prefix)
    }

    fn fail(&self, err: impl Into<error::Cause>, operation: &'static str, topic: &str) -> Error {
        error::map(err, operation, topic).with_endpoint(&self.shared.endpoint)
    }

    async fn ensure_stream(&self) -> Result<stream::Stream> {
        let settings = &self.shared.settings;
        let wanted = format!("{}.>", settings.subject_prefix);
        let stream = self
            .shared
            .jetstream
            .get_or_create_stream(stream::Config {
                name: settings.stream.clone(),
                subjects: vec![wanted.clone()],
                storage: stream::StorageType::File,
                max_messages: settings.max_messages,
                duplicate_window: Duration::from_millis(settings.duplicate_window_ms),
                ..stream::Config::default()
            })
            .await
            .map_err(|err| self.fail(err, "mq.connect", ""))?;
        if !stream.cached_info().config.subjects.contains(&wanted) {
            return Err(Error::invalid_input(format!(
                "the NATS stream {:?} exists without the subjects {wanted:?}",
                settings.stream
            ))
            .with_operation("mq.connect")
            .with_backend(BACKEND)
            .with_key("mq.nats.stream")
            .with_endpoint(&self.shared.endpoint));
        }
        Ok(stream)
    }

    /// Sends `message`; the returned future resolves with the stream's acknowledgement.
    async fn send(
        &self,
        message: &Message,
        operation: &'static str,
    ) -> Result<jetstream::context::PublishAckFuture> {
        self.shared
            .jetstream
            .publish_with_headers(
                self.subject(&message.topic),
                codec::encode(message),
                message.body.clone(),
            )
            .await
            .map_err(|err| self.fail(err, operation, &message.topic))
    }

    async fn stored(
        &self,
        ack: jetstream::context::PublishAckFuture,
        message: &Message,
        operation: &'static str,
    ) -> Result<()> {
        ack.await.map(|_| ()).map_err(|err| {
            self.fail(err, operation, &message.topic)
                .with_context("message_id", message.id)
        })
    }

    async fn group_consumer(
        &self,
        topic: &str,
        group: &str,
        options: &ConsumeOptions,
    ) -> Result<PullConsumer> {
        let stream = self.ensure_stream().await?;
        let name = consumer_name(topic, group);
        stream
            .get_or_create_consumer(
                &name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: self.subject(topic),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: options.claim_after,
                    // The consumer engine counts attempts and dead-letters.
                    max_deliver: -1,
                    deliver_policy: match options.start {
                        StartPosition::Earliest => DeliverPolicy::All,
                        StartPosition::Latest => DeliverPolicy::New,
                    },
                    ..pull::Config::default()
                },
            )
            .await
            .map_err(|err| self.fail(err, "mq.consume", topic))
    }
}

/// Stream names and subject tokens NATS accepts.
fn check_names(settings: &NatsSettings) -> Result<()> {
    let stream_ok = !settings.stream.is_empty()
        && settings
            .stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let prefix_ok = settings.subject_prefix.split('.').all(|token| {
        !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let (key, value) = match (stream_ok, prefix_ok) {
        (true, true) => return Ok(()),
        (false, _) => ("mq.nats.stream", &settings.stream),
        (true, false) => ("mq.nats.subject_prefix", &settings.subject_prefix),
    };
    Err(Error::invalid_input(format!(
        "{value:?} is not a NATS name: use ASCII letters, digits, '-' or '_' (and '.' between subject tokens)"
    ))
    .with_operation("mq.connect")
    .with_backend(BACKEND)
    .with_key(key))
}

/// The durable consumer of `group` on `topic`: the group's name (durable
/// names cannot hold '.') and a hash of both, stable across processes and
/// Rust versions (FNV-1a), so two topics' groups of one name stay apart.
fn consumer_name(topic: &str, group: &str) -> String {
    let mut hash = Fnv1a::default();
    hash.write(topic.as_bytes());
    hash.write(&[0]);
    hash.write(group.as_bytes());
    format!("{}_{:016x}", group.replace('.', "_"), hash.finish())
}

struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[async_trait]
impl MessageQueueBase for NatsBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: true,
            durable: true,
            shared: true,
            claims_abandoned: true,
            broker_retries: true,
            lag: true,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        check_outgoing(BACKEND, &message, self.shared.max_message_bytes)?;
        let ack = self.send(&message, "mq.publish").await?;
        self.stored(ack, &message, "mq.publish").await
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        check_batch(BACKEND, &messages, self.shared.max_message_bytes)?;
        // Send all, then wait for every acknowledgement: one round trip for
        // the batch. One connection keeps them in order.
        let mut acks = Vec::with_capacity(messages.len());
        for message in &messages {
            acks.push(self.send(message, "mq.publish_batch").await?);
        }
        for (ack, message) in acks.into_iter().zip(&messages) {
            self.stored(ack, message, "mq.publish_batch").await?;
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
        let consumer = self.group_consumer(topic, group, &options).await?;
        let mut source = NatsSource {
            consumer: consumer.clone(),
            topic: topic.into(),
            endpoint: self.shared.endpoint.clone(),
            prefetch: options.prefetch,
            messages: None,
        };
        source.messages = Some(source.subscribe().await?);
        let lag = ConsumerLag {
            consumer,
            topic: topic.to_string(),
        };
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
        raw::health_within(BACKEND, timeout, async {
            // A PING answered by a PONG: nothing is stored.
            self.shared
                .client
                .flush()
                .await
                .map_err(|err| self.fail(err, "mq.health", ""))
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        self.shared
            .client
            .drain()
            .await
            .map_err(|err| self.fail(err, "mq.close", ""))
    }
}

struct NatsSource {
    consumer: PullConsumer,
    /// Shared with every acknowledgement, which names it in its errors.
    topic: Arc<str>,
    endpoint: String,
    prefetch: usize,
    /// The pull subscription; rebuilt after it fails.
    messages: Option<pull::Stream>,
}

impl NatsSource {
    async fn subscribe(&self) -> Result<pull::Stream> {
        self.consumer
            .stream()
            .max_messages_per_batch(self.prefetch)
            .messages()
            .await
            .map_err(|err| error::map(err, "mq.consume", &self.topic).with_endpoint(&self.endpoint))
    }

    fn inbound(&self, delivery: jetstream::Message) -> Option<Inbound> {
        let delivered = delivery
            .info()
            .map(|info| u32::try_from(info.delivered).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let (delivery, acker) = delivery.split();
        match codec::decode(&self.topic, delivery.headers.as_ref(), delivery.payload) {
            Ok(message) => Some(Inbound {
                lane: lane_of(&message),
                attempt: delivered,
                message,
                ack: Box::new(NatsAck::new(acker, &self.topic)),
            }),
            Err(problem) => {
                // Not ours (published by another tool): it can never be
                // handled, so the server is told to stop delivering it.
                tracing::error!(topic = %self.topic, problem, "skipping a malformed message");
                tokio::spawn(async move {
                    let _ = acker.ack_with(AckKind::Term).await;
                });
                None
            }
        }
    }
}

#[async_trait]
impl Source for NatsSource {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        let messages = match &mut self.messages {
            Some(messages) => messages,
            None => {
                let messages = self.subscribe().await?;
                self.messages.insert(messages)
            }
        };
        let mut batch = Vec::new();
        // `next` on the stream is cancellation-safe: a timed-out wait loses nothing.
        let mut next = match tokio::time::timeout(IDLE_WAIT, messages.next()).await {
            Err(_) => return Ok(batch),
            Ok(next) => next,
        };
        loop {
            match next {
                Some(Ok(delivery)) => batch.extend(self.inbound(delivery)),
                Some(Err(err)) => {
                    // The pull requests behind the stream are rebuilt on
                    // the next fetch (the server may have restarted).
                    self.messages = None;
                    if batch.is_empty() {
                        return Err(
                            error::map(err, "mq.fetch", &self.topic).with_endpoint(&self.endpoint)
                        );
                    }
                    return Ok(batch);
                }
                None => {
                    self.messages = None;
                    return Ok(batch);
                }
            }
            if batch.len() >= max {
                return Ok(batch);
            }
            match self
                .messages
                .as_mut()
                .and_then(|messages| messages.next().now_or_never())
            {
                Some(more) => next = more,
                None => return Ok(batch),
            }
        }
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        // Pulled but never handed out: back to the group at once, not after `ack_wait`.
        if let Some(mut messages) = self.messages.take() {
            while let Some(Some(Ok(delivery))) = messages.next().now_or_never() {
                let _ = delivery.ack_with(AckKind::Nak(None)).await;
            }
        }
        Ok(())
    }
}

/// Settles one delivery. Dropped unsettled (a consumer stopping before its
/// handler ran), it hands the message back at once with a `NAK`.
struct NatsAck {
    acker: Option<Acker>,
    topic: Arc<str>,
    /// Set once a `NAK` with a delay scheduled the retry: the delivery is settled.
    retry_scheduled: AtomicBool,
}

impl NatsAck {
    fn new(acker: Acker, topic: &Arc<str>) -> NatsAck {
        NatsAck {
            acker: Some(acker),
            topic: Arc::clone(topic),
            retry_scheduled: AtomicBool::new(false),
        }
    }

    fn acker(&self) -> Result<&Acker> {
        self.acker.as_ref().ok_or_else(|| {
            Error::internal("the delivery was already settled")
                .with_operation("mq.ack")
                .with_backend(BACKEND)
        })
    }
}

#[async_trait]
impl Ack for NatsAck {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        if self.retry_scheduled.load(Ordering::Acquire) {
            self.acker = None;
            return Ok(());
        }
        // A confirmed ack: the server answers it, so a lost one is counted
        // as failed (and the message comes again) instead of assumed.
        let result = self
            .acker()?
            .double_ack()
            .await
            .map_err(|err| error::map(err, "mq.ack", &self.topic));
        self.acker = None;
        result
    }

    async fn retry_in_broker(
        &self,
        _message: &Message,
        _attempt: u32,
        after: Duration,
    ) -> Result<bool> {
        // The server counts the delivery, so the next one comes as the next attempt.
        self.acker()?
            .double_ack_with(AckKind::Nak(Some(after)))
            .await
            .map_err(|err| error::map(err, "mq.retry", &self.topic))?;
        self.retry_scheduled.store(true, Ordering::Release);
        Ok(true)
    }
}

impl Drop for NatsAck {
    fn drop(&mut self) {
        if self.retry_scheduled.load(Ordering::Acquire) {
            return;
        }
        if let (Some(acker), Ok(runtime)) =
            (self.acker.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = acker.ack_with(AckKind::Nak(None)).await;
            });
        }
    }
}

struct ConsumerLag {
    consumer: PullConsumer,
    topic: String,
}

#[async_trait]
impl LagProbe for ConsumerLag {
    async fn lag(&self) -> Result<u64> {
        let info = self
            .consumer
            .get_info()
            .await
            .map_err(|err| error::map(err, "mq.lag", &self.topic))?;
        Ok(info.num_pending + info.num_ack_pending as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_keep_topics_apart_and_never_change() {
        assert_ne!(consumer_name("a.b", "g"), consumer_name("a_b", "g"));
        assert_eq!(
            consumer_name("orders", "billing"),
            "billing_5855c0970a5ca1bf"
        );
        assert!(!consumer_name("t", "g.v1").contains('.'));
    }
}
