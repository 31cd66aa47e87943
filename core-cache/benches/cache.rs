//! `CacheBase` against the raw drivers, on the same run.
//!
//! For each backend: the raw driver call, the bare backend behind
//! `Arc<dyn CacheBase>`, and the backend with the standard layers (timeout,
//! retry, tracing, metrics). Servers come from the same environment
//! variables as the tests; a backend whose server is down is left out.
//!
//! `cargo bench -p core-cache --all-features --bench cache`

use std::sync::Arc;
use std::time::Duration;

use async_memcached::AsciiProtocol as _;
use bytes::Bytes;
use core_cache::backends::memcached::{MemcachedBackend, MemcachedConfig};
use core_cache::backends::memory::{MemoryBackend, MemorySettings};
use core_cache::backends::redis::{RedisBackend, RedisClusterBackend, RedisConfig};
use core_cache::layers::{LayerSettings, stack};
use core_cache::{Cache, CacheBase};
use core_testkit::Service;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const VALUE: &[u8] = b"{\"id\":42,\"name\":\"Ada Lovelace\",\"roles\":[\"admin\",\"user\"]}";

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

/// The bare backend and the same backend under the standard layers.
fn variants(backend: Arc<dyn CacheBase>) -> [(&'static str, Arc<dyn CacheBase>); 2] {
    let layered = stack(backend.clone(), &LayerSettings::default());
    [("sdk-backend", backend), ("sdk-layered", layered)]
}

fn bench_get_set(c: &mut Criterion, group_name: &str, rt: &Runtime, backend: Arc<dyn CacheBase>) {
    let mut group = c.benchmark_group(group_name);
    for (name, cache) in variants(backend) {
        rt.block_on(cache.set("bench:key", Bytes::from_static(VALUE), None))
            .unwrap();
        group.bench_function(BenchmarkId::new("get", name), |b| {
            b.to_async(rt)
                .iter(|| async { cache.get("bench:key").await.unwrap() })
        });
        group.bench_function(BenchmarkId::new("set", name), |b| {
            b.to_async(rt).iter(|| async {
                cache
                    .set("bench:key", Bytes::from_static(VALUE), None)
                    .await
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// GET and SET by hand on a raw `redis` connection (single server or
/// cluster): the baseline the backend's get and set are compared with.
fn bench_raw_redis<C>(c: &mut Criterion, group_name: &str, name: &str, rt: &Runtime, raw: &C)
where
    C: redis::aio::ConnectionLike + Clone + Send,
{
    let mut group = c.benchmark_group(group_name);
    group.bench_function(BenchmarkId::new("get", name), |b| {
        b.to_async(rt).iter(|| async {
            let mut conn = raw.clone();
            redis::cmd("GET")
                .arg("bench:key")
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("set", name), |b| {
        b.to_async(rt).iter(|| async {
            let mut conn = raw.clone();
            redis::cmd("SET")
                .arg("bench:key")
                .arg(VALUE)
                .query_async::<()>(&mut conn)
                .await
                .unwrap()
        })
    });
    group.finish();
}

/// Per-entry TTLs, as the SDK's memory backend offers: the raw baseline does
/// the same work, so the comparison is like for like.
struct EntryTtl;

impl moka::Expiry<String, (Bytes, Option<Duration>)> for EntryTtl {
    fn expire_after_create(
        &self,
        _: &String,
        value: &(Bytes, Option<Duration>),
        _: std::time::Instant,
    ) -> Option<Duration> {
        value.1
    }
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    let raw: moka::future::Cache<String, (Bytes, Option<Duration>)> =
        moka::future::Cache::builder()
            .max_capacity(100_000)
            .expire_after(EntryTtl)
            .build();
    rt.block_on(raw.insert("bench:key".to_string(), (Bytes::from_static(VALUE), None)));
    let mut group = c.benchmark_group("cache/memory");
    group.bench_function(BenchmarkId::new("get", "raw-moka"), |b| {
        b.to_async(&rt)
            .iter(|| async { raw.get("bench:key").await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("set", "raw-moka"), |b| {
        b.to_async(&rt).iter(|| async {
            raw.insert("bench:key".to_string(), (Bytes::from_static(VALUE), None))
                .await
        })
    });
    // moka's synchronous cache, which the memory backend is built on (its
    // calls never wait, so the future cache's machinery only costs).
    let sync: moka::sync::Cache<String, (Bytes, Option<Duration>)> = moka::sync::Cache::builder()
        .max_capacity(100_000)
        .expire_after(EntryTtl)
        .build();
    sync.insert("bench:key".to_string(), (Bytes::from_static(VALUE), None));
    group.bench_function(BenchmarkId::new("get", "moka-sync"), |b| {
        b.to_async(&rt)
            .iter(|| async { sync.get("bench:key").unwrap() })
    });
    group.bench_function(BenchmarkId::new("set", "moka-sync"), |b| {
        b.to_async(&rt).iter(|| async {
            sync.insert("bench:key".to_string(), (Bytes::from_static(VALUE), None))
        })
    });
    group.finish();
    let backend: Arc<dyn CacheBase> = Arc::new(MemoryBackend::new(&MemorySettings::default()));
    bench_get_set(c, "cache/memory", &rt, backend.clone());

    // The typed front door against the same decoding done by hand.
    let typed = Cache::new(backend);
    let user = serde_json::json!({"id": 42, "name": "Ada Lovelace", "roles": ["admin", "user"]});
    rt.block_on(typed.set("bench:typed", &user, None)).unwrap();
    let encoded = Bytes::from(serde_json::to_vec(&user).unwrap());
    rt.block_on(raw.insert("bench:typed".to_string(), (encoded, None)));
    let mut group = c.benchmark_group("cache/memory-typed");
    group.bench_function(BenchmarkId::new("get", "raw-moka+serde_json"), |b| {
        b.to_async(&rt).iter(|| async {
            let (bytes, _) = raw.get("bench:typed").await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("get", "sdk-cache"), |b| {
        b.to_async(&rt)
            .iter(|| async { typed.get::<serde_json::Value>("bench:typed").await.unwrap() })
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = reachable(&rt, Service::Redis) else {
        return;
    };
    let client = redis::Client::open(url.as_str()).unwrap();
    let raw = rt
        .block_on(redis::aio::ConnectionManager::new(client))
        .unwrap();
    bench_raw_redis(c, "cache/redis", "raw-redis", &rt, &raw);
    let backend: Arc<dyn CacheBase> = Arc::new(
        rt.block_on(RedisBackend::connect(&RedisConfig::new(url)))
            .unwrap(),
    );
    bench_get_set(c, "cache/redis", &rt, backend.clone());

    // 100 keys per call, pipelined: MSET/MGET by hand against set_many/get_many.
    let keys: Vec<String> = (0..100).map(|i| format!("bench:batch:{i}")).collect();
    let entries: Vec<(String, Bytes)> = keys
        .iter()
        .map(|k| (k.clone(), Bytes::from_static(VALUE)))
        .collect();
    let mut group = c.benchmark_group("cache/redis-batch-100");
    group.throughput(Throughput::Elements(100));
    group.bench_function(BenchmarkId::new("mset", "raw-redis"), |b| {
        b.to_async(&rt).iter(|| async {
            let mut conn = raw.clone();
            let mut pipe = redis::pipe();
            pipe.atomic();
            for key in &keys {
                pipe.cmd("SET").arg(key).arg(VALUE).ignore();
            }
            pipe.query_async::<()>(&mut conn).await.unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("mset", "sdk-backend"), |b| {
        b.to_async(&rt)
            .iter(|| async { backend.set_many(&entries, None).await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("mget", "raw-redis"), |b| {
        b.to_async(&rt).iter(|| async {
            let mut conn = raw.clone();
            redis::cmd("MGET")
                .arg(&keys)
                .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
                .await
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("mget", "sdk-backend"), |b| {
        b.to_async(&rt)
            .iter(|| async { backend.get_many(&keys).await.unwrap() })
    });
    group.finish();
}

fn redis_cluster(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = reachable(&rt, Service::RedisCluster) else {
        return;
    };
    let backend = rt
        .block_on(RedisClusterBackend::connect_cluster(&RedisConfig::new(
            url.as_str(),
        )))
        .unwrap();
    // One seed node is enough for the raw client to discover the cluster.
    let seed = Service::RedisCluster.first_address(&url);
    let client = redis::cluster::ClusterClient::new([format!("redis://{seed}")]).unwrap();
    let raw = rt.block_on(client.get_async_connection()).unwrap();
    bench_raw_redis(c, "cache/redis-cluster", "raw-redis-cluster", &rt, &raw);
    bench_get_set(c, "cache/redis-cluster", &rt, Arc::new(backend));
}

fn memcached(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = reachable(&rt, Service::Memcached) else {
        return;
    };
    let address = Service::Memcached.first_address(&url);
    let dsn = format!("tcp://{address}");
    let mut group = c.benchmark_group("cache/memcached");
    // One long-lived connection, as the backend's pool keeps: a fresh
    // connection per sample would measure a different TCP state. The
    // uncontended lock stands in for the pool's checkout.
    let raw = tokio::sync::Mutex::new(rt.block_on(async_memcached::Client::new(&dsn)).unwrap());
    group.bench_function(BenchmarkId::new("get", "raw-async-memcached"), |b| {
        b.to_async(&rt)
            .iter(|| async { raw.lock().await.get("bench:key").await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("set", "raw-async-memcached"), |b| {
        b.to_async(&rt).iter(|| async {
            raw.lock()
                .await
                .set("bench:key", VALUE, Some(0), None)
                .await
                .unwrap()
        })
    });
    group.finish();
    let backend: Arc<dyn CacheBase> = Arc::new(
        rt.block_on(MemcachedBackend::connect(&MemcachedConfig::new(address)))
            .unwrap(),
    );
    bench_get_set(c, "cache/memcached", &rt, backend);
}

/// A get, a set and a whole connect through the bare backend that
/// `connect` makes, named `name` in `group`: one side of a TLS comparison.
fn bench_connected<B, F>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    connect: F,
) where
    B: CacheBase,
    F: AsyncFn() -> B,
{
    let backend = rt.block_on(connect());
    rt.block_on(backend.set("bench:tls", Bytes::from_static(VALUE), None))
        .unwrap();
    group.bench_function(BenchmarkId::new("get", name), |b| {
        b.to_async(rt)
            .iter(|| async { backend.get("bench:tls").await.unwrap() })
    });
    group.bench_function(BenchmarkId::new("set", name), |b| {
        b.to_async(rt).iter(|| async {
            backend
                .set("bench:tls", Bytes::from_static(VALUE), None)
                .await
                .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("connect", name), |b| {
        b.to_async(rt).iter(|| connect())
    });
}

/// What TLS costs, on the same run: a GET and a SET through the bare backend
/// on the plaintext Redis (6379) against the same over `rediss://` on
/// `redis-tls` (6390: the same redis-server, TLS only, the project CA), and a
/// whole connect (TCP, the TLS handshake, the connection manager's first
/// round trip) each way.
fn redis_tls(c: &mut Criterion) {
    let rt = runtime();
    let (Some(plain), Some(tls)) = (
        reachable(&rt, Service::Redis),
        reachable(&rt, Service::RedisTls),
    ) else {
        return;
    };
    let ca = Service::tls_dir().join("ca.pem");
    let tls = format!("{tls}/0?sslrootcert={}", ca.display());
    let mut group = c.benchmark_group("tls/redis");
    for (name, url) in [("plain-redis", &plain), ("sdk-rediss", &tls)] {
        bench_connected(&mut group, &rt, name, async || {
            RedisBackend::connect(&RedisConfig::new(url.as_str()))
                .await
                .unwrap()
        });
    }
    group.finish();
}

/// The same for Memcached: the bare backend on the plaintext server (11211)
/// against it over `memcacheds://` on `memcached-tls` (11212: the same
/// memcached build with `-Z`, the project CA), and a whole connect (TCP, the
/// handshake, the first round trip) each way.
fn memcached_tls(c: &mut Criterion) {
    let rt = runtime();
    let (Some(plain), Some(tls)) = (
        reachable(&rt, Service::Memcached),
        reachable(&rt, Service::MemcachedTls),
    ) else {
        return;
    };
    let plain = format!("memcached://{}", Service::Memcached.first_address(&plain));
    let ca = Service::tls_dir().join("ca.pem");
    let tls = format!("{tls}?sslrootcert={}", ca.display());
    let mut group = c.benchmark_group("tls/memcached");
    for (name, url) in [("plain-memcached", &plain), ("sdk-memcacheds", &tls)] {
        let config = MemcachedConfig::new(url.as_str());
        bench_connected(&mut group, &rt, name, async || {
            MemcachedBackend::connect(&config).await.unwrap()
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = memory, redis, redis_cluster, memcached, redis_tls, memcached_tls
}
criterion_main!(benches);
