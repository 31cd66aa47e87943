//! The behaviour every message-queue backend must show. Written once,
//! against the trait. Every wait is bounded by the target's patience, so a
//! broken backend fails a case instead of hanging it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_mq::{
    ATTEMPTS_HEADER, ConsumeOptions, Consumer, DEAD_LETTER_REASON_HEADER, Delivery, Error,
    ErrorKind, Message, MessageQueueBase, ORIGINAL_TOPIC_HEADER, Outcome, SharedHandler,
    handler_fn,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Target;

/// How long a graceful shutdown may take.
const SHUTDOWN: Duration = Duration::from_secs(30);

/// Every delivery a handler saw, in order.
#[derive(Clone, Default)]
pub(crate) struct Seen(Arc<Mutex<Vec<Delivery>>>);

impl Seen {
    fn push(&self, delivery: Delivery) {
        self.0.lock().unwrap().push(delivery);
    }

    fn all(&self) -> Vec<Delivery> {
        self.0.lock().unwrap().clone()
    }

    fn ids(&self) -> BTreeSet<Uuid> {
        self.all().iter().map(|d| d.message.id).collect()
    }

    /// Waits until `done` holds for what was seen, or fails the case.
    async fn wait_for(
        &self,
        patience: Duration,
        what: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let seen = self.all();
            if done(&seen) {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within {patience:?}; saw {} deliveries",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A handler that records each delivery, then answers with `answer`
/// (which may panic, sleep, or fail).
fn recording(
    seen: &Seen,
    answer: impl Fn(&Delivery) -> core_mq::Result<Outcome> + Send + Sync + 'static,
) -> SharedHandler {
    let seen = seen.clone();
    let answer = Arc::new(answer);
    handler_fn(move |delivery: Delivery| {
        let seen = seen.clone();
        let answer = Arc::clone(&answer);
        async move {
            seen.push(delivery.clone());
            answer(&delivery)
        }
    })
}

/// A handler that takes `pause` per message and records it once finished.
fn slow(finished: &Seen, pause: Duration) -> SharedHandler {
    let finished = finished.clone();
    handler_fn(move |delivery: Delivery| {
        let finished = finished.clone();
        async move {
            tokio::time::sleep(pause).await;
            finished.push(delivery);
            Ok(Outcome::Ack)
        }
    })
}

fn ack(_: &Delivery) -> core_mq::Result<Outcome> {
    Ok(Outcome::Ack)
}

fn quick_retries() -> ConsumeOptions {
    ConsumeOptions {
        backoff: core_mq::Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        claim_after: Duration::from_secs(2),
        ..ConsumeOptions::default()
    }
}

async fn start(
    queue: &dyn MessageQueueBase,
    topic: &str,
    group: &str,
    handler: SharedHandler,
    options: ConsumeOptions,
) -> Consumer {
    queue
        .consume(topic, group, handler, options)
        .await
        .unwrap_or_else(|err| panic!("consume {topic} as {group}: {err}"))
}

async fn stop(consumer: Consumer) {
    consumer
        .shutdown(SHUTDOWN)
        .await
        .expect("graceful shutdown within the deadline");
}

fn numbered(topic: &str, count: usize, key: impl Fn(usize) -> Option<String>) -> Vec<Message> {
    (0..count)
        .map(|n| {
            let mut message = Message::new(topic, n.to_string());
            message.key = key(n);
            message
        })
        .collect()
}

async fn publish_all(queue: &dyn MessageQueueBase, messages: &[Message]) {
    for message in messages {
        queue.publish(message.clone()).await.expect("publish");
    }
}

fn ids(messages: &[Message]) -> BTreeSet<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

pub(crate) async fn a_message_round_trips_with_every_field(t: &Target) {
    let seen = Seen::default();
    let consumer = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        recording(&seen, ack),
        ConsumeOptions::default(),
    )
    .await;
    let sent = Message::new(&t.topic, &b"h\xc3\xa9llo \x00 binary \xff"[..])
        .with_key("customer-42")
        .with_header("tenant", "acme")
        .with_header("unicode", "Zoë 🚀")
        .with_content_type("application/octet-stream")
        .with_correlation_id("corr-1")
        .with_causation_id("cause-1");
    t.queue.publish(sent.clone()).await.expect("publish");
    let seen = seen
        .wait_for(t.patience, "the message arrives", |s| !s.is_empty())
        .await;
    let got = &seen[0];
    assert_eq!(got.attempt, 1);
    assert_eq!(got.group, t.group("g"));
    let mut received = got.message.clone();
    // Layers may add trace context; everything the publisher set must be intact.
    received.headers.remove(core_mq::layers::TRACEPARENT_HEADER);
    assert_eq!(received, sent);
    stop(consumer).await;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderPlaced {
    order: u64,
    customer: String,
    lines: Vec<(String, u32)>,
}

pub(crate) async fn typed_json_payloads_round_trip(t: &Target) {
    let seen = Seen::default();
    let consumer = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        recording(&seen, ack),
        ConsumeOptions::default(),
    )
    .await;
    let order = OrderPlaced {
        order: 7,
        customer: "Ångström".to_string(),
        lines: vec![("widget".to_string(), 3)],
    };
    t.queue
        .publish(Message::json(&t.topic, &order).unwrap())
        .await
        .expect("publish");
    let seen = seen
        .wait_for(t.patience, "the order arrives", |s| !s.is_empty())
        .await;
    assert_eq!(seen[0].message.decode_json::<OrderPlaced>().unwrap(), order);
    assert_eq!(
        seen[0].message.content_type.as_deref(),
        Some(core_mq::JSON_CONTENT_TYPE)
    );
    stop(consumer).await;
}

pub(crate) async fn order_is_kept_per_key(t: &Target) {
    let seen = Seen::default();
    let options = ConsumeOptions {
        concurrency: 4,
        ..ConsumeOptions::default()
    };
    let consumer = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        recording(&seen, ack),
        options,
    )
    .await;
    let keys = ["a", "b", "c"];
    let sent = numbered(&t.topic, 60, |n| Some(keys[n % 3].to_string()));
    publish_all(&*t.queue, &sent).await;
    let seen = seen
        .wait_for(t.patience, "all 60 arrive", |s| s.len() >= 60)
        .await;
    let mut per_key: HashMap<String, Vec<usize>> = HashMap::new();
    for delivery in &seen {
        let n: usize = std::str::from_utf8(&delivery.message.body)
            .unwrap()
            .parse()
            .unwrap();
        per_key
            .entry(delivery.message.key.clone().unwrap())
            .or_default()
            .push(n);
    }
    for (key, order) in per_key {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "messages of key {key} out of order");
    }
    stop(consumer).await;
}

pub(crate) async fn a_group_shares_the_work_and_each_group_gets_everything(t: &Target) {
    let (first, second, other) = (Seen::default(), Seen::default(), Seen::default());
    let pace = |_: &Delivery| {
        std::thread::sleep(Duration::from_millis(5));
        Ok(Outcome::Ack)
    };
    let second_client = t.another_client().await;
    let c1 = start(
        &*t.queue,
        &t.topic,
        &t.group("shared"),
        recording(&first, pace),
        ConsumeOptions::default(),
    )
    .await;
    let c2 = start(
        &*second_client,
        &t.topic,
        &t.group("shared"),
        recording(&second, pace),
        ConsumeOptions::default(),
    )
    .await;
    let c3 = start(
        &*t.queue,
        &t.topic,
        &t.group("other"),
        recording(&other, ack),
        ConsumeOptions::default(),
    )
    .await;
    let sent = numbered(&t.topic, 80, |n| Some(format!("k{n}")));
    publish_all(&*t.queue, &sent).await;
    let expected = ids(&sent);

    other
        .wait_for(t.patience, "the other group gets every message", |s| {
            s.iter().map(|d| d.message.id).collect::<BTreeSet<_>>() == expected
        })
        .await;
    let deadline = tokio::time::Instant::now() + t.patience;
    loop {
        let union: BTreeSet<Uuid> = first.ids().union(&second.ids()).copied().collect();
        if union == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the shared group handled {} of 80",
            union.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !first.all().is_empty() && !second.all().is_empty(),
        "both consumers of the group took a share: {} and {}",
        first.all().len(),
        second.all().len()
    );
    for consumer in [c1, c2, c3] {
        stop(consumer).await;
    }
}

pub(crate) async fn retry_then_success(t: &Target) {
    let seen = Seen::default();
    let handler = recording(&seen, |d| {
        Ok(if d.attempt < 3 {
            Outcome::Retry(Duration::from_millis(50))
        } else {
            Outcome::Ack
        })
    });
    let consumer = start(&*t.queue, &t.topic, &t.group("g"), handler, quick_retries()).await;
    let sent = Message::new(&t.topic, "flaky");
    t.queue.publish(sent.clone()).await.unwrap();
    let seen = seen
        .wait_for(t.patience, "three attempts", |s| s.len() >= 3)
        .await;
    let attempts: Vec<u32> = seen.iter().map(|d| d.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(seen.iter().all(|d| d.message.id == sent.id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seen.len(),
        3,
        "an acknowledged message is not delivered again"
    );
    let stats = consumer.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!((stats.acked, stats.retried, stats.dead_lettered), (1, 2, 0));
}

pub(crate) async fn a_temporary_error_is_retried(t: &Target) {
    let seen = Seen::default();
    let handler = recording(&seen, |d| {
        if d.attempt == 1 {
            Err(Error::unavailable("the downstream service is down"))
        } else {
            Ok(Outcome::Ack)
        }
    });
    let consumer = start(&*t.queue, &t.topic, &t.group("g"), handler, quick_retries()).await;
    t.queue.publish(Message::new(&t.topic, "x")).await.unwrap();
    seen.wait_for(t.patience, "a second attempt", |s| s.len() >= 2)
        .await;
    let stats = consumer.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!((stats.acked, stats.retried, stats.dead_lettered), (1, 1, 0));
}

/// Starts a consumer of `topic`'s dead-letter topic that records what arrives.
async fn watch_dead_letters(t: &Target, options: &ConsumeOptions) -> (Seen, Consumer) {
    let letters = Seen::default();
    let dead_letter_topic = options.dead_letter_topic_for(&t.topic);
    let consumer = start(
        &*t.queue,
        &dead_letter_topic,
        &t.group("inspector"),
        recording(&letters, ack),
        ConsumeOptions::default(),
    )
    .await;
    (letters, consumer)
}

pub(crate) async fn max_attempts_lead_to_the_dead_letter_topic_with_the_reason(t: &Target) {
    let options = ConsumeOptions {
        max_attempts: 3,
        dead_letter_topic: Some(format!("{}.dlq", t.topic)),
        ..quick_retries()
    };
    let (letters, inspector) = watch_dead_letters(t, &options).await;
    let seen = Seen::default();
    let handler = recording(&seen, |_| Ok(Outcome::Retry(Duration::from_millis(10))));
    let consumer = start(&*t.queue, &t.topic, &t.group("g"), handler, options).await;
    let sent = Message::new(&t.topic, "poison").with_key("k");
    t.queue.publish(sent.clone()).await.unwrap();

    let letters = letters
        .wait_for(t.patience, "the dead letter arrives", |s| !s.is_empty())
        .await;
    let letter = &letters[0].message;
    assert_eq!(letter.id, sent.id);
    assert_eq!(letter.body, sent.body);
    assert_eq!(letter.key, sent.key);
    let reason = &letter.headers[DEAD_LETTER_REASON_HEADER];
    assert!(
        reason.contains("gave up after 3 attempts"),
        "reason: {reason}"
    );
    assert_eq!(letter.headers[ORIGINAL_TOPIC_HEADER], t.topic);
    assert_eq!(letter.headers[ATTEMPTS_HEADER], "3");
    assert_eq!(seen.all().len(), 3, "exactly max_attempts attempts");
    let stats = consumer.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!((stats.acked, stats.dead_lettered), (0, 1));
    stop(inspector).await;
}

pub(crate) async fn a_dead_letter_answer_or_a_permanent_error_goes_straight_to_the_dead_letter_topic(
    t: &Target,
) {
    let options = quick_retries();
    let (letters, inspector) = watch_dead_letters(t, &options).await;
    let seen = Seen::default();
    let handler = recording(&seen, |d| {
        if d.message.body == "refuse" {
            Ok(Outcome::DeadLetter("customer unknown".to_string()))
        } else {
            d.message.decode_json::<OrderPlaced>().map(|_| Outcome::Ack)
        }
    });
    let consumer = start(&*t.queue, &t.topic, &t.group("g"), handler, options).await;
    t.queue
        .publish(Message::new(&t.topic, "refuse"))
        .await
        .unwrap();
    t.queue
        .publish(Message::new(&t.topic, "not json"))
        .await
        .unwrap();
    let letters = letters
        .wait_for(t.patience, "two dead letters", |s| s.len() >= 2)
        .await;
    let reasons: BTreeMap<String, String> = letters
        .iter()
        .map(|d| {
            (
                String::from_utf8(d.message.body.to_vec()).unwrap(),
                d.message.headers[DEAD_LETTER_REASON_HEADER].clone(),
            )
        })
        .collect();
    assert_eq!(reasons["refuse"], "customer unknown");
    assert!(reasons["not json"].contains("invalid_input"), "{reasons:?}");
    assert_eq!(seen.all().len(), 2, "no retries for either");
    stop(consumer).await;
    stop(inspector).await;
}

pub(crate) async fn a_panicking_handler_is_retried_and_the_consumer_survives(t: &Target) {
    let seen = Seen::default();
    let handler = recording(&seen, |d| {
        if d.message.body == "boom" && d.attempt == 1 {
            panic!("handler bug");
        }
        Ok(Outcome::Ack)
    });
    let consumer = start(&*t.queue, &t.topic, &t.group("g"), handler, quick_retries()).await;
    t.queue
        .publish(Message::new(&t.topic, "boom").with_key("k"))
        .await
        .unwrap();
    t.queue
        .publish(Message::new(&t.topic, "after").with_key("k"))
        .await
        .unwrap();
    let seen = seen
        .wait_for(t.patience, "retry and the next message", |s| s.len() >= 3)
        .await;
    let mut trail: Vec<(String, u32)> = seen
        .iter()
        .map(|d| {
            (
                String::from_utf8(d.message.body.to_vec()).unwrap(),
                d.attempt,
            )
        })
        .collect();
    if t.queue.capabilities().broker_retries {
        // The retry waited in the broker, behind the next message of its key.
        trail.sort();
        assert_eq!(
            trail,
            vec![("after".into(), 1), ("boom".into(), 1), ("boom".into(), 2)]
        );
    } else {
        assert_eq!(
            trail,
            vec![("boom".into(), 1), ("boom".into(), 2), ("after".into(), 1)]
        );
    }
    let stats = consumer.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!((stats.panics, stats.acked), (1, 2));
}

pub(crate) async fn graceful_shutdown_loses_nothing(t: &Target) {
    let finished = Seen::default();
    let options = ConsumeOptions {
        concurrency: 2,
        prefetch: 8,
        ..quick_retries()
    };
    let consumer = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::from_millis(30)),
        options.clone(),
    )
    .await;
    let sent = numbered(&t.topic, 40, |n| Some(format!("k{n}")));
    publish_all(&*t.queue, &sent).await;
    finished
        .wait_for(t.patience, "some handled", |s| s.len() >= 5)
        .await;
    let stats = consumer
        .shutdown(SHUTDOWN)
        .await
        .expect("graceful shutdown");
    assert_eq!(
        stats.acked as usize,
        finished.all().len(),
        "every finished message was acknowledged"
    );

    let rest = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::ZERO),
        options,
    )
    .await;
    let expected = ids(&sent);
    finished
        .wait_for(t.patience, "every message handled", |s| {
            s.iter().map(|d| d.message.id).collect::<BTreeSet<_>>() == expected
        })
        .await;
    stop(rest).await;
}

pub(crate) async fn a_killed_consumer_leaves_nothing_unhandled(t: &Target) {
    let finished = Seen::default();
    let options = ConsumeOptions {
        concurrency: 2,
        prefetch: 8,
        ..quick_retries()
    };
    let doomed_client = t.another_client().await;
    let doomed = start(
        &*doomed_client,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::from_millis(30)),
        options.clone(),
    )
    .await;
    let sent = numbered(&t.topic, 40, |n| Some(format!("k{n}")));
    publish_all(&*t.queue, &sent).await;
    finished
        .wait_for(t.patience, "some handled", |s| s.len() >= 5)
        .await;
    // A crash: no graceful shutdown, and the process's connections go away.
    doomed.abort();
    if doomed_client.capabilities().shared {
        doomed_client
            .close()
            .await
            .expect("close the killed client");
    }
    drop(doomed_client);

    let survivor = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::ZERO),
        options,
    )
    .await;
    let expected = ids(&sent);
    finished
        .wait_for(t.patience, "every message handled at least once", |s| {
            s.iter().map(|d| d.message.id).collect::<BTreeSet<_>>() == expected
        })
        .await;
    stop(survivor).await;
}

pub(crate) async fn messages_left_unhandled_at_shutdown_still_get_their_attempt(t: &Target) {
    // With one attempt allowed, a message the broker handed out but nobody
    // handled (prefetched when the consumer stopped) must not count as tried.
    let finished = Seen::default();
    let options = ConsumeOptions {
        max_attempts: 1,
        prefetch: 16,
        ..quick_retries()
    };
    let first = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::from_millis(40)),
        options.clone(),
    )
    .await;
    let sent = numbered(&t.topic, 30, |n| Some(format!("k{n}")));
    publish_all(&*t.queue, &sent).await;
    finished
        .wait_for(t.patience, "some handled", |s| s.len() >= 3)
        .await;
    let stats = first.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!(stats.dead_lettered, 0);

    let second = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        slow(&finished, Duration::ZERO),
        options,
    )
    .await;
    let expected = ids(&sent);
    finished
        .wait_for(t.patience, "every message handled", |s| {
            s.iter().map(|d| d.message.id).collect::<BTreeSet<_>>() == expected
        })
        .await;
    let stats = second.shutdown(SHUTDOWN).await.unwrap();
    assert_eq!(stats.dead_lettered, 0, "nothing was dead-lettered untried");
}

pub(crate) async fn start_positions_decide_what_a_new_group_sees(t: &Target) {
    // A first group makes the topic exist everywhere (RabbitMQ routes a
    // message only to queues that exist when it is published).
    let anchor_seen = Seen::default();
    let anchor = start(
        &*t.queue,
        &t.topic,
        &t.group("anchor"),
        recording(&anchor_seen, ack),
        ConsumeOptions::default(),
    )
    .await;
    let old = Message::new(&t.topic, "old");
    t.queue.publish(old.clone()).await.unwrap();
    anchor_seen
        .wait_for(t.patience, "the anchor group gets it", |s| !s.is_empty())
        .await;

    let (earliest, latest) = (Seen::default(), Seen::default());
    let from_start = start(
        &*t.queue,
        &t.topic,
        &t.group("earliest"),
        recording(&earliest, ack),
        ConsumeOptions::default(),
    )
    .await;
    let from_now = start(
        &*t.queue,
        &t.topic,
        &t.group("latest"),
        recording(&latest, ack),
        ConsumeOptions {
            start: core_mq::StartPosition::Latest,
            ..ConsumeOptions::default()
        },
    )
    .await;
    let new = Message::new(&t.topic, "new");
    t.queue.publish(new.clone()).await.unwrap();
    latest
        .wait_for(t.patience, "the latest group gets the new message", |s| {
            !s.is_empty()
        })
        .await;
    let replay = t.queue.capabilities().replay;
    let wanted = if replay { 2 } else { 1 };
    earliest
        .wait_for(t.patience, "the earliest group gets what it should", |s| {
            s.len() >= wanted
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        latest.ids(),
        BTreeSet::from([new.id]),
        "Latest starts after the old message"
    );
    let expected = if replay {
        BTreeSet::from([old.id, new.id])
    } else {
        BTreeSet::from([new.id])
    };
    assert_eq!(
        earliest.ids(),
        expected,
        "Earliest replays only where the broker keeps history"
    );
    for consumer in [anchor, from_start, from_now] {
        stop(consumer).await;
    }
}

pub(crate) async fn a_batch_is_published_in_order(t: &Target) {
    let seen = Seen::default();
    let consumer = start(
        &*t.queue,
        &t.topic,
        &t.group("g"),
        recording(&seen, ack),
        ConsumeOptions::default(),
    )
    .await;
    let sent = numbered(&t.topic, 25, |_| Some("one-key".to_string()));
    t.queue
        .publish_batch(sent.clone())
        .await
        .expect("publish_batch");
    let seen = seen
        .wait_for(t.patience, "the whole batch", |s| s.len() >= 25)
        .await;
    let order: Vec<Uuid> = seen.iter().map(|d| d.message.id).collect();
    assert_eq!(order, sent.iter().map(|m| m.id).collect::<Vec<_>>());
    stop(consumer).await;
}

pub(crate) async fn an_oversized_message_gives_a_clear_error(t: &Target) {
    let too_big = vec![b'x'; t.settings.max_message_bytes + 1];
    let err = t
        .queue
        .publish(Message::new(&t.topic, too_big.clone()))
        .await
        .expect_err("an oversized message must be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("over the limit"), "{err}");
    assert_eq!(err.context_value("key"), Some(t.topic.as_str()));

    let batch = vec![
        Message::new(&t.topic, "fine"),
        Message::new(&t.topic, too_big),
    ];
    let err = t
        .queue
        .publish_batch(batch)
        .await
        .expect_err("the batch is refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

pub(crate) async fn invalid_names_are_rejected_with_the_culprit(t: &Target) {
    let err = t
        .queue
        .publish(Message::new("orders/*", "x"))
        .await
        .expect_err("a topic with '/' and '*' is refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("orders/*"));
    let err = t
        .queue
        .consume(
            &t.topic,
            "",
            recording(&Seen::default(), ack),
            ConsumeOptions::default(),
        )
        .await
        .expect_err("an empty group is refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("group"), "{err}");
}
