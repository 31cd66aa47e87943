//! A queue backend written outside core-mq, from its public API alone
//! (`MessageQueueBase` and the `raw` module), as a backend in another crate
//! would be: an in-process broker of its own design that reuses core-mq's
//! consumer engine. It runs the whole conformance suite (`outside::`), which
//! proves that surface is public and enough.
//!
//! Each topic is an append-only log; each group has a cursor into it and
//! the deliveries it was given back (a dropped acknowledgement), which it
//! hands out again first, oldest first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use core_mq::raw::{self, Ack, Inbound, Source};
use core_mq::{
    Capabilities, ConsumeOptions, Consumer, DEFAULT_MAX_MESSAGE_BYTES, Message, MessageQueueBase,
    Result, SharedHandler, StartPosition,
};
use tokio::sync::Notify;

const NAME: &str = "outside-log";

/// The broker: every topic's log and groups behind one lock.
#[derive(Clone, Default)]
pub(crate) struct LogBroker {
    state: Arc<State>,
}

impl std::fmt::Debug for LogBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBroker").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    topics: Mutex<HashMap<String, Log>>,
    /// Woken whenever a message is appended or given back.
    changed: Notify,
}

#[derive(Default)]
struct Log {
    messages: Vec<Arc<Message>>,
    groups: HashMap<String, Cursor>,
}

#[derive(Default)]
struct Cursor {
    next: usize,
    /// Given back, by position in the log: (message, deliveries so far).
    given_back: BTreeMap<usize, (Arc<Message>, u32)>,
}

impl State {
    fn topics(&self) -> MutexGuard<'_, HashMap<String, Log>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, messages: Vec<Message>) {
        let mut topics = self.topics();
        for message in messages {
            let log = topics.entry(message.topic.clone()).or_default();
            log.messages.push(Arc::new(message));
        }
        drop(topics);
        self.changed.notify_waiters();
    }

    /// Up to `max` deliveries for `group`: given-back ones first.
    fn deliver(self: &Arc<Self>, topic: &str, group: &str, max: usize) -> Vec<Inbound> {
        let mut topics = self.topics();
        let Some(log) = topics.get_mut(topic) else {
            return Vec::new();
        };
        let Some(cursor) = log.groups.get_mut(group) else {
            return Vec::new();
        };
        let mut delivered = Vec::new();
        while delivered.len() < max {
            let (position, message, deliveries) =
                if let Some((position, (message, deliveries))) = cursor.given_back.pop_first() {
                    (position, message, deliveries)
                } else if let Some(message) = log.messages.get(cursor.next) {
                    cursor.next += 1;
                    (cursor.next - 1, Arc::clone(message), 0)
                } else {
                    break;
                };
            delivered.push(Inbound {
                lane: raw::lane_of(&message),
                attempt: deliveries + 1,
                message: Message::clone(&message),
                ack: Box::new(Delivery {
                    state: Arc::clone(self),
                    topic: topic.to_string(),
                    group: group.to_string(),
                    unsettled: Some((position, message, deliveries + 1)),
                }),
            });
        }
        delivered
    }
}

/// One delivery; dropped unsettled, it goes back to its group.
struct Delivery {
    state: Arc<State>,
    topic: String,
    group: String,
    unsettled: Option<(usize, Arc<Message>, u32)>,
}

#[async_trait]
impl Ack for Delivery {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        self.unsettled = None;
        Ok(())
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        let Some((position, message, deliveries)) = self.unsettled.take() else {
            return;
        };
        let mut topics = self.state.topics();
        if let Some(cursor) = topics
            .get_mut(&self.topic)
            .and_then(|log| log.groups.get_mut(&self.group))
        {
            cursor.given_back.insert(position, (message, deliveries));
        }
        drop(topics);
        self.state.changed.notify_waiters();
    }
}

struct Subscription {
    state: Arc<State>,
    topic: String,
    group: String,
}

#[async_trait]
impl Source for Subscription {
    async fn fetch(&mut self, max: usize) -> Result<Vec<Inbound>> {
        // Registered before looking, so an append in between still wakes us.
        let changed = self.state.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let delivered = self.state.deliver(&self.topic, &self.group, max);
        if !delivered.is_empty() {
            return Ok(delivered);
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
        Ok(self.state.deliver(&self.topic, &self.group, max))
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl MessageQueueBase for LogBroker {
    fn name(&self) -> &'static str {
        NAME
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
        raw::check_outgoing(NAME, &message, DEFAULT_MAX_MESSAGE_BYTES)?;
        self.state.append(vec![message]);
        Ok(())
    }

    async fn publish_batch(&self, messages: Vec<Message>) -> Result<()> {
        raw::check_batch(NAME, &messages, DEFAULT_MAX_MESSAGE_BYTES)?;
        self.state.append(messages);
        Ok(())
    }

    async fn consume(
        &self,
        topic: &str,
        group: &str,
        handler: SharedHandler,
        options: ConsumeOptions,
    ) -> Result<Consumer> {
        raw::check_consume(NAME, topic, group, &options)?;
        {
            let mut topics = self.state.topics();
            let log = topics.entry(topic.to_string()).or_default();
            let end = log.messages.len();
            log.groups
                .entry(group.to_string())
                .or_insert_with(|| Cursor {
                    next: match options.start {
                        StartPosition::Earliest => 0,
                        StartPosition::Latest => end,
                    },
                    given_back: BTreeMap::new(),
                });
        }
        let subscription = Subscription {
            state: Arc::clone(&self.state),
            topic: topic.to_string(),
            group: group.to_string(),
        };
        Ok(raw::spawn(
            Arc::new(self.clone()),
            Box::new(subscription),
            topic,
            group,
            handler,
            options,
        ))
    }

    async fn health(&self, _timeout: Duration) -> Result<()> {
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
