//! The metrics and tracing layers: counts per outcome, and trace context
//! carried from publisher to handler to the messages the handler publishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[path = "support/scripted.rs"]
mod scripted;

use core_mq::layers::{Layer as _, MetricsLayer, TRACEPARENT_HEADER, current_traceparent};
use core_mq::{ConsumeOptions, Delivery, Message, MqSettings, Outcome, connect, handler_fn};
use core_testkit::unique_name;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Counter totals and histogram sample counts by `name/topic`.
type Totals = Arc<Mutex<HashMap<String, u64>>>;

struct Tally {
    totals: Totals,
    key: String,
}

impl CounterFn for Tally {
    fn increment(&self, value: u64) {
        *self
            .totals
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.totals.lock().unwrap().insert(self.key.clone(), value);
    }
}

impl GaugeFn for Tally {
    fn increment(&self, value: f64) {
        CounterFn::increment(self, value as u64);
    }
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.absolute(value as u64);
    }
}

impl HistogramFn for Tally {
    fn record(&self, _: f64) {
        CounterFn::increment(self, 1);
    }
}

struct TestRecorder(Totals);

impl TestRecorder {
    fn tally(&self, key: &Key) -> Arc<Tally> {
        let topic = key
            .labels()
            .find(|label| label.key() == "topic")
            .map(|label| label.value().to_string())
            .unwrap_or_default();
        Arc::new(Tally {
            totals: self.0.clone(),
            key: format!("{}/{topic}", key.name()),
        })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.tally(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.tally(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.tally(key))
    }
}

fn totals() -> &'static Totals {
    static TOTALS: OnceLock<Totals> = OnceLock::new();
    TOTALS.get_or_init(|| {
        let totals = Totals::default();
        metrics::set_global_recorder(TestRecorder(totals.clone())).expect("install the recorder");
        totals
    })
}

fn total(name: &str, topic: &str) -> u64 {
    totals()
        .lock()
        .unwrap()
        .get(&format!("{name}/{topic}"))
        .copied()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_outcome() {
    totals();
    let queue = connect(&MqSettings::default()).await.unwrap();
    let topic = unique_name("metrics");
    let handler = handler_fn(|delivery: Delivery| async move {
        Ok(match (&*delivery.message.body, delivery.attempt) {
            (b"ok", _) | (b"flaky", 2) => Outcome::Ack,
            (b"flaky", _) => Outcome::Retry(Duration::from_millis(10)),
            _ => Outcome::DeadLetter("refused".to_string()),
        })
    });
    let consumer = queue
        .consume(&topic, "g", handler, ConsumeOptions::default())
        .await
        .unwrap();
    for body in ["ok", "flaky", "bad"] {
        queue.publish(Message::new(&topic, body)).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while total("mq_acked_total", &topic) < 2 || total("mq_dead_lettered_total", &topic) < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outcomes were not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    consumer.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(total("mq_published_total", &topic), 3);
    assert_eq!(total("mq_consumed_total", &topic), 4);
    assert_eq!(total("mq_acked_total", &topic), 2);
    assert_eq!(total("mq_retried_total", &topic), 1);
    assert_eq!(total("mq_dead_lettered_total", &topic), 1);
    assert_eq!(total("mq_handler_seconds", &topic), 4);
    assert_eq!(total("mq_publish_seconds", &topic), 3);
}

/// Runs `script` under the metrics layer until `done` holds or 10 s pass,
/// then shuts the consumer down.
async fn run_scripted(
    script: scripted::Script,
    topic: &str,
    answer: Outcome,
    done: impl Fn() -> bool,
) -> core_mq::ConsumerStats {
    totals();
    let queue = MetricsLayer.layer(Arc::new(scripted::Scripted(Arc::new(script))));
    let handler = handler_fn(move |_| {
        let answer = answer.clone();
        async move { Ok(answer) }
    });
    let options = ConsumeOptions {
        max_attempts: 3,
        ..ConsumeOptions::default()
    };
    let consumer = queue.consume(topic, "g", handler, options).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Long enough for anything counted too early to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    consumer.shutdown(Duration::from_secs(5)).await.unwrap()
}

#[tokio::test]
async fn an_ack_the_broker_refuses_is_not_counted_as_acked() {
    let topic = unique_name("ack_refused");
    let script = scripted::Script {
        deliveries: Mutex::new(vec![(Message::new(&topic, "x"), 1)]),
        acks_fail: true,
        ..scripted::Script::default()
    };
    let stats = run_scripted(script, &topic, Outcome::Ack, || {
        total("mq_ack_failures_total", &topic) == 1
    })
    .await;
    assert_eq!(total("mq_acked_total", &topic), 0, "{stats:?}");
    assert_eq!(total("mq_ack_failures_total", &topic), 1);
    assert_eq!((stats.acked, stats.ack_failures), (0, 1));
}

#[tokio::test]
async fn a_dead_letter_never_written_is_not_counted() {
    let topic = unique_name("dead_letter_unwritten");
    let script = scripted::Script {
        deliveries: Mutex::new(vec![(Message::new(&topic, "x"), 1)]),
        publishes_fail: true,
        ..scripted::Script::default()
    };
    let refused = Outcome::DeadLetter("refused".into());
    let stats = run_scripted(script, &topic, refused, || {
        total("mq_consumed_total", &topic) == 1
    })
    .await;
    assert_eq!(total("mq_dead_lettered_total", &topic), 0, "{stats:?}");
    assert_eq!(stats.dead_lettered, 0);
}

#[tokio::test]
async fn a_dead_letter_the_consumer_sends_without_the_handler_is_counted() {
    // Delivered far more often than max_attempts (3) without an answer: the
    // consumer gives up without calling the handler.
    let topic = unique_name("dead_letter_by_consumer");
    let script = scripted::Script {
        deliveries: Mutex::new(vec![(Message::new(&topic, "x"), 7)]),
        ..scripted::Script::default()
    };
    let stats = run_scripted(script, &topic, Outcome::Ack, || {
        total("mq_dead_lettered_total", &topic) == 1
    })
    .await;
    assert_eq!(total("mq_consumed_total", &topic), 0, "{stats:?}");
    assert_eq!(total("mq_dead_lettered_total", &topic), 1);
    assert_eq!(stats.dead_lettered, 1);
}

/// The metrics layer reads the lag when a consumer starts (then every
/// `LAG_INTERVAL`): four entries published before the group's consumer,
/// whose handler holds them, are four behind on Redis Streams.
#[cfg(feature = "redis-streams")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_is_a_gauge() {
    use core_testkit::{Service, require_service};

    totals();
    let url = require_service!(Service::Redis);
    let queue = connect(&MqSettings::from_url(url)).await.unwrap();
    let topic = unique_name("lag_gauge");
    for n in 0..4 {
        queue
            .publish(Message::new(&topic, n.to_string()))
            .await
            .unwrap();
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let handler = {
        let gate = gate.clone();
        handler_fn(move |_: Delivery| {
            let gate = gate.clone();
            async move {
                gate.acquire().await.unwrap().forget();
                Ok(Outcome::Ack)
            }
        })
    };
    let consumer = queue
        .consume(&topic, "g", handler, ConsumeOptions::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while total("mq_consumer_lag", &topic) != 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lag gauge is {}, not 4",
            total("mq_consumer_lag", &topic)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gate.add_permits(4);
    consumer.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// The `traceparent` header a handler saw, and the one current while it ran.
type Hop = (String, Option<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_follows_messages_through_handlers() {
    let queue = connect(&MqSettings::default()).await.unwrap();
    let (first, second) = (unique_name("trace_a"), unique_name("trace_b"));
    let seen: Arc<Mutex<Vec<Hop>>> = Arc::default();

    let relay = {
        let (queue, second, seen) = (queue.clone(), second.clone(), seen.clone());
        handler_fn(move |delivery: Delivery| {
            let (queue, second, seen) = (queue.clone(), second.clone(), seen.clone());
            async move {
                let header = delivery.message.headers.get(TRACEPARENT_HEADER).cloned();
                seen.lock()
                    .unwrap()
                    .push((header.unwrap_or_default(), current_traceparent()));
                queue
                    .publish(delivery.message.reply(&second, "next"))
                    .await?;
                Ok(Outcome::Ack)
            }
        })
    };
    let end = {
        let seen = seen.clone();
        handler_fn(move |delivery: Delivery| {
            let seen = seen.clone();
            async move {
                let header = delivery.message.headers.get(TRACEPARENT_HEADER).cloned();
                seen.lock()
                    .unwrap()
                    .push((header.unwrap_or_default(), None));
                Ok(Outcome::Ack)
            }
        })
    };
    let a = queue
        .consume(&first, "g", relay, ConsumeOptions::default())
        .await
        .unwrap();
    let b = queue
        .consume(&second, "g", end, ConsumeOptions::default())
        .await
        .unwrap();
    queue.publish(Message::new(&first, "start")).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the chain did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
    let seen = seen.lock().unwrap();
    let (first_header, in_handler) = &seen[0];
    let (second_header, _) = &seen[1];
    let trace = |traceparent: &str| {
        traceparent
            .split('-')
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(first_header.len(), 55, "W3C traceparent: {first_header}");
    assert_eq!(in_handler.as_deref(), Some(first_header.as_str()));
    assert_eq!(
        trace(second_header),
        trace(first_header),
        "one trace across both hops"
    );
    assert_ne!(second_header, first_header, "each hop has its own span id");
}
