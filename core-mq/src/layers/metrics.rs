//! Counters and latency histograms through the `metrics` facade.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use core_error::Result;
use futures::FutureExt as _;

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
        Arc::new(Metered { inner })
    }
}

#[derive(Debug)]
struct Metered {
    inner: Arc<dyn MessageQueueBase>,
}

fn published(backend: &'static str, topic: &str, count: u64, ok: bool, started: Instant) {
    let labels = [
        ("backend", backend.to_string()),
        ("topic", topic.to_string()),
    ];
    if ok {
        metrics::counter!("mq_published_total", &labels).increment(count);
    } else {
        metrics::counter!("mq_publish_errors_total", &labels).increment(count);
    }
    metrics::histogram!("mq_publish_seconds", &labels).record(started.elapsed().as_secs_f64());
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
        let topic = message.topic.clone();
        let started = Instant::now();
        let result = self.inner.publish(message).await;
        published(self.name(), &topic, 1, result.is_ok(), started);
        result
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        let topic = messages
            .first()
            .map(|m| m.topic.clone())
            .unwrap_or_default();
        let count = messages.len() as u64;
        let started = Instant::now();
        let result = self.inner.publish_batch(messages).await;
        published(self.name(), &topic, count, result.is_ok(), started);
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
        let metered = Arc::new(MeteredHandler {
            inner: handler,
            labels: labels.clone(),
        });
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

struct MeteredHandler {
    inner: SharedHandler,
    labels: [(&'static str, String); 3],
}

#[async_trait]
impl Handler for MeteredHandler {
    async fn handle(&self, delivery: Delivery) -> Result<Outcome> {
        let started = Instant::now();
        let result = std::panic::AssertUnwindSafe(self.inner.handle(delivery))
            .catch_unwind()
            .await;
        let labels = &self.labels;
        metrics::counter!("mq_consumed_total", labels).increment(1);
        metrics::histogram!("mq_handler_seconds", labels).record(started.elapsed().as_secs_f64());
        match result {
            Ok(result) => result,
            // Counted above; the consumer catches it and retries.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// What the consumer did, counted once it happened.
    fn observe(&self, message: &Message, event: ConsumerEvent) {
        let name = match event {
            ConsumerEvent::Acked => "mq_acked_total",
            ConsumerEvent::Retried => "mq_retried_total",
            ConsumerEvent::DeadLettered => "mq_dead_lettered_total",
            ConsumerEvent::AckFailed => "mq_ack_failures_total",
        };
        metrics::counter!(name, &self.labels).increment(1);
        self.inner.observe(message, event);
    }
}
