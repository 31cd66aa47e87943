//! In-process queues with the brokers' semantics: groups, acknowledgement,
//! redelivery of what a stopped consumer left unacknowledged, retry and
//! dead letters. The default for tests and the quickstart.
//!
//! Each topic keeps a log of its messages; each group has a cursor into it
//! and a list of messages to deliver again. A fetched message is *leased*:
//! acknowledging it ends the lease, and dropping the lease unacknowledged
//! (a consumer aborted or shut down mid-message) puts the message back.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use tokio::sync::Notify;

use crate::backend::{check_batch, check_consume, check_outgoing};
use crate::consumer::{self, Ack, Inbound, Source, lane_of};
use crate::{
    Capabilities, ConsumeOptions, Consumer, DEFAULT_MAX_MESSAGE_BYTES, Message, MessageQueueBase,
    SharedHandler, StartPosition,
};

const BACKEND: &str = "memory";

/// How long an idle fetch waits for a message before returning empty.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Limits of the in-memory backend.
///
/// ```
/// use core_mq::backends::memory::MemoryConfig;
///
/// assert_eq!(MemoryConfig::default().max_retained, 100_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Messages kept per topic. Past it, messages every group has already
    /// received are dropped; if a group still needs them, `publish` fails
    /// with a temporary error instead of losing anything. Default 100 000.
    pub max_retained: usize,
    /// The largest message accepted. Default 1 MiB.
    pub max_message_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            max_retained: 100_000,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// The in-memory backend. Clones share the same topics.
///
/// ```
/// use core_mq::MessageQueueBase;
/// use core_mq::backends::memory::{MemoryBackend, MemoryConfig};
///
/// let queue = MemoryBackend::new(MemoryConfig::default());
/// assert_eq!(queue.name(), "memory");
/// assert!(!queue.capabilities().shared);
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

struct Inner {
    config: MemoryConfig,
    topics: Mutex<HashMap<String, Topic>>,
}

#[derive(Default)]
struct Topic {
    /// Offset of `log[0]`.
    base: u64,
    log: VecDeque<Arc<Message>>,
    groups: HashMap<String, Group>,
    arrived: Arc<Notify>,
}

#[derive(Default)]
struct Group {
    /// Offset of the next message never delivered to this group.
    next: u64,
    /// Messages to deliver again, by offset, with their deliveries so far.
    again: VecDeque<(u64, Arc<Message>, u32)>,
}

impl Topic {
    fn end(&self) -> u64 {
        self.base + self.log.len() as u64
    }

    /// Drops messages every group has received, down to `keep`.
    fn trim(&mut self, keep: usize) {
        let oldest_needed = self.groups.values().map(|group| group.next).min();
        while self.log.len() > keep {
            match oldest_needed {
                Some(needed) if needed <= self.base => break,
                _ => {
                    self.log.pop_front();
                    self.base += 1;
                }
            }
        }
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new(config: MemoryConfig) -> MemoryBackend {
        MemoryBackend {
            inner: Arc::new(Inner {
                config,
                topics: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Inner {
    fn topics(&self) -> MutexGuard<'_, HashMap<String, Topic>> {
        // A panic while holding the lock leaves consistent data (every
        // mutation is a single step), so a poisoned lock is still usable.
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append(&self, messages: Vec<Message>) -> Result<()> {
        let mut topics = self.topics();
        // All or nothing per call: check room first.
        let mut wanted: HashMap<&str, usize> = HashMap::new();
        for message in &messages {
            *wanted.entry(message.topic.as_str()).or_default() += 1;
        }
        for (name, count) in &wanted {
            let topic = topics.entry((*name).to_string()).or_default();
            topic.trim(self.config.max_retained.saturating_sub(*count));
            if topic.log.len() + count > self.config.max_retained {
                return Err(Error::unavailable(format!(
                    "the in-memory topic holds {} messages a group has not received yet (max_retained {})",
                    topic.log.len(),
                    self.config.max_retained
                ))
                .with_operation("mq.publish")
                .with_backend(BACKEND)
                .with_key(*name));
            }
        }
        for message in messages {
            let topic = topics.entry(message.topic.clone()).or_default();
            topic.log.push_back(Arc::new(message));
            topic.arrived.notify_waiters();
        }
        Ok(())
    }

    /// Leases up to `max` messages of `topic` to a consumer of `group`.
    fn take(self: &Arc<Self>, topic_name: &str, group_name: &str, max: usize) -> Vec<Inbound> {
        let mut topics = self.topics();
        let Some(topic) = topics.get_mut(topic_name) else {
            return Vec::new();
        };
        let (base, end) = (topic.base, topic.end());
        let mut taken = Vec::new();
        let log = &topic.log;
        let Some(group) = topic.groups.get_mut(group_name) else {
            return Vec::new();
        };
        while taken.len() < max {
            let (offset, message, deliveries) = if let Some(again) = group.again.pop_front() {
                again
            } else if group.next < end {
                let offset = group.next.max(base);
                group.next = offset + 1;
                (offset, Arc::clone(&log[(offset - base) as usize]), 0)
            } else {
                break;
            };
            taken.push(Inbound {
                lane: lane_of(&message),
                attempt: deliveries + 1,
                message: Message::clone(&message),
                ack: Box::new(Lease {
                    inner: Arc::clone(self),
                    topic: topic_name.to_string(),
                    group: group_name.to_string(),
                    entry: Some((offset, message, deliveries + 1)),
                }),
            });
        }
        taken
    }
}

/// A delivered message; dropped unacknowledged, it goes back to its group.
struct Lease {
    inner: Arc<Inner>,
    topic: String,
    group: String,
    entry: Option<(u64, Arc<Message>, u32)>,
}

#[async_trait]
impl Ack for Lease {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        self.entry = None;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let mut topics = self.inner.topics();
        let Some(topic) = topics.get_mut(&self.topic) else {
            return;
        };
        if let Some(group) = topic.groups.get_mut(&self.group) {
            let at = group
                .again
                .partition_point(|(offset, _, _)| *offset < entry.0);
            group.again.insert(at, entry);
            topic.arrived.notify_waiters();
        }
    }
}

struct MemorySource {
    inner: Arc<Inner>,
    topic: String,
    group: String,
    arrived: Arc<Notify>,
}

#[async_trait]
impl Source for MemorySource {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        let arrived = Arc::clone(&self.arrived);
        let notified = arrived.notified();
        tokio::pin!(notified);
        // Registered before looking, so a publish in between still wakes us.
        notified.as_mut().enable();
        let batch = self.inner.take(&self.topic, &self.group, max);
        if !batch.is_empty() {
            return Ok(batch);
        }
        let _ = tokio::time::timeout(IDLE_WAIT, notified).await;
        Ok(self.inner.take(&self.topic, &self.group, max))
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl MessageQueueBase for MemoryBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            replay: true,
            durable: false,
            shared: false,
            claims_abandoned: false,
            broker_retries: false,
            lag: false,
        }
    }

    async fn publish(&self, message: Message) -> Result<()> {
        check_outgoing(BACKEND, &message, self.inner.config.max_message_bytes)?;
        self.inner.append(vec![message])
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        check_batch(BACKEND, &messages, self.inner.config.max_message_bytes)?;
        self.inner.append(messages)
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        check_consume(BACKEND, topic, group, &options)?;
        let arrived = {
            let mut topics = self.inner.topics();
            let state = topics.entry(topic.to_string()).or_default();
            let (base, end) = (state.base, state.end());
            state
                .groups
                .entry(group.to_string())
                .or_insert_with(|| Group {
                    next: match options.start {
                        StartPosition::Earliest => base,
                        StartPosition::Latest => end,
                    },
                    again: VecDeque::new(),
                });
            Arc::clone(&state.arrived)
        };
        let source = MemorySource {
            inner: Arc::clone(&self.inner),
            topic: topic.to_string(),
            group: group.to_string(),
            arrived,
        };
        Ok(consumer::spawn(
            Arc::new(self.clone()),
            Box::new(source),
            topic,
            group,
            handler,
            options,
        ))
    }

    async fn health(&self, _timeout: std::time::Duration) -> Result<()> {
        // In process: nothing to reach.
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
