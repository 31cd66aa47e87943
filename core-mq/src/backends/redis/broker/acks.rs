//! A consumer's acknowledgements, sent as one `XACK` per batch.
//!
//! The handler slots hand over each entry they are done with and go on
//! (see `consumer.rs`), so at saturation many are on their way at once; an
//! `XACK` each costs a command on both sides of the connection per
//! message. Here one task sends everything handed over since its last
//! `XACK` in the next one, and answers each acknowledgement with that
//! command's result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use core_error::{Error, Result};
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{BACKEND, error};
use crate::raw::Ack;

/// Entries in one `XACK` at most.
const MAX_ENTRIES_PER_XACK: usize = 512;

/// One entry waiting for its `XACK`, and who waits for the answer.
struct HandedOver {
    entry: String,
    answer: oneshot::Sender<std::result::Result<(), Arc<Error>>>,
}

/// The task sending one consumer's acknowledgements; stopped when dropped,
/// so a consumer that is aborted (a crash) acknowledges nothing more.
pub(super) struct Acknowledger {
    to_task: mpsc::UnboundedSender<HandedOver>,
    stream: Arc<str>,
    /// `XACK` commands sent so far (the tests read it).
    #[cfg_attr(not(test), allow(dead_code))]
    commands: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Acknowledger {
    /// Starts the task for `group`'s entries of `stream`, on `connection`.
    pub(super) fn start(connection: ConnectionManager, stream: &str, group: &str) -> Acknowledger {
        let (to_task, handed_over) = mpsc::unbounded_channel();
        let commands = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(acknowledge(
            connection,
            stream.to_string(),
            group.to_string(),
            handed_over,
            Arc::clone(&commands),
        ));
        Acknowledger {
            to_task,
            stream: stream.into(),
            commands,
            task,
        }
    }

    /// How many `XACK` commands carried the acknowledgements so far.
    #[cfg(test)]
    fn commands_sent(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// The acknowledgement of `entry`.
    pub(super) fn ack(&self, entry: String) -> EntryAck {
        EntryAck {
            to_task: self.to_task.clone(),
            stream: Arc::clone(&self.stream),
            entry,
        }
    }
}

impl Drop for Acknowledger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn acknowledge(
    mut connection: ConnectionManager,
    stream: String,
    group: String,
    mut handed_over: mpsc::UnboundedReceiver<HandedOver>,
    commands: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(MAX_ENTRIES_PER_XACK);
    while handed_over
        .recv_many(&mut batch, MAX_ENTRIES_PER_XACK)
        .await
        > 0
    {
        // An acknowledgement nobody waits for any more timed out in the
        // consumer, which counted it as failed and expects a redelivery:
        // leave its entry pending, to be claimed again.
        batch.retain(|entry| !entry.answer.is_closed());
        if batch.is_empty() {
            continue;
        }
        let mut xack = redis::cmd("XACK");
        xack.arg(&stream).arg(&group);
        for entry in &batch {
            xack.arg(&entry.entry);
        }
        commands.fetch_add(1, Ordering::Relaxed);
        let sent = xack
            .query_async::<u64>(&mut connection)
            .await
            .map(drop)
            .map_err(|err| Arc::new(error::map(err, "mq.ack", &stream)));
        for entry in batch.drain(..) {
            // Nobody waits any more when the slot was stopped: nothing to tell.
            let _ = entry.answer.send(sent.clone());
        }
    }
}

/// Settles one entry through its consumer's [`Acknowledger`].
pub(super) struct EntryAck {
    to_task: mpsc::UnboundedSender<HandedOver>,
    stream: Arc<str>,
    entry: String,
}

#[async_trait]
impl Ack for EntryAck {
    async fn ack(self: Box<Self>) -> Result<()> {
        let (answer, answered) = oneshot::channel();
        let handed_over = self.to_task.send(HandedOver {
            entry: self.entry,
            answer,
        });
        let failed = match handed_over {
            Ok(()) => match answered.await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(sent)) => Some(sent),
                Err(_) => None,
            },
            Err(_) => None,
        };
        let err = match failed {
            Some(sent) => Error::new(sent.kind(), "the XACK carrying this entry failed")
                .with_temporary(sent.is_temporary())
                .with_source(sent),
            // The consumer is stopping: the entry stays pending and is
            // delivered again.
            None => Error::unavailable("the consumer stopped before acknowledging the entry"),
        };
        Err(err
            .with_operation("mq.ack")
            .with_backend(BACKEND)
            .with_key(self.stream.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use core_testkit::{Service, require_service, unique_name};
    use futures::future::join_all;

    use super::*;

    /// A fresh stream whose group has read entries it has not acknowledged.
    struct Delivered {
        connection: ConnectionManager,
        stream: String,
        group: String,
        entries: Vec<String>,
    }

    impl Delivered {
        async fn new(url: String, entries: usize) -> Delivered {
            let client = redis::Client::open(url).expect("client");
            let mut connection = ConnectionManager::new(client).await.expect("connect");
            let (stream, group) = (unique_name("acks"), unique_name("acks_g"));
            let _: () = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&stream)
                .arg(&group)
                .arg("$")
                .arg("MKSTREAM")
                .query_async(&mut connection)
                .await
                .expect("create the group");
            for n in 0..entries {
                let _: String = redis::cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("n")
                    .arg(n)
                    .query_async(&mut connection)
                    .await
                    .expect("add an entry");
            }
            let read: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&group)
                .arg("reader")
                .arg("COUNT")
                .arg(entries)
                .arg("STREAMS")
                .arg(&stream)
                .arg(">")
                .query_async(&mut connection)
                .await
                .expect("read the entries");
            let entries = read
                .keys
                .into_iter()
                .flat_map(|key| key.ids)
                .map(|entry| entry.id)
                .collect();
            Delivered {
                connection,
                stream,
                group,
                entries,
            }
        }

        fn acknowledger(&self) -> Acknowledger {
            Acknowledger::start(self.connection.clone(), &self.stream, &self.group)
        }

        async fn still_pending(&mut self) -> u64 {
            let summary: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
                .arg(&self.stream)
                .arg(&self.group)
                .query_async(&mut self.connection)
                .await
                .expect("XPENDING");
            summary.0
        }

        async fn delete(mut self) {
            let _: () = redis::cmd("DEL")
                .arg(&self.stream)
                .query_async(&mut self.connection)
                .await
                .expect("clean up");
        }
    }

    #[tokio::test]
    async fn acknowledgements_handed_over_together_go_in_one_xack() {
        let mut stream = Delivered::new(require_service!(Service::Redis), 100).await;
        assert_eq!(stream.entries.len(), 100);

        let acknowledger = stream.acknowledger();
        let answers = join_all(
            stream
                .entries
                .iter()
                .map(|entry| Box::new(acknowledger.ack(entry.clone())).ack()),
        )
        .await;

        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(stream.still_pending().await, 0);
        assert_eq!(acknowledger.commands_sent(), 1);
        stream.delete().await;
    }

    #[tokio::test]
    async fn an_acknowledgement_given_up_on_before_its_xack_leaves_the_entry_pending() {
        let mut stream = Delivered::new(require_service!(Service::Redis), 2).await;

        let acknowledger = stream.acknowledger();
        // Handed over, then dropped unanswered: the consumer's timeout.
        let abandoned = Box::new(acknowledger.ack(stream.entries[0].clone())).ack();
        assert!(futures::FutureExt::now_or_never(abandoned).is_none());
        Box::new(acknowledger.ack(stream.entries[1].clone()))
            .ack()
            .await
            .expect("the second is acknowledged");

        assert_eq!(stream.still_pending().await, 1);
        assert_eq!(acknowledger.commands_sent(), 1);
        stream.delete().await;
    }

    #[tokio::test]
    async fn an_acknowledgement_after_its_consumer_stopped_fails_and_leaves_the_entry_pending() {
        let mut stream = Delivered::new(require_service!(Service::Redis), 1).await;

        let acknowledger = stream.acknowledger();
        let ack = Box::new(acknowledger.ack(stream.entries[0].clone()));
        drop(acknowledger);
        let err = ack.ack().await.expect_err("nobody sends it");

        assert_eq!(err.kind(), core_error::ErrorKind::Unavailable);
        assert_eq!(err.context_value("key"), Some(stream.stream.as_str()));
        assert_eq!(stream.still_pending().await, 1);
        stream.delete().await;
    }
}
