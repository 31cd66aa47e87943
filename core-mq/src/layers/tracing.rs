//! Spans around publishing and handling, with trace context in headers.

use std::sync::Arc;

use async_trait::async_trait;
use core_error::Result;
use tracing::Instrument as _;

use super::Layer;
use crate::{
    Capabilities, ConsumeOptions, Consumer, ConsumerEvent, Delivery, Handler, Message,
    MessageQueueBase, Outcome, SharedHandler,
};

/// The W3C trace-context header carried in every message.
pub const TRACEPARENT_HEADER: &str = "traceparent";

tokio::task_local! {
    static CURRENT: String;
}

/// The `traceparent` of the message the current handler is handling, if any.
///
/// Messages published from inside a handler carry the same trace id, so a
/// chain of services shows up as one trace.
pub fn current_traceparent() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` as part of the trace `traceparent` names (a W3C header an
/// HTTP request came with, say): the messages it publishes through the
/// tracing layer carry it on, as those a handler publishes do.
///
/// ```
/// use core_mq::layers::{current_traceparent, with_traceparent};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string();
/// let seen = with_traceparent(parent.clone(), async { current_traceparent() }).await;
/// assert_eq!(seen, Some(parent));
/// # }
/// ```
pub fn with_traceparent<F: std::future::Future>(
    traceparent: String,
    work: F,
) -> impl std::future::Future<Output = F::Output> {
    // Not an `async fn`: one would hold `work` twice, as its argument and
    // inside the scope it awaits.
    CURRENT.scope(traceparent, work)
}

/// Creates `mq.publish` and `mq.handle` spans and carries the trace id from
/// publisher to handler in the [`TRACEPARENT_HEADER`] header (W3C format:
/// `00-<trace id>-<span id>-01`), starting a trace when none is current.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

impl Layer for TracingLayer {
    fn layer(&self, inner: Arc<dyn MessageQueueBase>) -> Arc<dyn MessageQueueBase> {
        Arc::new(Traced { inner })
    }
}

#[derive(Debug)]
struct Traced {
    inner: Arc<dyn MessageQueueBase>,
}

fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit())).then_some(trace)
}

/// A child `traceparent` of the current one, or the start of a new trace.
///
/// Ids come from `fastrand` (per-thread, seeded once), not the OS: a trace
/// id needs to be unlikely to repeat, not to be unguessable, and asking the
/// OS for randomness was a system call on every publish. The text is
/// written digit by digit into a string of its exact length: `format!`
/// with hex formatting grew the string and was the layer's largest cost.
fn next_traceparent() -> String {
    let mut text = String::with_capacity(TRACEPARENT_LEN);
    text.push_str("00-");
    let continued = CURRENT
        .try_with(|current| trace_id(current).map(|trace| text.push_str(trace)))
        .ok()
        .flatten();
    if continued.is_none() {
        push_hex(&mut text, &fastrand::u128(1..).to_be_bytes());
    }
    text.push('-');
    push_hex(&mut text, &fastrand::u64(1..).to_be_bytes());
    text.push_str("-01");
    text
}

/// The length of a version 00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// Appends `bytes` as lower-case hex digits.
fn push_hex(text: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
}

fn stamp(message: &mut Message) {
    if !message.headers.contains_key(TRACEPARENT_HEADER) {
        message
            .headers
            .insert(TRACEPARENT_HEADER.to_string(), next_traceparent());
    }
}

#[async_trait]
impl MessageQueueBase for Traced {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn publish(&self, mut message: Message) -> Result<()> {
        stamp(&mut message);
        let span = tracing::debug_span!(
            "mq.publish",
            backend = self.name(),
            topic = %message.topic,
            message_id = %message.id,
            traceparent = message.headers.get(TRACEPARENT_HEADER).map(String::as_str),
        );
        let result = self.inner.publish(message).instrument(span.clone()).await;
        if let Err(err) = &result {
            span.in_scope(|| tracing::warn!(error = %err, "publish failed"));
        }
        result
    }

    async fn publish_batch(&self, mut messages: Vec<Message>) -> Result<()> {
        messages.iter_mut().for_each(stamp);
        let span = tracing::debug_span!(
            "mq.publish_batch",
            backend = self.name(),
            count = messages.len()
        );
        self.inner.publish_batch(messages).instrument(span).await
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        let traced = Arc::new(TracedHandler {
            inner: handler,
            backend: self.name(),
        });
        self.inner.consume(topic, group, traced, options).await
    }

    async fn health(&self, timeout: std::time::Duration) -> Result<()> {
        self.inner.health(timeout).await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

struct TracedHandler {
    inner: SharedHandler,
    backend: &'static str,
}

#[async_trait]
impl Handler for TracedHandler {
    async fn handle(&self, delivery: Delivery) -> Result<Outcome> {
        let traceparent = delivery
            .message
            .headers
            .get(TRACEPARENT_HEADER)
            .cloned()
            .unwrap_or_else(next_traceparent);
        let span = tracing::info_span!(
            "mq.handle",
            backend = self.backend,
            topic = %delivery.message.topic,
            group = %delivery.group,
            message_id = %delivery.message.id,
            attempt = delivery.attempt,
            traceparent = %traceparent,
        );
        let result = CURRENT
            .scope(traceparent, self.inner.handle(delivery))
            .instrument(span.clone())
            .await;
        match &result {
            Ok(Outcome::Ack) => {}
            Ok(other) => span.in_scope(|| tracing::info!(outcome = ?other, "not acknowledged")),
            Err(err) => span.in_scope(|| tracing::warn!(error = %err, "handler failed")),
        }
        result
    }

    fn observe(&self, message: &Message, event: ConsumerEvent) {
        self.inner.observe(message, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_passes_its_trace_on() {
        let parent = "00-0123456789abcdef0123456789abcdef-00f067aa0ba902b7-01".to_string();
        let child = CURRENT.scope(parent, async { next_traceparent() }).await;
        assert_eq!(trace_id(&child), Some("0123456789abcdef0123456789abcdef"));
        assert!(!child.ends_with("00f067aa0ba902b7-01"));
        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn a_new_trace_is_a_well_formed_traceparent() {
        for _ in 0..100 {
            let made = next_traceparent();
            assert_eq!(made.len(), TRACEPARENT_LEN, "{made}");
            let parts: Vec<&str> = made.split('-').collect();
            assert_eq!(parts.len(), 4, "{made}");
            assert_eq!((parts[0], parts[3]), ("00", "01"), "{made}");
            assert_eq!(trace_id(&made).map(str::len), Some(32), "{made}");
            assert_eq!(parts[2].len(), 16, "{made}");
            assert!(
                parts[2]
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{made}"
            );
            assert_ne!(parts[1], "0".repeat(32), "an all-zero trace id is invalid");
            assert_ne!(parts[2], "0".repeat(16), "an all-zero span id is invalid");
        }
    }
}
