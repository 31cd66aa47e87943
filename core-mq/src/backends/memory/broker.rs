use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::MemorySettings;
use crate::raw::{self, Ack, Inbound, Source, check_batch, check_consume, check_outgoing, lane_of};
use crate::{
    Capabilities, ConsumeOptions, Consumer, Message, MessageQueueBase, MqSettings, SharedHandler,
    StartPosition,
};

const BACKEND: &str = "memory";

/// How long an idle fetch waits for a message before returning empty.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// The in-memory backend. Clones share the same topics.
///
/// ```
/// use core_mq::{DEFAULT_MAX_MESSAGE_BYTES, MessageQueueBase};
/// use core_mq::backends::memory::{MemoryBackend, MemorySettings};
///
/// let queue = MemoryBackend::new(&MemorySettings::default(), DEFAULT_MAX_MESSAGE_BYTES);
/// assert_eq!(queue.name(), "memory");
/// assert!(!queue.capabilities().shared);
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

struct Inner {
    settings: MemorySettings,
    max_message_bytes: usize,
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
            .field("settings", &self.inner.settings)
            .field("max_message_bytes", &self.inner.max_message_bytes)
            .finish_non_exhaustive()
    }
}

/// The registration's connect function.
pub(super) fn open(settings: &MqSettings) -> BoxFuture<'_, Result<Arc<dyn MessageQueueBase>>> {
    let backend = MemoryBackend::new(&settings.memory, settings.max_message_bytes);
    Box::pin(std::future::ready(Ok(
        Arc::new(backend) as Arc<dyn MessageQueueBase>
    )))
}

impl MemoryBackend {
    /// An empty backend that refuses messages over `max_message_bytes`.
    pub fn new(settings: &MemorySettings, max_message_bytes: usize) -> MemoryBackend {
        MemoryBackend {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                max_message_bytes,
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
            topic.trim(self.settings.max_retained.saturating_sub(*count));
            if topic.log.len() + count > self.settings.max_retained {
                return Err(Error::unavailable(format!(
                    "the in-memory topic holds {} messages a group has not received yet (max_retained {})",
                    topic.log.len(),
                    self.settings.max_retained
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

    fn is_immediate(&self) -> bool {
        true
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
        check_outgoing(BACKEND, &message, self.inner.max_message_bytes)?;
        self.inner.append(vec![message])
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        check_batch(BACKEND, &messages, self.inner.max_message_bytes)?;
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
        Ok(raw::spawn(
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
