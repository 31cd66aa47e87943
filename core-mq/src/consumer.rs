//! The consumer every backend shares: fetch, hand out to handler slots by
//! key, retry, dead-letter, acknowledge, shut down gracefully.
//!
//! A backend only provides a [`Source`] (fetch a batch of messages from its
//! broker, each with an [`Ack`] that settles it) and a way to publish dead
//! letters. The at-least-once rules live here, once:
//!
//! - a message is acknowledged only after its handler finished (or after it
//!   was written to the dead-letter topic, or handed back to the broker for
//!   a later retry);
//! - a message whose processing is interrupted (shutdown deadline, crash) is
//!   never acknowledged, so the broker delivers it again.
//!
//! A retry waits in the broker where the backend can schedule one
//! ([`Ack::retry_in_broker`]: RabbitMQ retry queues, Kafka retry topics),
//! so a consumer that stops during the wait loses nothing and a new one
//! picks the message up when it is due; elsewhere the handler slot waits.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash as _, Hasher as _};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::{FutureExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::{
    ConsumeOptions, ConsumerEvent, Delivery, Message, MessageQueueBase, Outcome, SharedHandler,
};

/// Header naming why a message was dead-lettered.
pub const DEAD_LETTER_REASON_HEADER: &str = "x-core-dead-letter-reason";
/// Header naming the topic a dead letter came from.
pub const ORIGINAL_TOPIC_HEADER: &str = "x-core-original-topic";
/// Header naming the group that gave up on a dead letter.
pub const DEAD_LETTER_GROUP_HEADER: &str = "x-core-dead-letter-group";
/// Header counting the attempts made before a message was dead-lettered.
pub const ATTEMPTS_HEADER: &str = "x-core-attempts";

/// How long an acknowledgement may take before it counts as failed.
pub(crate) const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A message fetched from a broker, not yet acknowledged.
pub struct Inbound {
    /// The message as the broker holds it.
    pub message: Message,
    /// Which attempt the next handler call is (1 unless the broker knows
    /// of earlier deliveries).
    pub attempt: u32,
    /// Messages with the same lane go to the same handler slot, in order.
    pub lane: u64,
    /// Settles the message with its broker.
    pub ack: Box<dyn Ack>,
}

/// Settles one message with its broker. Dropping it unsettled leaves the
/// message for redelivery.
#[async_trait]
pub trait Ack: Send + Sync {
    /// Tells the broker the message is done with.
    ///
    /// A handler slot does not wait for this before its next handler call:
    /// the acknowledgements of one slot start in the order its messages
    /// finished, without waiting for each other: up to the slot's share of
    /// the prefetch ([`ConsumeOptions::prefetch`] ÷
    /// [`ConsumeOptions::concurrency`]) at once, and never fewer than 32. A
    /// backend whose acknowledgements must land in order (stored offsets)
    /// either makes them [immediate](Ack::is_immediate) or orders them
    /// itself.
    async fn ack(self: Box<Self>) -> Result<()>;

    /// Whether [`ack`](Ack::ack) completes without waiting for anyone (an
    /// in-process queue, a Kafka offset stored for the next commit). The
    /// consumer then runs it in place, in the handler loop, when every
    /// earlier acknowledgement of the slot is answered, instead of queueing
    /// it; so an immediate `ack` must never wait on I/O.
    fn is_immediate(&self) -> bool {
        false
    }

    /// Has the broker deliver `message` again as attempt `attempt`, no
    /// sooner than `after`; `Ok(true)` once the broker has confirmed that,
    /// and the consumer then acknowledges this delivery (a crash in between
    /// means a duplicate, never a loss). `Ok(false)`: this broker cannot
    /// wait, the consumer waits instead.
    async fn retry_in_broker(
        &self,
        _message: &Message,
        _attempt: u32,
        _after: Duration,
    ) -> Result<bool> {
        Ok(false)
    }
}

/// Asks a broker how far a consumer group is behind.
#[async_trait]
pub trait LagProbe: Send + Sync + 'static {
    /// Messages of the topic the group has not finished, as the broker counts them.
    async fn lag(&self) -> Result<u64>;
}

/// Where a consumer's messages come from.
#[async_trait]
pub trait Source: Send + 'static {
    /// Up to `max` messages. Returns within about a second when none arrive
    /// (possibly empty), and is never cancelled half-way.
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>>;

    /// Called once every handler slot has finished: commit and close.
    async fn close(self: Box<Self>) -> Result<()>;
}

/// The lane of a message without a partition: by key, else by id.
pub fn lane_of(message: &Message) -> u64 {
    let mut hasher = DefaultHasher::new();
    match &message.key {
        Some(key) => key.hash(&mut hasher),
        None => message.id.hash(&mut hasher),
    }
    hasher.finish()
}

/// Counts of what a consumer did, for tests and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerStats {
    /// Handler calls, retries included.
    pub handled: u64,
    /// Messages acknowledged after their handler answered `Ack`.
    pub acked: u64,
    /// Attempts that ended in a retry (asked for, temporary error or panic).
    pub retried: u64,
    /// Messages moved to the dead-letter topic.
    pub dead_lettered: u64,
    /// Handler panics caught.
    pub panics: u64,
    /// Acknowledgements the broker did not take; those messages come again.
    pub ack_failures: u64,
    /// Fetches that failed (broker unreachable); the consumer keeps trying.
    pub fetch_failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    handled: AtomicU64,
    acked: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    panics: AtomicU64,
    ack_failures: AtomicU64,
    fetch_failures: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ConsumerStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ConsumerStats {
            handled: read(&self.handled),
            acked: read(&self.acked),
            retried: read(&self.retried),
            dead_lettered: read(&self.dead_lettered),
            panics: read(&self.panics),
            ack_failures: read(&self.ack_failures),
            fetch_failures: read(&self.fetch_failures),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A running consumer; see [`MessageQueueBase::consume`].
///
/// End it with [`shutdown`](Consumer::shutdown). Dropping the handle asks
/// the consumer to stop the same way, without waiting for it.
#[derive(Debug)]
pub struct Consumer {
    backend: &'static str,
    topic: String,
    group: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<()>>>,
    counters: Arc<Counters>,
    lag: Option<Arc<dyn LagProbe>>,
}

impl fmt::Debug for dyn LagProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LagProbe")
    }
}

impl Consumer {
    /// Lets [`lag`](Consumer::lag) ask the broker; for backends, after
    /// [`raw::spawn`](crate::raw::spawn).
    #[must_use]
    pub fn with_lag(mut self, probe: impl LagProbe) -> Consumer {
        self.lag = Some(Arc::new(probe));
        self
    }

    /// The backend's lag probe, for the metrics layer.
    pub(crate) fn lag_probe(&self) -> Option<Arc<dyn LagProbe>> {
        self.lag.clone()
    }

    /// Resolves once the consumer is asked to stop (or its handle is gone).
    pub(crate) fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopped = self.stop.subscribe();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    }

    /// The name of the backend running this consumer.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// How many messages of the topic the group has not finished yet, as
    /// the broker tells it:
    ///
    /// | backend | what is counted |
    /// |---|---|
    /// | Kafka | high watermark − committed offset, summed over the partitions (committed offsets trail by up to the auto-commit interval) |
    /// | Redis Streams | entries not yet delivered to the group (`XINFO GROUPS` `lag`) plus delivered and unacknowledged (`pending`) |
    /// | RabbitMQ | messages ready in the group's queue (a passive declare); AMQP does not report those delivered and unacknowledged |
    ///
    /// # Errors
    ///
    /// [`Unsupported`](core_error::ErrorKind::Unsupported) for a backend
    /// that cannot tell ([`Capabilities::lag`](crate::Capabilities::lag) is
    /// false); the broker's error when asking fails.
    pub async fn lag(&self) -> Result<u64> {
        match &self.lag {
            Some(probe) => probe.lag().await,
            None => Err(Error::unsupported(format!(
                "the {} backend does not report consumer lag",
                self.backend
            ))
            .with_operation("mq.lag")
            .with_backend(self.backend)
            .with_key(self.topic.clone())),
        }
    }
    /// The topic consumed.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// What the consumer has done so far.
    pub fn stats(&self) -> ConsumerStats {
        self.counters.snapshot()
    }

    /// Stops fetching, lets handlers finish the messages already fetched
    /// within `deadline`, acknowledges them, then commits and closes.
    ///
    /// # Errors
    ///
    /// [`Timeout`](core_error::ErrorKind::Timeout) when handlers, or
    /// acknowledgements the broker had not answered, were still running at
    /// the deadline: they are stopped, and the messages not acknowledged
    /// are delivered again (nothing is lost).
    /// The source's error if committing or closing failed.
    pub async fn shutdown(mut self, deadline: Duration) -> Result<ConsumerStats> {
        let _ = self.stop.send(true);
        let Some(mut task) = self.task.take() else {
            return Ok(self.stats());
        };
        match tokio::time::timeout(deadline, &mut task).await {
            Ok(Ok(result)) => result.map(|()| self.stats()),
            Ok(Err(join)) => Err(Error::internal("the consumer task failed")
                .with_operation("mq.consumer.shutdown")
                .with_backend(self.backend)
                .with_key(self.topic.clone())
                .with_source(join)),
            Err(_) => {
                task.abort();
                Err(Error::timeout(format!(
                    "handlers or acknowledgements were still running after {deadline:?}; the messages not acknowledged will be delivered again"
                ))
                .with_operation("mq.consumer.shutdown")
                .with_backend(self.backend)
                .with_key(self.topic.clone())
                .with_context("group", &self.group))
            }
        }
    }

    /// Stops the consumer at once, as a crash would: running handlers are
    /// cancelled and nothing more is acknowledged or committed, so the broker
    /// delivers every unacknowledged message again (to this group's other
    /// consumers, or to the next one started).
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Everything a consumer's tasks share.
struct Context {
    backend: Arc<dyn MessageQueueBase>,
    topic: String,
    group: String,
    handler: SharedHandler,
    options: ConsumeOptions,
    dead_letter_topic: String,
    counters: Arc<Counters>,
}

/// Starts the consumer engine on `source`: handler slots by lane, retries,
/// dead letters (published through `backend`), acknowledgements, graceful
/// shutdown. What every backend's [`MessageQueueBase::consume`] returns.
pub fn spawn(
    backend: Arc<dyn MessageQueueBase>,
    source: Box<dyn Source>,
    topic: &str,
    group: &str,
    handler: SharedHandler,
    options: ConsumeOptions,
) -> Consumer {
    let (stop, stopped) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let name = backend.name();
    let context = Arc::new(Context {
        backend,
        topic: topic.to_string(),
        group: group.to_string(),
        handler,
        dead_letter_topic: options.dead_letter_topic_for(topic),
        options,
        counters: Arc::clone(&counters),
    });
    let task = tokio::spawn(run(context, source, stopped));
    Consumer {
        backend: name,
        topic: topic.to_string(),
        group: group.to_string(),
        stop,
        task: Some(task),
        counters,
        lag: None,
    }
}

async fn run(
    context: Arc<Context>,
    mut source: Box<dyn Source>,
    stopped: watch::Receiver<bool>,
) -> Result<()> {
    let slots = context.options.concurrency;
    let depth = (context.options.prefetch / slots).max(1);
    // Dropping the set (when this task is aborted) aborts every slot.
    let mut lanes = JoinSet::new();
    let mut senders = Vec::with_capacity(slots);
    for _ in 0..slots {
        let (sender, receiver) = mpsc::channel(depth);
        senders.push(sender);
        let acks_in_flight = depth.max(ACKS_IN_FLIGHT_AT_LEAST);
        lanes.spawn(lane(
            Arc::clone(&context),
            receiver,
            acks_in_flight,
            stopped.clone(),
        ));
    }

    let mut failures = 0_u32;
    'fetching: while !*stopped.borrow() {
        match source.fetch(context.options.prefetch).await {
            Ok(batch) => {
                failures = 0;
                for inbound in batch {
                    let slot = (inbound.lane % slots as u64) as usize;
                    if senders[slot].send(inbound).await.is_err() {
                        break 'fetching;
                    }
                }
            }
            Err(err) => {
                bump(&context.counters.fetch_failures);
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(100)
                    .saturating_mul(1 << failures.min(6))
                    .min(Duration::from_secs(5));
                tracing::warn!(
                    topic = %context.topic,
                    group = %context.group,
                    error = %err,
                    retry_in_ms = pause.as_millis() as u64,
                    "fetching messages failed; retrying"
                );
                pause_unless_stopped(pause, stopped.clone()).await;
            }
        }
    }
    drop(senders);
    while lanes.join_next().await.is_some() {}
    source.close().await
}

/// Sleeps for `pause`; returns false early if the consumer is stopping.
async fn pause_unless_stopped(pause: Duration, mut stopped: watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        _ = stopped.wait_for(|stop| *stop) => false,
    }
}

/// A message its slot is done with, on its way to be acknowledged.
struct Settling {
    ack: Box<dyn Ack>,
    message: Message,
    /// What to count once the broker took the acknowledgement.
    event: Option<ConsumerEvent>,
}

/// Acknowledgements a handler slot may have on their way when its share of
/// the prefetch is smaller: a slot that gets most of the keys (all messages
/// go to slots by key) is not held to a small share.
const ACKS_IN_FLIGHT_AT_LEAST: usize = 32;

/// One handler slot: calls the handler for its messages in order, and
/// acknowledges them in the same order without waiting for each answer
/// before the next handler call, so a slot is not held to one broker round
/// trip per message, and a client that pipelines (the Redis and NATS
/// clients, lapin's frame buffer; Redis's acknowledger puts those that
/// arrive together in one `XACK`) sends many in one write.
///
/// Up to `acks_in_flight` acknowledgements are on their way, and as many
/// more wait to start before the handler loop waits. The queue between the
/// halves is as deep as that bound so the handler loop runs through a
/// fetched batch without giving way to its other half after each message.
/// Both halves run in the slot's task, so aborting it (a crash) stops
/// both, and the slot ends only once every acknowledgement it handed over
/// is answered.
async fn lane(
    context: Arc<Context>,
    mut receiver: mpsc::Receiver<Inbound>,
    acks_in_flight: usize,
    stopped: watch::Receiver<bool>,
) {
    let (to_ack, mut acks) = mpsc::channel(acks_in_flight);
    let in_flight = AtomicUsize::new(0);
    let context = &*context;
    let settler = Settler {
        context,
        to_ack,
        in_flight: &in_flight,
    };
    let handling = async move {
        while let Some(inbound) = receiver.recv().await {
            process(context, inbound, &stopped, &settler).await;
        }
        // Closes the channel: what ends `acknowledging` once the
        // acknowledgements handed over are answered.
        drop(settler);
    };
    let acknowledging = futures::stream::poll_fn(|cx| acks.poll_recv(cx))
        .map(|item| async {
            settle(context, item).await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
        })
        .buffered(acks_in_flight)
        .for_each(|()| async {});
    tokio::join!(handling, acknowledging);
}

/// Where a slot's finished messages go to be acknowledged.
struct Settler<'a> {
    context: &'a Context,
    to_ack: mpsc::Sender<Settling>,
    /// Acknowledgements handed over and not yet answered.
    in_flight: &'a AtomicUsize,
}

impl Settler<'_> {
    /// Acknowledges `message` behind the slot's earlier ones, waiting only
    /// while the slot's queue of acknowledgements is full. An immediate
    /// acknowledgement with every earlier one answered is settled in place:
    /// a queue would only cost it a channel and a future.
    async fn hand_over(&self, ack: Box<dyn Ack>, message: Message, event: Option<ConsumerEvent>) {
        let settling = Settling {
            ack,
            message,
            event,
        };
        if settling.ack.is_immediate() && self.in_flight.load(Ordering::Relaxed) == 0 {
            settle(self.context, settling).await;
            return;
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        // The receiving half lives as long as the slot that calls this.
        let _ = self.to_ack.send(settling).await;
    }
}

/// What to do with a message after one handler call.
enum Verdict {
    Ack,
    Retry { after: Duration, reason: String },
    DeadLetter(String),
}

async fn process(
    context: &Context,
    inbound: Inbound,
    stopped: &watch::Receiver<bool>,
    settler: &Settler<'_>,
) {
    let Inbound {
        message,
        attempt,
        ack,
        ..
    } = inbound;
    let max_attempts = context.options.max_attempts;
    // The broker's delivery count is only a hint: a message prefetched but
    // never handled (requeued when its consumer stopped) counts as delivered.
    // So every delivery gets at least one attempt, unless the count says the
    // handler keeps dying with its process before it can answer.
    let delivered = attempt.max(1);
    let mut attempt = delivered.min(max_attempts);
    let reason = loop {
        if delivered > max_attempts.saturating_mul(2) {
            break format!(
                "delivered {delivered} times without a handler answer (does the handler crash its process?)"
            );
        }
        let delivery = Delivery {
            message: message.clone(),
            attempt,
            group: context.group.clone(),
        };
        bump(&context.counters.handled);
        let verdict = match AssertUnwindSafe(context.handler.handle(delivery))
            .catch_unwind()
            .await
        {
            Ok(Ok(Outcome::Ack)) => Verdict::Ack,
            Ok(Ok(Outcome::Retry(after))) => Verdict::Retry {
                after,
                reason: "the handler asked for a retry".to_string(),
            },
            Ok(Ok(Outcome::DeadLetter(reason))) => Verdict::DeadLetter(reason),
            // A retry layer inside the handler already retried this call
            // until it gave up: trying again at once would multiply its
            // attempts, so the message waits the longest backoff.
            Ok(Err(err)) if err.retries_exhausted() => Verdict::Retry {
                after: context.options.backoff.max,
                reason: err.to_string(),
            },
            Ok(Err(err)) if err.is_temporary() => Verdict::Retry {
                after: context.options.backoff.delay(attempt),
                reason: err.to_string(),
            },
            Ok(Err(err)) => Verdict::DeadLetter(err.to_string()),
            Err(panic) => {
                bump(&context.counters.panics);
                Verdict::Retry {
                    after: context.options.backoff.delay(attempt),
                    reason: format!("the handler panicked: {}", panic_text(panic.as_ref())),
                }
            }
        };
        match verdict {
            Verdict::Ack => {
                settler
                    .hand_over(ack, message, Some(ConsumerEvent::Acked))
                    .await;
                return;
            }
            Verdict::DeadLetter(reason) => break reason,
            Verdict::Retry { reason, .. } if attempt >= max_attempts => {
                break format!("gave up after {attempt} attempts: {reason}");
            }
            Verdict::Retry { after, .. } => {
                record(context, &message, ConsumerEvent::Retried);
                match ack.retry_in_broker(&message, attempt + 1, after).await {
                    // The broker holds the message now, and delivers it when due.
                    Ok(true) => {
                        settler.hand_over(ack, message, None).await;
                        return;
                    }
                    Ok(false) => {}
                    Err(err) => tracing::warn!(
                        topic = %context.topic,
                        group = %context.group,
                        message_id = %message.id,
                        error = %err,
                        "scheduling the retry in the broker failed; waiting in the consumer instead"
                    ),
                }
                if !pause_unless_stopped(after, stopped.clone()).await {
                    // Shutting down: leave the message unacknowledged for redelivery.
                    return;
                }
                attempt += 1;
            }
        }
    };
    if dead_letter(
        context,
        &message,
        attempt.min(max_attempts),
        &reason,
        stopped,
    )
    .await
    {
        record(context, &message, ConsumerEvent::DeadLettered);
        settler.hand_over(ack, message, None).await;
    }
}

/// Counts `event` and tells the handler (so the layers wrapping it count
/// what happened, not what the handler asked for).
fn record(context: &Context, message: &Message, event: ConsumerEvent) {
    let counter = match event {
        ConsumerEvent::Acked => &context.counters.acked,
        ConsumerEvent::Retried => &context.counters.retried,
        ConsumerEvent::DeadLettered => &context.counters.dead_lettered,
        ConsumerEvent::AckFailed => &context.counters.ack_failures,
    };
    bump(counter);
    context.handler.observe(message, event);
}

/// Acknowledges a message and counts what happened: its event once the
/// broker took the acknowledgement, a failed acknowledgement otherwise.
///
/// Bounded by [`ACK_TIMEOUT`]: a driver can lose an acknowledgement sent
/// while its connection dies and never answer (lapin 4 drops the frames
/// queued when it sees the error, then marks the channels; an ack queued in
/// between waits forever). An unbounded wait there stalled the handler slot,
/// then the fetch loop behind it, and the consumer for good. An unanswered
/// acknowledgement is a failed one: the broker delivers the message again.
async fn settle(context: &Context, settling: Settling) {
    let Settling {
        ack,
        message,
        event,
    } = settling;
    let outcome = tokio::time::timeout(ACK_TIMEOUT, ack.ack())
        .await
        .unwrap_or_else(|_| {
            Err(Error::timeout(format!(
                "the broker did not take the acknowledgement within {ACK_TIMEOUT:?}"
            ))
            .with_operation("mq.ack")
            .with_backend(context.backend.name())
            .with_key(context.topic.clone()))
        });
    match outcome {
        Ok(()) => {
            if let Some(event) = event {
                record(context, &message, event);
            }
        }
        Err(err) => {
            record(context, &message, ConsumerEvent::AckFailed);
            tracing::warn!(
                topic = %context.topic,
                group = %context.group,
                message_id = %message.id,
                error = %err,
                "acknowledging failed; the message will be delivered again"
            );
        }
    }
}

/// Writes `message` to the dead-letter topic, retrying until it is written
/// or the consumer stops; returns whether it was written.
async fn dead_letter(
    context: &Context,
    message: &Message,
    attempts: u32,
    reason: &str,
    stopped: &watch::Receiver<bool>,
) -> bool {
    let mut letter = message.clone();
    letter.topic = context.dead_letter_topic.clone();
    letter
        .headers
        .insert(DEAD_LETTER_REASON_HEADER.to_string(), reason.to_string());
    letter
        .headers
        .insert(ORIGINAL_TOPIC_HEADER.to_string(), context.topic.clone());
    letter
        .headers
        .insert(DEAD_LETTER_GROUP_HEADER.to_string(), context.group.clone());
    letter
        .headers
        .insert(ATTEMPTS_HEADER.to_string(), attempts.to_string());
    let mut failures = 0;
    loop {
        match context.backend.publish(letter.clone()).await {
            Ok(()) => return true,
            Err(err) => {
                failures += 1;
                tracing::warn!(
                    topic = %context.topic,
                    dead_letter_topic = %context.dead_letter_topic,
                    message_id = %message.id,
                    error = %err,
                    "writing a dead letter failed; retrying"
                );
                let pause = context.options.backoff.delay(failures);
                if !pause_unless_stopped(pause, stopped.clone()).await {
                    return false;
                }
            }
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}

#[cfg(all(test, feature = "memory"))]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::backends::memory::{MemoryBackend, MemorySettings};
    use crate::handler_fn;

    /// Hands out the batches it was given, then nothing.
    struct Scripted(VecDeque<Vec<Inbound>>);

    #[async_trait]
    impl Source for Scripted {
        async fn fetch(&mut self, _max: usize) -> Result<Vec<Inbound>> {
            match self.0.pop_front() {
                Some(batch) => Ok(batch),
                None => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok(Vec::new())
                }
            }
        }

        async fn close(self: Box<Self>) -> Result<()> {
            Ok(())
        }
    }

    /// An acknowledgement the broker never answers.
    struct Unanswered;

    #[async_trait]
    impl Ack for Unanswered {
        async fn ack(self: Box<Self>) -> Result<()> {
            std::future::pending().await
        }
    }

    struct Answered;

    #[async_trait]
    impl Ack for Answered {
        async fn ack(self: Box<Self>) -> Result<()> {
            Ok(())
        }
    }

    /// An acknowledgement that notes when it starts, then waits for the
    /// broker to answer (a permit of `answers`).
    struct Gated {
        n: usize,
        started: Arc<std::sync::Mutex<Vec<usize>>>,
        answers: Arc<tokio::sync::Semaphore>,
    }

    #[async_trait]
    impl Ack for Gated {
        async fn ack(self: Box<Self>) -> Result<()> {
            self.started.lock().unwrap().push(self.n);
            self.answers.acquire().await.unwrap().forget();
            Ok(())
        }
    }

    /// An acknowledgement that completes at once (as the memory backend's
    /// and Kafka's do), noting when it starts.
    struct Immediate {
        n: usize,
        started: Arc<std::sync::Mutex<Vec<usize>>>,
    }

    #[async_trait]
    impl Ack for Immediate {
        async fn ack(self: Box<Self>) -> Result<()> {
            self.started.lock().unwrap().push(self.n);
            Ok(())
        }

        fn is_immediate(&self) -> bool {
            true
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_immediate_acknowledgement_starts_after_the_ones_on_their_way() {
        let started = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers = Arc::new(tokio::sync::Semaphore::new(0));
        let gated = Gated {
            n: 0,
            started: Arc::clone(&started),
            answers: Arc::clone(&answers),
        };
        let batch = vec![
            inbound(0, Box::new(gated)),
            inbound(
                1,
                Box::new(Immediate {
                    n: 1,
                    started: Arc::clone(&started),
                }),
            ),
        ];
        let handled = Arc::new(AtomicU64::new(0));
        let consumer = one_slot(batch, 8, &handled);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*started.lock().unwrap(), vec![0, 1]);
        answers.add_permits(1);
        let stats = consumer.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!((stats.acked, stats.ack_failures), (2, 0));
    }

    /// A consumer with one handler slot, handed `batch` once, counting its
    /// handler calls in `handled`.
    fn one_slot(batch: Vec<Inbound>, prefetch: usize, handled: &Arc<AtomicU64>) -> Consumer {
        let options = ConsumeOptions {
            concurrency: 1,
            prefetch,
            ..ConsumeOptions::default()
        };
        spawn(
            Arc::new(MemoryBackend::new(&MemorySettings::default(), 1 << 20)),
            Box::new(Scripted(VecDeque::from([batch]))),
            "orders",
            "workers",
            counting_handler(handled),
            options,
        )
    }

    fn counting_handler(handled: &Arc<AtomicU64>) -> SharedHandler {
        let handled = Arc::clone(handled);
        handler_fn(move |_| {
            let handled = Arc::clone(&handled);
            async move {
                handled.fetch_add(1, Ordering::Relaxed);
                Ok(Outcome::Ack)
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_goes_on_to_its_next_message_while_the_broker_takes_the_last_acknowledgement() {
        let GatedSlot {
            consumer,
            started,
            answers,
            handled,
        } = gated_slot(5, 8).await;
        // No acknowledgement answered yet, and every message handled.
        assert_eq!(handled.load(Ordering::Relaxed), 5);
        assert_eq!(consumer.stats().acked, 0);
        // Started in the order the slot finished them (Kafka stores offsets
        // as they start: out of order, a committed offset would go back).
        assert_eq!(*started.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        // Shutting down waits for the acknowledgements on their way.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            answers.add_permits(5);
        });
        let stats = consumer.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!((stats.acked, stats.ack_failures), (5, 0));
    }

    /// A one-slot consumer a second after it was handed `count` messages
    /// whose acknowledgements wait for permits of `answers`.
    struct GatedSlot {
        consumer: Consumer,
        /// The acknowledgements started, in order.
        started: Arc<std::sync::Mutex<Vec<usize>>>,
        answers: Arc<tokio::sync::Semaphore>,
        /// Handler calls.
        handled: Arc<AtomicU64>,
    }

    async fn gated_slot(count: usize, prefetch: usize) -> GatedSlot {
        let started = Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers = Arc::new(tokio::sync::Semaphore::new(0));
        let batch = (0..count)
            .map(|n| {
                let ack = Gated {
                    n,
                    started: Arc::clone(&started),
                    answers: Arc::clone(&answers),
                };
                inbound(n, Box::new(ack))
            })
            .collect();
        let handled = Arc::new(AtomicU64::new(0));
        let consumer = one_slot(batch, prefetch, &handled);
        tokio::time::sleep(Duration::from_secs(1)).await;
        GatedSlot {
            consumer,
            started,
            answers,
            handled,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_keeps_its_share_of_the_prefetch_of_acknowledgements_on_their_way() {
        let GatedSlot {
            consumer,
            started,
            answers,
            handled,
        } = gated_slot(250, 100).await;
        // None answered: 100 on their way, started in order, 100 waiting to
        // start, and the handler loop waits with the 201st message done.
        assert_eq!(*started.lock().unwrap(), (0..100).collect::<Vec<_>>());
        assert_eq!(handled.load(Ordering::Relaxed), 201);
        answers.add_permits(250);
        let stats = consumer.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!((stats.acked, stats.ack_failures), (250, 0));
    }

    fn inbound(n: usize, ack: Box<dyn Ack>) -> Inbound {
        Inbound {
            message: Message::new("orders", n.to_string()),
            attempt: 1,
            lane: 0,
            ack,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_acknowledgement_never_answered_does_not_stall_the_consumer() {
        let mut batch = vec![inbound(0, Box::new(Unanswered))];
        batch.extend((1..6).map(|n| inbound(n, Box::new(Answered))));
        let handled = Arc::new(AtomicU64::new(0));
        let consumer = one_slot(batch, 1, &handled);
        tokio::time::sleep(ACK_TIMEOUT * 2).await;
        let stats = consumer.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(handled.load(Ordering::Relaxed), 6, "{stats:?}");
        assert_eq!((stats.acked, stats.ack_failures), (5, 1));
    }
}
