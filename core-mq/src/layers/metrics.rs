//! Counters and latency histograms through the `metrics` facade.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use core_error::Result;
use futures::FutureExt as _;
use metrics::{Counter, Histogram};

use super::Layer;
use crate::raw::LagProbe;
use crate::{
    Capabilities, ConsumeOptions, Consumer, ConsumerEvent, Delivery, Handler, Message,
    MessageQueueBase, Outcome, SharedHandler,
};

/// Records, labelled by backend and topic (and group for consumers):
///
/// | metric | kind |
/// |---|---|
/// | `mq_published_total`, `mq_publish_errors_total` | counter |
/// | `mq_publish_seconds` | histogram |
/// | `mq_consumed_total` (handler calls) | counter |
/// | `mq_acked_total`, `mq_retried_total`, `mq_dead_lettered_total`, `mq_ack_failures_total` | counter, from the consumer's [`ConsumerEvent`]s: acked once the broker took the acknowledgement, dead-lettered once the dead letter was written (also when the consumer gave up without calling the handler) |
/// | `mq_handler_seconds` | histogram |
/// | `mq_consumer_lag` | gauge, where the broker tells it ([`Consumer::lag`]) |
///
/// A dead letter is counted once, as `mq_dead_lettered_total`: the consumer
/// writes it through the backend underneath the layers, so it is not also
/// counted as a publish.
///
/// `mq_consumer_lag` is read from the broker every [`LAG_INTERVAL`] while
/// the consumer runs, for backends whose [`Capabilities::lag`] is true.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

/// How often the metrics layer reads a consumer's lag from the broker.
pub const LAG_INTERVAL: Duration = Duration::from_secs(10);

impl Layer for MetricsLayer {
    fn layer(&self, inner: Arc<dyn MessageQueueBase>) -> Arc<dyn MessageQueueBase> {
        Arc::new(Metered {
            inner,
            by_topic: RwLock::default(),
        })
    }
}

#[derive(Debug)]
struct Metered {
    inner: Arc<dyn MessageQueueBase>,
    /// The publish metrics' handles by topic: asking the recorder instead
    /// copies the labels and hashes the series' key on every publish.
    by_topic: RwLock<HashMap<String, Arc<PublishMetrics>>>,
}

/// The handles of one topic's publish metrics.
#[derive(Debug)]
struct PublishMetrics {
    published: Counter,
    errors: Counter,
    seconds: Histogram,
}

impl Metered {
    /// The handles for `topic`, made in the installed recorder (and kept)
    /// the first time.
    fn publish_metrics(&self, topic: &str) -> Arc<PublishMetrics> {
        let kept = self.by_topic.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(metrics) = kept.get(topic) {
            return metrics.clone();
        }
        drop(kept);
        let labels = [
            ("backend", self.name().to_string()),
            ("topic", topic.to_string()),
        ];
        let made = Arc::new(PublishMetrics {
            published: metrics::counter!("mq_published_total", &labels),
            errors: metrics::counter!("mq_publish_errors_total", &labels),
            seconds: metrics::histogram!("mq_publish_seconds", &labels),
        });
        let mut kept = self
            .by_topic
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        kept.entry(topic.to_string()).or_insert(made).clone()
    }
}

impl PublishMetrics {
    fn record(&self, count: u64, ok: bool, started: Instant) {
        if ok {
            self.published.increment(count);
        } else {
            self.errors.increment(count);
        }
        self.seconds.record(started.elapsed().as_secs_f64());
    }
}

#[async_trait]
impl MessageQueueBase for Metered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn publish(&self, message: Message) -> Result<()> {
        let metrics = self.publish_metrics(&message.topic);
        let started = Instant::now();
        let result = self.inner.publish(message).await;
        metrics.record(1, result.is_ok(), started);
        result
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        let metrics = self.publish_metrics(messages.first().map_or("", |m| m.topic.as_str()));
        let count = messages.len() as u64;
        let started = Instant::now();
        let result = self.inner.publish_batch(messages).await;
        metrics.record(count, result.is_ok(), started);
        result
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        let labels = [
            ("backend", self.name().to_string()),
            ("topic", topic.to_string()),
            ("group", group.to_string()),
        ];
        let metered = Arc::new(MeteredHandler::new(handler, &labels));
        let consumer = self.inner.consume(topic, group, metered, options).await?;
        if let Some(probe) = consumer.lag_probe() {
            tokio::spawn(report_lag(probe, consumer.stopping(), labels));
        }
        Ok(consumer)
    }

    async fn health(&self, timeout: std::time::Duration) -> Result<()> {
        self.inner.health(timeout).await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

/// Sets `mq_consumer_lag` now and every [`LAG_INTERVAL`] until the consumer stops.
async fn report_lag(
    probe: Arc<dyn LagProbe>,
    stopping: impl std::future::Future<Output = ()>,
    labels: [(&'static str, String); 3],
) {
    let gauge = metrics::gauge!("mq_consumer_lag", &labels);
    let mut stopping = std::pin::pin!(stopping);
    loop {
        match probe.lag().await {
            Ok(lag) => gauge.set(lag as f64),
            Err(err) => ::tracing::debug!(error = %err, "reading the consumer lag failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(LAG_INTERVAL) => {}
            () = &mut stopping => return,
        }
    }
}

/// A handler with its consumer's metrics, whose labels are fixed: the
/// handles are made once, when the consumer starts.
struct MeteredHandler {
    inner: SharedHandler,
    consumed: Counter,
    handler_seconds: Histogram,
    acked: Counter,
    retried: Counter,
    dead_lettered: Counter,
    ack_failures: Counter,
}

impl MeteredHandler {
    fn new(inner: SharedHandler, labels: &[(&'static str, String); 3]) -> MeteredHandler {
        MeteredHandler {
            inner,
            consumed: metrics::counter!("mq_consumed_total", labels),
            handler_seconds: metrics::histogram!("mq_handler_seconds", labels),
            acked: metrics::counter!("mq_acked_total", labels),
            retried: metrics::counter!("mq_retried_total", labels),
            dead_lettered: metrics::counter!("mq_dead_lettered_total", labels),
            ack_failures: metrics::counter!("mq_ack_failures_total", labels),
        }
    }
}

#[async_trait]
impl Handler for MeteredHandler {
    async fn handle(&self, delivery: Delivery) -> Result<Outcome> {
        let started = Instant::now();
        let result = std::panic::AssertUnwindSafe(self.inner.handle(delivery))
            .catch_unwind()
            .await;
        self.consumed.increment(1);
        self.handler_seconds.record(started.elapsed().as_secs_f64());
        match result {
            Ok(result) => result,
            // Counted above; the consumer catches it and retries.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// What the consumer did, counted once it happened.
    fn observe(&self, message: &Message, event: ConsumerEvent) {
        let counter = match event {
            ConsumerEvent::Acked => &self.acked,
            ConsumerEvent::Retried => &self.retried,
            ConsumerEvent::DeadLettered => &self.dead_lettered,
            ConsumerEvent::AckFailed => &self.ack_failures,
        };
        counter.increment(1);
        self.inner.observe(message, event);
    }
}
