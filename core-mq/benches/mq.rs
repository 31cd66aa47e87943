//! `MessageQueueBase` against the raw drivers, on the same run.
//!
//! - `publish/<backend>/<variant>`: one confirmed publish (the XADD reply,
//!   the RabbitMQ publisher confirm, the Kafka `acks=all` delivery report).
//! - `end_to_end/<backend>/<variant>`: 100 messages published at once and
//!   every one received and acknowledged by a running consumer.
//! - `saturation/<backend>/<variant>`: 1 000 confirmed publishes with 64 in
//!   flight at once: throughput when the broker, not the round trip, is the
//!   limit.
//! - `end_to_end_saturation/<backend>/<variant>`: 2 000 messages published
//!   with 64 in flight while the consumer (256 fetched ahead) receives and
//!   acknowledges them: publishing and consuming as fast as the broker
//!   allows, in messages per second.
//!
//! Variants: `raw` (the driver, doing the same work: same fields, same
//! confirms, same acks), `sdk-backend` (the bare backend behind
//! `Arc<dyn MessageQueueBase>`) and `sdk-layered` (with metrics and
//! tracing). Before criterion runs, a latency report prints msgs/s, p50 and
//! p99 of 1 000 sequential publishes per variant, and two interleaved
//! reports (`interleaved mq/` lines) give the saturation and
//! end-to-end-saturation loads' throughput and thread CPU per message, the
//! variants taking turns in one loop.
//!
//! `cargo bench -p core-mq --all-features --bench mq`

use std::sync::Arc;
use std::time::{Duration, Instant};

use core_mq::layers::{LayerSettings, stack};
use core_mq::{
    ConsumeOptions, Consumer, ConsumerEvent, Delivery, Handler, Message, MessageQueueBase,
    MqSettings, Outcome,
};
use core_testkit::{Service, unique_name};
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::StreamExt as _;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const BODY: &[u8] = b"{\"order\":42,\"customer\":\"Ada Lovelace\",\"lines\":[[\"widget\",3]]}";
const PATIENCE: Duration = Duration::from_secs(60);
/// Publishes per iteration of the saturation group.
const SATURATION_BATCH: usize = 1_000;
/// Publishes awaiting their confirmation at once in the saturation group:
/// enough to keep every broker's pipeline full on this machine.
const IN_FLIGHT: usize = 64;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn reachable(rt: &Runtime, service: Service) -> Option<String> {
    rt.block_on(core_testkit::require_at(
        service,
        &service.url(),
        false,
        "bench",
    ))
}

fn message(topic: &str) -> Message {
    Message::new(topic, BODY)
        .with_key("customer-42")
        .with_header("tenant", "acme")
        .with_content_type("application/json")
}

/// A way to publish one message and wait for the broker's confirmation.
type Publish = Arc<dyn Fn(Message) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

fn sdk_publish(queue: Arc<dyn MessageQueueBase>) -> Publish {
    Arc::new(move |message| {
        let queue = queue.clone();
        Box::pin(async move { queue.publish(message).await.unwrap() })
    })
}

/// Starts a raw consumer of the contender's topic, fetching `prefetch`
/// messages ahead, that reports each message it acknowledged.
type StartRawConsumer = Box<dyn Fn(mpsc::UnboundedSender<()>, usize) -> RawConsumer>;

/// A raw consumer's loop: acknowledges each delivery with `ack`, up to
/// `in_flight` at once and in order (the SDK's handler slot keeps its share
/// of the prefetch on their way), reporting each once it is taken.
async fn acknowledge_each<D, E, A>(
    deliveries: impl futures::Stream<Item = Result<D, E>>,
    in_flight: usize,
    sender: &mpsc::UnboundedSender<()>,
    ack: impl Fn(D) -> A,
) where
    A: std::future::Future<Output = ()>,
{
    deliveries
        .filter_map(|delivery| std::future::ready(delivery.ok()))
        .map(ack)
        .buffered(in_flight)
        .for_each(|()| {
            let _ = sender.send(());
            std::future::ready(())
        })
        .await;
}

/// How hard an end-to-end group pushes a broker.
struct Load {
    group: &'static str,
    /// Messages per iteration, each received and acknowledged.
    messages: usize,
    /// Publishes awaiting their confirmation at once.
    in_flight: usize,
    /// Messages each consumer fetches ahead of its handler.
    prefetch: usize,
}

/// A round trip of 100 messages, all published at once.
const ROUND_TRIP: Load = Load {
    group: "end_to_end",
    messages: 100,
    in_flight: 100,
    prefetch: 100,
};

/// Publisher and consumer both as fast as the broker allows.
const SATURATED: Load = Load {
    group: "end_to_end_saturation",
    messages: 2_000,
    in_flight: IN_FLIGHT,
    prefetch: 256,
};

/// Everything one backend brings to the bench.
struct Contender {
    name: &'static str,
    topic: String,
    raw_publish: Option<Publish>,
    sdk: Arc<dyn MessageQueueBase>,
    /// Starts a raw consumer of the topic that reports each received message.
    raw_consumer: Option<StartRawConsumer>,
    /// The raw driver sending the SDK's wire format byte for byte, where it
    /// differs from the raw loop's: what the format costs the client and the
    /// broker, apart from the SDK's code (`raw+sdk-format` in the interleaved
    /// saturation report).
    raw_in_sdk_format: Option<Publish>,
}

/// A running raw consumer; aborted when dropped.
struct RawConsumer(tokio::task::JoinHandle<()>);

impl Drop for RawConsumer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn variants(contender: &Contender) -> Vec<(&'static str, Publish)> {
    let mut variants = Vec::new();
    if let Some(raw) = &contender.raw_publish {
        variants.push(("raw", raw.clone()));
    }
    variants.push(("sdk-backend", sdk_publish(contender.sdk.clone())));
    let layered = stack(contender.sdk.clone(), &LayerSettings::default());
    variants.push(("sdk-layered", sdk_publish(layered)));
    variants
}

fn latency_report(rt: &Runtime, contender: &Contender) {
    for (variant, publish) in variants(contender) {
        let mut samples = Vec::with_capacity(1000);
        let started = Instant::now();
        for _ in 0..1000 {
            let one = Instant::now();
            rt.block_on(publish(message(&contender.topic)));
            samples.push(one.elapsed());
        }
        let total = started.elapsed();
        samples.sort();
        println!(
            "latency publish/{}/{variant}: {:.0} msgs/s, p50 {:?}, p99 {:?}",
            contender.name,
            1000.0 / total.as_secs_f64(),
            samples[500],
            samples[990]
        );
    }
}

/// Rounds of [`SATURATION_BATCH`] publishes per variant in the interleaved
/// saturation report.
const INTERLEAVED_ROUNDS: usize = 30;

/// Prints, per variant, the median time of [`SATURATION_BATCH`] publishes
/// with [`IN_FLIGHT`] at once, in rounds that take the variants in turn
/// (the first of each round rotates), and the publishing thread's CPU time
/// per message: a broker that slows down as it runs, or a noisy neighbour,
/// then weighs on every variant alike instead of on whichever criterion
/// timed last.
///
/// One more variant here, `sdk-backend+traceparent`, is the bare backend
/// sending what the tracing layer adds to each message, a `traceparent`
/// header: what the header costs the client's encoding and the broker,
/// apart from the layers' code. Where a contender has one, `raw+sdk-format`
/// is the raw driver sending the SDK's wire format: what the format costs,
/// apart from the SDK's code.
fn report_interleaved_saturation(rt: &Runtime, contender: &Contender) {
    let mut variants = variants(contender);
    let backend = sdk_publish(contender.sdk.clone());
    let with_header: Publish = Arc::new(move |message: Message| {
        let traceparent = format!(
            "00-{:032x}-{:016x}-01",
            fastrand::u128(1..),
            fastrand::u64(1..)
        );
        backend(message.with_header("traceparent", traceparent))
    });
    variants.push(("sdk-backend+traceparent", with_header));
    if let Some(twin) = &contender.raw_in_sdk_format {
        variants.push(("raw+sdk-format", twin.clone()));
    }
    let mut took = vec![Vec::with_capacity(INTERLEAVED_ROUNDS); variants.len()];
    let mut cpu = vec![Duration::ZERO; variants.len()];
    let reading = cpu_reading_cost();
    for round in 0..INTERLEAVED_ROUNDS {
        for turn in 0..variants.len() {
            let index = (round + turn) % variants.len();
            let publish = &variants[index].1;
            let cpu_started = thread_cpu();
            let started = Instant::now();
            rt.block_on(publish_all(
                publish,
                &contender.topic,
                SATURATION_BATCH,
                IN_FLIGHT,
            ));
            took[index].push(started.elapsed());
            cpu[index] += thread_cpu()
                .saturating_sub(cpu_started)
                .saturating_sub(reading);
        }
    }
    let names: Vec<&str> = variants.iter().map(|(variant, _)| *variant).collect();
    print_interleaved(
        &format!("saturation/{}", contender.name),
        &names,
        took,
        &cpu,
        SATURATION_BATCH,
        &format!("{INTERLEAVED_ROUNDS} rounds of {SATURATION_BATCH}, {IN_FLIGHT} in flight"),
    );
}

/// One `interleaved mq/<group>` line: each variant's median round in
/// messages per second, its ratio to the first variant, and its thread CPU
/// per message.
fn print_interleaved(
    group: &str,
    variants: &[&str],
    mut took: Vec<Vec<Duration>>,
    cpu: &[Duration],
    per_round: usize,
    how: &str,
) {
    let medians: Vec<f64> = took
        .iter_mut()
        .map(|times| {
            times.sort();
            times[times.len() / 2].as_secs_f64()
        })
        .collect();
    let fields: Vec<String> = variants
        .iter()
        .zip(&medians)
        .zip(cpu.iter().zip(&took))
        .map(|((variant, median), (cpu, rounds))| {
            format!(
                "{variant} {:.0} msgs/s ({:.2}x), {:.2} µs thread CPU/msg",
                per_round as f64 / median,
                medians[0] / median,
                cpu.as_secs_f64() * 1e6 / (per_round * rounds.len()) as f64,
            )
        })
        .collect();
    println!(
        "interleaved mq/{group}: {} ({how}; ratios to {})",
        fields.join("; "),
        variants[0]
    );
}

/// What reading [`thread_cpu`] costs, taken off every timed round.
fn cpu_reading_cost() -> Duration {
    (0..5)
        .map(|_| {
            let before = thread_cpu();
            thread_cpu().saturating_sub(before)
        })
        .min()
        .unwrap_or_default()
}

/// CPU time of this thread so far, as the scheduler counts it (in
/// nanoseconds, from `/proc`); zero where `/proc` is missing.
///
/// The runtime has one thread, which runs every task of the Redis, NATS
/// and memory clients; lapin's and librdkafka's own threads are not in it.
/// The process as a whole is no better a measure: those threads spin
/// whether or not anything is published.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn bench_publish(c: &mut Criterion, rt: &Runtime, contender: &Contender) {
    let mut group = c.benchmark_group(format!("publish/{}", contender.name));
    group.throughput(Throughput::Elements(1));
    for (variant, publish) in variants(contender) {
        group.bench_function(BenchmarkId::from_parameter(variant), |b| {
            b.to_async(rt).iter(|| publish(message(&contender.topic)))
        });
    }
    group.finish();
}

fn bench_saturation(c: &mut Criterion, rt: &Runtime, contender: &Contender) {
    let mut group = c.benchmark_group(format!("saturation/{}", contender.name));
    group.throughput(Throughput::Elements(SATURATION_BATCH as u64));
    group.sample_size(10);
    for (variant, publish) in variants(contender) {
        group.bench_function(BenchmarkId::from_parameter(variant), |b| {
            b.to_async(rt).iter(|| {
                let (publish, topic) = (publish.clone(), contender.topic.clone());
                async move { publish_all(&publish, &topic, SATURATION_BATCH, IN_FLIGHT).await }
            })
        });
    }
    group.finish();
}

async fn receive(receiver: &mut mpsc::UnboundedReceiver<()>, count: usize) {
    for _ in 0..count {
        tokio::time::timeout(PATIENCE, receiver.recv())
            .await
            .expect("the consumer kept up")
            .expect("the consumer is running");
    }
}

/// Publishes until the raw consumer receives (its group join may take
/// seconds), then drains what the warm-up left.
async fn warm_up(
    publish: &Publish,
    topic: &str,
    receiver: &tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>,
) {
    let mut receiver = receiver.lock().await;
    for _ in 0..60 {
        publish(message(topic)).await;
        if tokio::time::timeout(Duration::from_secs(1), receiver.recv())
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_secs(1)).await;
            while receiver.try_recv().is_ok() {}
            return;
        }
    }
    panic!("the raw consumer of {topic} never received anything");
}

fn sdk_consumer(
    rt: &Runtime,
    queue: &Arc<dyn MessageQueueBase>,
    topic: &str,
    prefetch: usize,
) -> (Consumer, mpsc::UnboundedReceiver<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let handler = Arc::new(ReportingAcks(sender));
    let options = ConsumeOptions {
        prefetch,
        ..ConsumeOptions::default()
    };
    let consumer = rt
        .block_on(queue.consume(topic, &unique_name("bench_group"), handler, options))
        .unwrap();
    (consumer, receiver)
}

/// The SDK consumer's handler: acknowledges every message and reports it
/// once the broker answered the acknowledgement, as the raw loops do
/// (the consumer acknowledges after the handler returns).
struct ReportingAcks(mpsc::UnboundedSender<()>);

#[async_trait::async_trait]
impl Handler for ReportingAcks {
    async fn handle(&self, _delivery: Delivery) -> core_mq::Result<Outcome> {
        Ok(Outcome::Ack)
    }

    fn observe(&self, _message: &Message, event: ConsumerEvent) {
        if matches!(event, ConsumerEvent::Acked | ConsumerEvent::AckFailed) {
            let _ = self.0.send(());
        }
    }
}

/// Publishes `messages` messages through `publish`, `in_flight` at a time.
async fn publish_all(publish: &Publish, topic: &str, messages: usize, in_flight: usize) {
    futures::stream::iter(0..messages)
        .map(|_| publish(message(topic)))
        .buffer_unordered(in_flight)
        .for_each(|()| async {})
        .await;
}

/// One variant's publisher and the running consumer of its topic.
struct Pipeline {
    variant: &'static str,
    publish: Publish,
    topic: String,
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>,
    consumer: Running,
}

enum Running {
    Raw(RawConsumer),
    Sdk(Consumer),
}

impl Pipeline {
    /// The contender's raw publisher and consumer, warmed up, if it has them.
    fn raw(rt: &Runtime, contender: &Contender, load: &Load) -> Option<Pipeline> {
        let (start, publish) = (
            contender.raw_consumer.as_ref()?,
            contender.raw_publish.as_ref()?,
        );
        let (sender, receiver) = mpsc::unbounded_channel();
        let consumer = {
            let _guard = rt.enter();
            start(sender, load.prefetch)
        };
        let received = tokio::sync::Mutex::new(receiver);
        rt.block_on(warm_up(publish, &contender.topic, &received));
        Some(Pipeline {
            variant: "raw",
            publish: publish.clone(),
            topic: contender.topic.clone(),
            received,
            consumer: Running::Raw(consumer),
        })
    }

    /// The SDK's bare backend or its layered stack, publishing to and
    /// consuming its own topic.
    fn sdk(
        rt: &Runtime,
        contender: &Contender,
        load: &Load,
        layered: bool,
        topic: &str,
    ) -> Pipeline {
        let (variant, queue) = if layered {
            let stacked = stack(contender.sdk.clone(), &LayerSettings::default());
            ("sdk-layered", stacked)
        } else {
            ("sdk-backend", contender.sdk.clone())
        };
        let topic = format!("{topic}_{}", variant.replace('-', "_"));
        let (consumer, receiver) = sdk_consumer(rt, &queue, &topic, load.prefetch);
        Pipeline {
            variant,
            publish: sdk_publish(queue),
            topic,
            received: tokio::sync::Mutex::new(receiver),
            consumer: Running::Sdk(consumer),
        }
    }

    /// Publishes `load.messages` and waits until the consumer has
    /// acknowledged every one.
    async fn run(&self, load: &Load) {
        publish_all(&self.publish, &self.topic, load.messages, load.in_flight).await;
        receive(&mut *self.received.lock().await, load.messages).await;
    }

    fn stop(self, rt: &Runtime) {
        match self.consumer {
            Running::Raw(consumer) => drop(consumer),
            Running::Sdk(consumer) => {
                rt.block_on(consumer.shutdown(PATIENCE)).unwrap();
            }
        }
    }
}

/// Every variant publishes the same way (one confirmed publish per message,
/// `load.in_flight` at once) and consumes with the same prefetch; only the
/// client differs. One variant's consumer runs at a time.
fn bench_end_to_end(c: &mut Criterion, rt: &Runtime, contender: &Contender, load: &Load) {
    let mut group = c.benchmark_group(format!("{}/{}", load.group, contender.name));
    group.throughput(Throughput::Elements(load.messages as u64));
    group.sample_size(10);
    let topic = unique_name("bench_e2e");
    // Made one at a time, when its turn comes, so no other variant's
    // consumer runs beside it.
    let starts: [&dyn Fn() -> Option<Pipeline>; 3] = [
        &|| Pipeline::raw(rt, contender, load),
        &|| Some(Pipeline::sdk(rt, contender, load, false, &topic)),
        &|| Some(Pipeline::sdk(rt, contender, load, true, &topic)),
    ];
    for pipeline in starts.into_iter().filter_map(|start| start()) {
        group.bench_function(BenchmarkId::from_parameter(pipeline.variant), |b| {
            b.to_async(rt).iter(|| pipeline.run(load))
        });
        pipeline.stop(rt);
    }
    group.finish();
}

/// Rounds per variant in the interleaved end-to-end report.
const END_TO_END_ROUNDS: usize = 12;

/// Prints, per variant, the median time of one [`SATURATED`] round
/// (publishing and consuming as fast as the broker allows), the variants
/// taking turns in one loop with all their consumers running, and the
/// publishing thread's CPU time per message.
fn report_interleaved_end_to_end(rt: &Runtime, contender: &Contender) {
    let load = &SATURATED;
    let topic = unique_name("bench_e2e_interleaved");
    let pipelines: Vec<Pipeline> = Pipeline::raw(rt, contender, load)
        .into_iter()
        .chain([false, true].map(|layered| Pipeline::sdk(rt, contender, load, layered, &topic)))
        .collect();
    let reading = cpu_reading_cost();
    let mut took = vec![Vec::with_capacity(END_TO_END_ROUNDS); pipelines.len()];
    let mut cpu = vec![Duration::ZERO; pipelines.len()];
    for round in 0..END_TO_END_ROUNDS {
        for turn in 0..pipelines.len() {
            let index = (round + turn) % pipelines.len();
            let cpu_started = thread_cpu();
            let started = Instant::now();
            rt.block_on(pipelines[index].run(load));
            took[index].push(started.elapsed());
            cpu[index] += thread_cpu()
                .saturating_sub(cpu_started)
                .saturating_sub(reading);
        }
    }
    let variants: Vec<&str> = pipelines.iter().map(|pipeline| pipeline.variant).collect();
    print_interleaved(
        &format!("end_to_end_saturation/{}", contender.name),
        &variants,
        took,
        &cpu,
        load.messages,
        &format!(
            "{END_TO_END_ROUNDS} rounds of {}, {} in flight, prefetch {}",
            load.messages, load.in_flight, load.prefetch
        ),
    );
    for pipeline in pipelines {
        pipeline.stop(rt);
    }
}

fn main() {
    let rt = runtime();
    let mut contenders = Vec::new();
    contenders.push(Contender {
        name: "memory",
        topic: unique_name("bench"),
        raw_publish: None,
        sdk: rt
            .block_on(core_mq::connect_backend(&MqSettings::default()))
            .unwrap(),
        raw_consumer: None,
        raw_in_sdk_format: None,
    });
    if let Some(url) = reachable(&rt, Service::Redis) {
        contenders.push(redis_contender(&rt, &url));
    }
    if let Some(url) = reachable(&rt, Service::RabbitMq) {
        contenders.push(rabbitmq_contender(&rt, &url));
    }
    if let Some(brokers) = reachable(&rt, Service::Kafka) {
        contenders.push(kafka_contender(&rt, &brokers));
    }
    if let Some(url) = reachable(&rt, Service::Nats) {
        contenders.push(nats_contender(&rt, &url));
    }
    for contender in &contenders {
        latency_report(&rt, contender);
    }
    for contender in &contenders {
        report_interleaved_saturation(&rt, contender);
        report_interleaved_end_to_end(&rt, contender);
    }
    let mut criterion = Criterion::default().configure_from_args();
    for contender in &contenders {
        bench_publish(&mut criterion, &rt, contender);
        bench_saturation(&mut criterion, &rt, contender);
        bench_end_to_end(&mut criterion, &rt, contender, &ROUND_TRIP);
        bench_end_to_end(&mut criterion, &rt, contender, &SATURATED);
    }
    criterion.final_summary();
}

fn redis_contender(rt: &Runtime, url: &str) -> Contender {
    let topic = unique_name("bench");
    let sdk = rt
        .block_on(core_mq::connect_backend(&MqSettings::from_url(url)))
        .unwrap();
    let client = redis::Client::open(url).unwrap();
    let connection = rt
        .block_on(redis::aio::ConnectionManager::new(client.clone()))
        .unwrap();
    // The same entry the SDK writes: same fields, same MAXLEN trimming.
    let raw_publish: Publish = Arc::new(move |message: Message| {
        let mut connection = connection.clone();
        Box::pin(async move {
            let _: String = redis::cmd("XADD")
                .arg(format!("mq:{}", message.topic))
                .arg("MAXLEN")
                .arg("~")
                .arg(1_000_000)
                .arg("*")
                .arg("id")
                .arg(message.id.to_string())
                .arg("ts")
                .arg(message.timestamp_ms)
                .arg("key")
                .arg(message.key.as_deref().unwrap_or_default())
                .arg("ct")
                .arg(message.content_type.as_deref().unwrap_or_default())
                .arg("h:tenant")
                .arg("acme")
                .arg("body")
                .arg(message.body.as_ref())
                .query_async(&mut connection)
                .await
                .unwrap();
        })
    });
    let consumer_topic = topic.clone();
    let raw_consumer = Box::new(move |sender: mpsc::UnboundedSender<()>, prefetch: usize| {
        let client = client.clone();
        let stream = format!("mq:{consumer_topic}");
        RawConsumer(tokio::spawn(async move {
            let mut reader = client.get_multiplexed_async_connection().await.unwrap();
            let mut acker = reader.clone();
            let group = unique_name("raw_group");
            let _: Result<(), _> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&stream)
                .arg(&group)
                .arg("$")
                .arg("MKSTREAM")
                .query_async(&mut reader)
                .await;
            loop {
                let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&group)
                    .arg("raw")
                    .arg("COUNT")
                    .arg(prefetch)
                    .arg("BLOCK")
                    .arg(100)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg(">")
                    .query_async(&mut reader)
                    .await
                    .unwrap();
                for key in reply.map(|r| r.keys).unwrap_or_default() {
                    // One XACK for the whole reply, as the SDK's acknowledger
                    // sends what its slots handed over together.
                    let acked: usize = redis::cmd("XACK")
                        .arg(&stream)
                        .arg(&group)
                        .arg(key.ids.iter().map(|entry| &entry.id).collect::<Vec<_>>())
                        .query_async(&mut acker)
                        .await
                        .unwrap();
                    for _ in 0..acked {
                        let _ = sender.send(());
                    }
                }
            }
        }))
    });
    Contender {
        name: "redis-streams",
        topic,
        raw_publish: Some(raw_publish),
        sdk,
        raw_consumer: Some(raw_consumer),
        raw_in_sdk_format: None,
    }
}

fn rabbitmq_contender(rt: &Runtime, url: &str) -> Contender {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    use lapin::types::{AMQPValue, FieldTable};

    let topic = unique_name("bench");
    let mut settings = MqSettings::from_url(url);
    settings.rabbitmq.queue_expires_ms = Some(600_000);
    let sdk = rt.block_on(core_mq::connect_backend(&settings)).unwrap();
    let connection = rt
        .block_on(lapin::Connection::connect(
            url,
            lapin::ConnectionProperties::default(),
        ))
        .unwrap();
    let channel = rt.block_on(connection.create_channel()).unwrap();
    rt.block_on(channel.confirm_select(ConfirmSelectOptions::default()))
        .unwrap();
    // Same exchange, same persistent delivery, same headers as the SDK.
    let raw_publish: Publish = Arc::new(move |message: Message| {
        let channel = channel.clone();
        Box::pin(async move {
            let mut headers = FieldTable::default();
            headers.insert("tenant".into(), AMQPValue::LongString("acme".into()));
            headers.insert(
                "x-core-key".into(),
                AMQPValue::LongString("customer-42".into()),
            );
            headers.insert(
                "x-core-ts".into(),
                AMQPValue::LongString(message.timestamp_ms.to_string().into()),
            );
            let properties = lapin::BasicProperties::default()
                .with_message_id(message.id.to_string().into())
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    "core-mq".into(),
                    message.topic.as_str().into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    properties,
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
        })
    });
    let consumer_topic = topic.clone();
    let url = url.to_string();
    let raw_consumer = Box::new(move |sender: mpsc::UnboundedSender<()>, prefetch: usize| {
        use lapin::options::{
            BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions,
            QueueDeclareOptions,
        };
        let (url, topic) = (url.clone(), consumer_topic.clone());
        RawConsumer(tokio::spawn(async move {
            let connection =
                lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
                    .await
                    .unwrap();
            let channel = connection.create_channel().await.unwrap();
            channel
                .basic_qos(prefetch as u16, BasicQosOptions::default())
                .await
                .unwrap();
            let queue = unique_name("raw_queue");
            // Durable, as the SDK declares group queues, so persistent
            // messages hit the disk in both variants.
            let declare = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            let mut arguments = FieldTable::default();
            arguments.insert("x-expires".into(), AMQPValue::LongLongInt(600_000));
            channel
                .queue_declare(queue.as_str().into(), declare, arguments)
                .await
                .unwrap();
            channel
                .queue_bind(
                    queue.as_str().into(),
                    "core-mq".into(),
                    topic.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let deliveries = channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            acknowledge_each(deliveries, prefetch, &sender, |delivery| async move {
                delivery.ack(BasicAckOptions::default()).await.unwrap();
            })
            .await;
        }))
    });
    Contender {
        name: "rabbitmq",
        topic,
        raw_publish: Some(raw_publish),
        sdk,
        raw_consumer: Some(raw_consumer),
        raw_in_sdk_format: None,
    }
}

/// NATS JetStream: the raw side publishes to the same stream and subject
/// with a message id and waits for the PubAck, and consumes with a durable
/// pull consumer and confirmed acks, as the SDK does.
/// Publishes with the raw JetStream client, with the headers `headers`
/// makes from the message, and waits for the server's acknowledgement.
fn nats_raw_publish(
    context: &async_nats::jetstream::Context,
    subject: &str,
    headers: fn(&Message) -> async_nats::HeaderMap,
) -> Publish {
    let (context, subject) = (context.clone(), subject.to_owned());
    Arc::new(move |message: Message| {
        let (context, subject) = (context.clone(), subject.clone());
        Box::pin(async move {
            context
                .publish_with_headers(subject, headers(&message), message.body.clone())
                .await
                .unwrap()
                .await
                .unwrap();
        })
    })
}

fn nats_contender(rt: &Runtime, url: &str) -> Contender {
    use async_nats::jetstream::{self, consumer::pull};

    const STREAM: &str = "core-mq-bench";
    let topic = unique_name("bench");
    let mut settings = MqSettings::from_url(url);
    settings.nats.stream = STREAM.into();
    settings.nats.subject_prefix = STREAM.into();
    let sdk = rt.block_on(core_mq::connect_backend(&settings)).unwrap();
    let client = rt.block_on(async_nats::connect(url)).unwrap();
    let context = rt.block_on(async { jetstream::new(client) });
    let subject = format!("{STREAM}.{topic}");
    let raw_publish = nats_raw_publish(&context, &subject, |message| {
        // The same fields as the SDK's message: id (also the server's dedup
        // key), timestamp, key, content type, header.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", message.id.to_string().as_str());
        headers.insert("Core-Ts", message.timestamp_ms.to_string().as_str());
        headers.insert("Core-Key", "customer-42");
        headers.insert("Core-Ct", "application/json");
        headers.insert("Core-H-tenant", "acme");
        headers
    });
    let raw_in_sdk_format = nats_raw_publish(&context, &subject, |message| {
        // The headers as the SDK's codec writes them: the raw loop's, plus
        // `Core-Id`, and the dedup id prefixed with the topic.
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Core-Id", message.id.to_string());
        headers.insert("Nats-Msg-Id", format!("{}/{}", message.topic, message.id));
        headers.insert("Core-Ts", message.timestamp_ms.to_string());
        headers.insert("Core-Key", "customer-42");
        headers.insert("Core-Ct", "application/json");
        headers.insert("Core-H-tenant", "acme");
        headers
    });
    let raw_consumer = Box::new(move |sender: mpsc::UnboundedSender<()>, prefetch: usize| {
        let (context, subject) = (context.clone(), subject.clone());
        RawConsumer(tokio::spawn(async move {
            let stream = context.get_stream(STREAM).await.unwrap();
            let name = unique_name("raw");
            let consumer = stream
                .get_or_create_consumer(
                    &name,
                    pull::Config {
                        durable_name: Some(name.clone()),
                        filter_subject: subject,
                        deliver_policy: jetstream::consumer::DeliverPolicy::New,
                        ..pull::Config::default()
                    },
                )
                .await
                .unwrap();
            let messages = consumer
                .stream()
                .max_messages_per_batch(prefetch)
                .messages()
                .await
                .unwrap();
            acknowledge_each(messages, prefetch, &sender, |delivery| async move {
                delivery.double_ack().await.unwrap();
            })
            .await;
        }))
    });
    Contender {
        name: "nats",
        topic,
        raw_publish: Some(raw_publish),
        sdk,
        raw_consumer: Some(raw_consumer),
        raw_in_sdk_format: Some(raw_in_sdk_format),
    }
}

/// How long a Kafka fetch may wait for records, for both consumers. The
/// test broker (nisshi) does not answer a waiting fetch when records
/// arrive: it looks again after half the time left, then half of that, so
/// with librdkafka's 500 ms a consumer that has caught up sees the next
/// record up to 250 ms late, and end-to-end rounds measured that wait (about
/// 255 ms for 2 000 messages whatever the client). A Kafka broker answers
/// as soon as records arrive, so a short wait changes nothing there.
const FETCH_WAIT_MS: &str = "10";

fn kafka_contender(rt: &Runtime, brokers: &str) -> Contender {
    use rdkafka::ClientConfig;
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let topic = unique_name("bench");
    let mut settings = MqSettings::from_url(format!("kafka://{brokers}"));
    settings
        .kafka
        .client
        .insert("fetch.wait.max.ms".into(), FETCH_WAIT_MS.into());
    let sdk = rt.block_on(core_mq::connect_backend(&settings)).unwrap();
    // Creates the topic through the SDK's admin path, for both variants.
    rt.block_on(sdk.publish(message(&topic))).unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "1")
        .create()
        .unwrap();
    let raw_publish: Publish = Arc::new(move |message: Message| {
        let producer = producer.clone();
        Box::pin(async move {
            let id = message.id.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "x-core-id",
                    value: Some(id.as_str()),
                })
                .insert(Header {
                    key: "x-core-ct",
                    value: Some("application/json"),
                })
                .insert(Header {
                    key: "tenant",
                    value: Some("acme"),
                });
            producer
                .send(
                    FutureRecord::to(&message.topic)
                        .key("customer-42")
                        .payload(message.body.as_ref())
                        .headers(headers)
                        .timestamp(message.timestamp_ms as i64),
                    Duration::from_secs(30),
                )
                .await
                .unwrap();
        })
    });
    let consumer_topic = topic.clone();
    let brokers = brokers.to_string();
    // librdkafka fetches by bytes (its defaults, as the SDK's consumer
    // keeps them), not by a message count.
    let raw_consumer = Box::new(move |sender: mpsc::UnboundedSender<()>, _prefetch: usize| {
        use rdkafka::consumer::{Consumer as _, StreamConsumer};
        use rdkafka::{Message as _, Offset, TopicPartitionList};
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", unique_name("raw_group"))
            .set("fetch.wait.max.ms", FETCH_WAIT_MS)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            .create()
            .unwrap();
        consumer.subscribe(&[&consumer_topic]).unwrap();
        RawConsumer(tokio::spawn(async move {
            loop {
                let record = consumer.recv().await.unwrap();
                let mut offsets = TopicPartitionList::new();
                offsets
                    .add_partition_offset(
                        record.topic(),
                        record.partition(),
                        Offset::Offset(record.offset() + 1),
                    )
                    .unwrap();
                consumer.store_offsets(&offsets).unwrap();
                let _ = sender.send(());
            }
        }))
    });
    Contender {
        name: "kafka",
        topic,
        raw_publish: Some(raw_publish),
        sdk,
        raw_consumer: Some(raw_consumer),
        raw_in_sdk_format: None,
    }
}
