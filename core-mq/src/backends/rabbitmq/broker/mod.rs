//! The broker code behind the `rabbitmq` registration, compiled with its feature.

mod codec;
mod error;
mod lag;
mod retry;
mod tls;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use secrecy::{ExposeSecret as _, SecretString};

use super::RabbitMqSettings;
use crate::raw::{self, Ack, Inbound, Source, check_batch, check_consume, check_outgoing, lane_of};
use crate::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, MqSettings, SharedHandler,
};
use lag::QueueDepth;
use retry::RetryQueues;

pub(crate) const BACKEND: &str = "rabbitmq";

/// How long an idle fetch waits for a delivery.
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The RabbitMQ backend. Clones share one connection.
#[derive(Clone)]
pub struct RabbitMqBackend {
    link: Arc<Link>,
    max_message_bytes: usize,
}

impl fmt::Debug for RabbitMqBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitMqBackend")
            .field("endpoint", &self.link.endpoint)
            .field("exchange", &self.link.settings.exchange)
            .finish_non_exhaustive()
    }
}

/// Where a publish goes.
#[derive(Clone, Copy)]
struct Route<'a> {
    exchange: &'a str,
    routing_key: &'a str,
    /// Have the broker return (and so not confirm) a message no queue takes.
    mandatory: bool,
}

/// The connection and its publishing channel, re-established when lost.
struct Link {
    /// The URL lapin reads, without the TLS file parameters.
    url: SecretString,
    /// The CA and client certificate those parameters named.
    tls: lapin::tcp::OwnedTLSConfig,
    endpoint: String,
    settings: RabbitMqSettings,
    /// The current live connection; the fast path of every publish.
    live: Mutex<Option<Live>>,
    /// Held while (re)connecting, so one task connects and the rest wait.
    connecting: tokio::sync::Mutex<()>,
    /// Set by `close`: no reconnecting after that.
    closed: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct Live {
    connection: Arc<Connection>,
    publisher: Channel,
}

impl Live {
    fn healthy(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

impl Link {
    fn current(&self) -> Option<Live> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .filter(Live::healthy)
    }

    /// A healthy connection, connecting first if there is none.
    async fn get(&self, operation: &'static str) -> Result<Live> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(live) = self.current() {
            return Ok(live);
        }
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::unavailable("the RabbitMQ backend was closed")
                .with_temporary(false)
                .with_operation(operation)
                .with_backend(BACKEND)
                .with_endpoint(&self.endpoint));
        }
        let live = tokio::time::timeout(CONNECT_TIMEOUT, self.connect(operation))
            .await
            .map_err(|_| {
                Error::timeout(format!("connecting took longer than {CONNECT_TIMEOUT:?}"))
                    .with_operation(operation)
                    .with_backend(BACKEND)
                    .with_endpoint(&self.endpoint)
            })??;
        *self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(live.clone());
        Ok(live)
    }

    async fn connect(&self, operation: &'static str) -> Result<Live> {
        let fail = |err| error::map(err, operation, "").with_endpoint(&self.endpoint);
        let runtime = lapin::runtime::default_runtime().map_err(fail)?;
        let connection = Connection::connect_with_config(
            self.url.expose_secret(),
            ConnectionProperties::default(),
            self.tls.clone(),
            runtime,
        )
        .await
        .map_err(fail)?;
        let publisher = connection.create_channel().await.map_err(fail)?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(fail)?;
        self.declare_exchanges(&publisher).await.map_err(fail)?;
        Ok(Live {
            connection: Arc::new(connection),
            publisher,
        })
    }

    fn unrouted(&self) -> String {
        format!("{}/unrouted", self.settings.exchange)
    }

    async fn declare_exchanges(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let unrouted = self.unrouted();
        channel
            .exchange_declare(
                unrouted.as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                unrouted.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                unrouted.as_str().into(),
                unrouted.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "alternate-exchange".into(),
            AMQPValue::LongString(unrouted.into_bytes().into()),
        );
        channel
            .exchange_declare(
                self.settings.exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                arguments,
            )
            .await
    }

    /// Sends `message` to the exchange under its topic, on the shared
    /// channel; the returned future resolves with the broker's confirm.
    async fn send(
        &self,
        message: &Message,
        operation: &'static str,
    ) -> Result<lapin::PublisherConfirm> {
        let properties = codec::encode(message)?;
        let route = Route {
            exchange: &self.settings.exchange,
            routing_key: &message.topic,
            mandatory: false,
        };
        self.send_to(route, message, properties, operation).await
    }

    async fn send_to(
        &self,
        route: Route<'_>,
        message: &Message,
        properties: lapin::BasicProperties,
        operation: &'static str,
    ) -> Result<lapin::PublisherConfirm> {
        let live = self.get(operation).await?;
        live.publisher
            .basic_publish(
                route.exchange.into(),
                route.routing_key.into(),
                BasicPublishOptions {
                    mandatory: route.mandatory,
                    ..BasicPublishOptions::default()
                },
                &message.body,
                properties,
            )
            .await
            .map_err(|err| error::map(err, operation, &message.topic).with_endpoint(&self.endpoint))
    }

    /// Waits for the broker's confirm of a sent message. A mandatory
    /// message the broker could not route counts as not confirmed.
    async fn confirmed(
        &self,
        confirm: lapin::PublisherConfirm,
        message: &Message,
        operation: &'static str,
    ) -> Result<()> {
        let confirmation = confirm.await.map_err(|err| {
            error::map(err, operation, &message.topic).with_endpoint(&self.endpoint)
        })?;
        let problem = match confirmation {
            Confirmation::Ack(None) => return Ok(()),
            Confirmation::Ack(Some(_)) => "RabbitMQ could not route the message to a queue",
            Confirmation::Nack(_) | Confirmation::NotRequested => {
                "RabbitMQ did not confirm the message (nack)"
            }
        };
        Err(Error::unavailable(problem)
            .with_operation(operation)
            .with_backend(BACKEND)
            .with_key(message.topic.clone())
            .with_context("message_id", message.id))
    }

    fn queue_name(&self, topic: &str, group: &str) -> Result<ShortString> {
        let name = format!("{}/{topic}/{group}", self.settings.exchange);
        // The longest retry queue name must fit too.
        let longest_retry = retry::queue_name(&name, u64::MAX);
        if ShortString::try_new(longest_retry).is_err() {
            return Err(Error::invalid_input(
                "the queue name <exchange>/<topic>/<group>/retry-<delay>ms would be longer than 255 bytes",
            )
            .with_operation("mq.consume")
            .with_backend(BACKEND)
            .with_key(topic));
        }
        Ok(name.into())
    }

    /// Opens a channel with `prefetch`, declares and binds the group's
    /// queue, and subscribes to it.
    async fn subscribe(&self, topic: &str, group: &str, prefetch: usize) -> Result<Subscription> {
        let queue = self.queue_name(topic, group)?;
        let live = self.get("mq.consume").await?;
        let fail = |err| error::map(err, "mq.consume", topic).with_endpoint(&self.endpoint);
        let channel = live.connection.create_channel().await.map_err(fail)?;
        channel
            .basic_qos(
                u16::try_from(prefetch).unwrap_or(u16::MAX),
                BasicQosOptions::default(),
            )
            .await
            .map_err(fail)?;
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.settings.queue_expires_ms {
            arguments.insert(
                "x-expires".into(),
                AMQPValue::LongLongInt(i64::try_from(expires).unwrap_or(i64::MAX)),
            );
        }
        channel
            .queue_declare(
                queue.clone(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .map_err(fail)?;
        channel
            .queue_bind(
                queue.clone(),
                self.settings.exchange.as_str().into(),
                topic.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(fail)?;
        let deliveries = channel
            .basic_consume(
                queue,
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(fail)?;
        Ok(Subscription {
            channel,
            deliveries,
        })
    }
}

/// The registration's connect function.
pub(super) fn open(settings: &MqSettings) -> BoxFuture<'_, Result<Arc<dyn MessageQueueBase>>> {
    Box::pin(async move {
        let url = settings.url.expose_secret();
        let backend =
            RabbitMqBackend::connect(url, &settings.rabbitmq, settings.max_message_bytes).await?;
        Ok(Arc::new(backend) as Arc<dyn MessageQueueBase>)
    })
}

impl RabbitMqBackend {
    /// Connects to the broker at `url` (`amqp://user:password@host:port/vhost`)
    /// and declares the exchange.
    ///
    /// # Errors
    ///
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) or
    /// [`Timeout`](core_error::ErrorKind::Timeout) when the broker cannot be
    /// reached; [`InvalidInput`](core_error::ErrorKind::InvalidInput) when
    /// the exchange exists with other settings.
    pub async fn connect(
        url: &str,
        settings: &RabbitMqSettings,
        max_message_bytes: usize,
    ) -> Result<RabbitMqBackend> {
        crate::validate_name("exchange", &settings.exchange)?;
        let endpoint = core_error::redact_endpoint(url);
        let (lapin_url, tls) = tls::split(url).map_err(|err| {
            err.with_operation("mq.connect")
                .with_backend(BACKEND)
                .with_endpoint(&endpoint)
        })?;
        if lapin_url
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("amqps://")
        {
            // lapin builds its TLS configuration with the process default provider.
            core_error::install_ring_provider();
        }
        let link = Arc::new(Link {
            url: SecretString::from(lapin_url),
            tls,
            endpoint,
            settings: settings.clone(),
            live: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        link.get("mq.connect").await?;
        Ok(RabbitMqBackend {
            link,
            max_message_bytes,
        })
    }
}

#[async_trait]
impl MessageQueueBase for RabbitMqBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: false,
            durable: true,
            shared: true,
            claims_abandoned: false,
            broker_retries: true,
            lag: true,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        check_outgoing(BACKEND, &message, self.max_message_bytes)?;
        let confirm = self.link.send(&message, "mq.publish").await?;
        self.link.confirmed(confirm, &message, "mq.publish").await
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        check_batch(BACKEND, &messages, self.max_message_bytes)?;
        // Publish all, then wait for every confirm: one round trip of
        // latency for the batch instead of one per message. Order is kept:
        // the publishes go out on one channel in this order.
        let mut confirms = Vec::with_capacity(messages.len());
        for message in &messages {
            confirms.push(self.link.send(message, "mq.publish_batch").await?);
        }
        for (confirm, message) in confirms.into_iter().zip(&messages) {
            self.link
                .confirmed(confirm, message, "mq.publish_batch")
                .await?;
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
        let queue = self.link.queue_name(topic, group)?;
        let subscription = self.link.subscribe(topic, group, options.prefetch).await?;
        let source = RabbitSource {
            link: Arc::clone(&self.link),
            topic: topic.to_string(),
            group: group.to_string(),
            prefetch: options.prefetch,
            subscription: Some(subscription),
            retries: Arc::new(RetryQueues::new(Arc::clone(&self.link), queue.clone())),
        };
        let depth = QueueDepth {
            link: Arc::clone(&self.link),
            queue,
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
        .with_lag(depth))
    }

    async fn health(&self, timeout: Duration) -> Result<()> {
        raw::health_within(BACKEND, timeout, async {
            let live = self.link.get("mq.health").await?;
            // A passive declare is a round trip to the broker that changes
            // nothing (a published probe would pile up in the unrouted queue).
            live.publisher
                .exchange_declare(
                    self.link.settings.exchange.as_str().into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        passive: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|err| error::map(err, "mq.health", "").with_endpoint(&self.link.endpoint))
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        self.link
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        let live = self
            .link
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(live) = live
            && live.connection.status().connected()
        {
            match live.connection.close(200, "closing".into()).await {
                Ok(()) => {}
                // Lost between the check and the close, or during it (a
                // crashed consumer's channel can take it down): gone either
                // way, which is what closing asked for.
                Err(_) if !live.connection.status().connected() => {}
                Err(err) => {
                    return Err(error::map(err, "mq.close", "").with_endpoint(&self.link.endpoint));
                }
            }
        }
        Ok(())
    }
}

struct Subscription {
    /// Kept open for as long as the subscription; closed (and unacknowledged
    /// messages requeued) when dropped.
    channel: Channel,
    deliveries: lapin::Consumer,
}

struct RabbitSource {
    link: Arc<Link>,
    topic: String,
    group: String,
    prefetch: usize,
    subscription: Option<Subscription>,
    retries: Arc<RetryQueues>,
}

impl RabbitSource {
    fn inbound(&self, delivery: lapin::message::Delivery) -> Option<Inbound> {
        let message = match codec::decode(&self.topic, &delivery.properties, delivery.data) {
            Ok(message) => message,
            Err(problem) => {
                // Not ours (published by another tool): it can never be
                // handled, so it is acknowledged away rather than redelivered forever.
                tracing::error!(topic = %self.topic, group = %self.group, problem, "skipping a malformed message");
                let acker = delivery.acker;
                tokio::spawn(async move {
                    let _ = acker.ack(BasicAckOptions::default()).await;
                });
                return None;
            }
        };
        Some(Inbound {
            lane: lane_of(&message),
            // Classic queues do not count deliveries: a retry carries its
            // attempt in a header, and "redelivered" means that attempt was
            // handed out before (its consumer stopped or died).
            attempt: codec::attempt(&delivery.properties) + u32::from(delivery.redelivered),
            message,
            ack: Box::new(RabbitAck {
                acker: delivery.acker,
                topic: self.topic.clone(),
                retries: Arc::clone(&self.retries),
            }),
        })
    }
}

#[async_trait]
impl Source for RabbitSource {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        let subscription = match &mut self.subscription {
            Some(subscription) => subscription,
            None => self.subscription.insert(
                self.link
                    .subscribe(&self.topic, &self.group, self.prefetch)
                    .await?,
            ),
        };
        let mut batch = Vec::new();
        // `next` on the stream is cancellation-safe: a timed-out wait loses nothing.
        let first = match tokio::time::timeout(IDLE_WAIT, subscription.deliveries.next()).await {
            Err(_) => return Ok(batch),
            Ok(next) => next,
        };
        let mut next = first;
        loop {
            match next {
                Some(Ok(delivery)) => {
                    if let Some(inbound) = self.inbound(delivery) {
                        batch.push(inbound);
                    }
                }
                Some(Err(err)) => {
                    self.subscription = None;
                    if batch.is_empty() {
                        return Err(error::map(err, "mq.fetch", &self.topic));
                    }
                    return Ok(batch);
                }
                None => {
                    self.subscription = None;
                    if batch.is_empty() {
                        return Err(Error::unavailable("the RabbitMQ subscription ended")
                            .with_operation("mq.fetch")
                            .with_backend(BACKEND)
                            .with_key(self.topic.clone()));
                    }
                    return Ok(batch);
                }
            }
            if batch.len() >= max {
                return Ok(batch);
            }
            let Some(subscription) = &mut self.subscription else {
                return Ok(batch);
            };
            match subscription.deliveries.next().now_or_never() {
                Some(more) => next = more,
                None => return Ok(batch),
            }
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        if let Some(subscription) = self.subscription {
            // Closing the channel cancels the subscription; anything still
            // unacknowledged goes back to the queue.
            let _ = subscription
                .channel
                .close(200, "consumer stopped".into())
                .await;
        }
        Ok(())
    }
}

struct RabbitAck {
    acker: lapin::Acker,
    topic: String,
    retries: Arc<RetryQueues>,
}

#[async_trait]
impl Ack for RabbitAck {
    async fn ack(self: Box<Self>) -> Result<()> {
        let sent = self
            .acker
            .ack(BasicAckOptions::default())
            .await
            .map_err(|err| error::map(err, "mq.ack", &self.topic))?;
        if sent {
            return Ok(());
        }
        // lapin answers `false` without sending when the delivery's channel
        // has closed: the broker requeued the message and delivers it again.
        Err(Error::unavailable(
            "the channel closed before the acknowledgement; the message will be delivered again",
        )
        .with_operation("mq.ack")
        .with_backend(BACKEND)
        .with_key(self.topic.clone()))
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
