//! `DatabaseBase` against the raw drivers, on the same run and the same pool.
//!
//! For each engine: insert one row, select one row by primary key, and
//! fetch 100 rows — once through raw sqlx / mongodb calls on the SDK's own
//! native pool or client, once through the SDK — so the difference is the
//! SDK's overhead alone (placeholder numbering, the layers: retry's copy of
//! a read's arguments, the clock, metrics handles with no recorder
//! installed, a disabled span; error mapping). `select_by_pk` also runs
//! through sqlx's `Any` driver (an engine trait) and through the SDK with
//! retry off. The SQL engines are measured twice: in wall time
//! (`db/<engine>`) and in the CPU time of the client's thread
//! (`db-client-cpu/<engine>`), which the server's latency does not move.
//! Servers come from the same environment variables as the
//! tests; an engine whose server is down is left out.
//!
//! `cargo bench -p core-db --all-features --bench db`

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use core_db::document::bson::{Document, doc};
use core_db::document::{DocumentStore, Find};
use core_db::sql::{SqlDatabase, SqlPool};
use core_db::{DatabaseBase as _, DatabaseSettings};
use core_testkit::{Service, unique_name};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use tokio::runtime::Runtime;

#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code, reason = "decoded to measure decoding, never read")]
struct Row {
    id: i64,
    name: String,
    score: f64,
}

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

/// The statements of one engine, in its native placeholder style and the
/// SDK's portable one.
struct Statements {
    raw_insert: String,
    raw_select: String,
    sdk_insert: String,
    sdk_select: String,
    fetch_100: String,
}

fn statements(table: &str, numbered: bool) -> Statements {
    let (a, b, c) = if numbered {
        ("$1", "$2", "$3")
    } else {
        ("?", "?", "?")
    };
    Statements {
        raw_insert: format!("INSERT INTO {table} (id, name, score) VALUES ({a}, {b}, {c})"),
        raw_select: format!("SELECT id, name, score FROM {table} WHERE id = {a}"),
        sdk_insert: format!("INSERT INTO {table} (id, name, score) VALUES (?, ?, ?)"),
        sdk_select: format!("SELECT id, name, score FROM {table} WHERE id = ?"),
        fetch_100: format!("SELECT id, name, score FROM {table} WHERE id <= 100 ORDER BY id"),
    }
}

/// Runs `$body` with `$pool` bound to the concrete sqlx pool.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool() {
            SqlPool::Postgres($pool) => $body,
            SqlPool::MySql($pool) => $body,
            SqlPool::Sqlite($pool) => $body,
            _ => unreachable!("every engine is compiled into the bench"),
        }
    };
}

/// One way of running an operation: its name and one call.
type Variant<'v> = (&'static str, &'v dyn Fn() -> BoxFuture<'v, ()>);

/// Benchmarks each variant of `operation`, one after another, in wall time.
fn sequential(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    operation: &str,
    variants: &[Variant<'_>],
) {
    for (name, call) in variants {
        group.bench_function(BenchmarkId::new(operation, *name), |b| {
            b.to_async(rt).iter(call)
        });
    }
}

/// Benchmarks each variant of `operation` in the CPU time of the thread
/// that runs it: the client's own work per call (the SDK's, the driver's,
/// the runtime's), without the server's time or the machine's scheduling.
/// A network round trip on this shared 2-core machine drifts by more than
/// the SDK's overhead between two wall-time benches; its CPU does not.
/// (SQLite runs each statement on a worker thread of sqlx's, whose CPU is
/// not counted here: its rows show the client side only.)
fn client_cpu(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    operation: &str,
    variants: &[Variant<'_>],
) {
    for (name, call) in variants {
        group.bench_function(BenchmarkId::new(operation, *name), |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let started = cpu_time::ThreadTime::now();
                    call().await;
                    spent += started.elapsed();
                }
                spent
            })
        });
    }
}

fn bench_sql(c: &mut Criterion, name: &str, url: String) {
    let rt = runtime();
    let db = rt
        .block_on(SqlDatabase::connect(&DatabaseSettings::from_url(&url)))
        .unwrap();
    // sqlx's own engine trait (`Any`: arguments and rows behind boxes), to
    // show what core-db's closed set of engines saves.
    sqlx::any::install_default_drivers();
    let any = rt.block_on(sqlx::AnyPool::connect(&url)).unwrap();
    let table = unique_name("bench");
    let suffix = if name == "mysql" {
        " DEFAULT CHARSET=utf8mb4"
    } else {
        ""
    };
    rt.block_on(async {
        db.query(&format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, score DOUBLE PRECISION NOT NULL){suffix}"
        ))
        .execute()
        .await
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        for id in 1..=100_i64 {
            tx.query(&format!("INSERT INTO {table} (id, name, score) VALUES (?, ?, ?)"))
                .bind(id)
                .bind(format!("row {id}"))
                .bind(id as f64)
                .execute()
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    });
    let s = statements(&table, name == "postgres");
    let next = AtomicI64::new(1_000);

    // Raw and SDK side by side per operation, in wall time and in the
    // client's CPU time.
    let insert_raw = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            on_pool!(db, pool => {
                sqlx::query(&s.raw_insert)
                    .bind(next.fetch_add(1, Ordering::Relaxed))
                    .bind("bench")
                    .bind(1.5_f64)
                    .execute(pool)
                    .await
                    .unwrap();
            })
        })
    };
    let insert_sdk = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            db.query(&s.sdk_insert)
                .bind(next.fetch_add(1, Ordering::Relaxed))
                .bind("bench")
                .bind(1.5_f64)
                .execute()
                .await
                .unwrap();
        })
    };
    let insert: &[Variant<'_>] = &[("raw-sqlx", &insert_raw), ("sdk", &insert_sdk)];

    let select_raw = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            on_pool!(db, pool => {
                sqlx::query_as::<_, Row>(&s.raw_select)
                    .bind(42_i64)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            })
        })
    };
    let select_any = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            sqlx::query_as::<_, Row>(&s.raw_select)
                .bind(42_i64)
                .fetch_one(&any)
                .await
                .unwrap();
        })
    };
    let select_sdk = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            db.query(&s.sdk_select)
                .bind(42_i64)
                .fetch_one::<Row>()
                .await
                .unwrap();
        })
    };
    // Without the copy of the arguments a retried read keeps.
    let select_sdk_once = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            db.query(&s.sdk_select)
                .bind(42_i64)
                .idempotent(false)
                .fetch_one::<Row>()
                .await
                .unwrap();
        })
    };
    let select_by_pk: &[Variant<'_>] = &[
        ("raw-sqlx", &select_raw),
        ("sqlx-any-driver", &select_any),
        ("sdk", &select_sdk),
        ("sdk-no-retry", &select_sdk_once),
    ];

    let fetch_raw = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            on_pool!(db, pool => {
                sqlx::query_as::<_, Row>(&s.fetch_100)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            })
        })
    };
    let fetch_sdk = || -> BoxFuture<'_, ()> {
        Box::pin(async {
            db.query(&s.fetch_100).fetch_all::<Row>().await.unwrap();
        })
    };
    let fetch_100: &[Variant<'_>] = &[("raw-sqlx", &fetch_raw), ("sdk", &fetch_sdk)];
    let operations = [
        ("insert", insert),
        ("select_by_pk", select_by_pk),
        ("fetch_100", fetch_100),
    ];
    let mut group = c.benchmark_group(format!("db/{name}"));
    for (operation, variants) in operations {
        sequential(&mut group, &rt, operation, variants);
    }
    group.finish();
    let mut group = c.benchmark_group(format!("db-client-cpu/{name}"));
    for (operation, variants) in operations {
        client_cpu(&mut group, &rt, operation, variants);
    }
    group.finish();

    rt.block_on(async {
        db.query(&format!("DROP TABLE {table}"))
            .execute()
            .await
            .unwrap();
        db.close().await;
        any.close().await;
    });
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    bench_sql(
        c,
        "sqlite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
    );
}

fn postgres(c: &mut Criterion) {
    if let Some(url) = reachable(&runtime(), Service::Postgres) {
        bench_sql(c, "postgres", url);
    }
}

fn mysql(c: &mut Criterion) {
    if let Some(url) = reachable(&runtime(), Service::MySql) {
        bench_sql(c, "mysql", url);
    }
}

/// A document keyed by `_id`, so lookups use the primary index.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[allow(dead_code, reason = "decoded to measure decoding, never read")]
struct Doc {
    #[serde(rename = "_id")]
    id: i64,
    name: String,
    score: f64,
}

/// Which of two interleaved calls a bench times.
#[derive(Clone, Copy, PartialEq)]
enum Timed {
    First,
    Second,
}

/// Runs `first` and `second` `iters` times each, alternately, and returns the
/// time `timed` took. Which of the two goes first alternates as well, so
/// neither always meets the server straight after the other's call.
async fn interleaved<A, B>(
    iters: u64,
    timed: Timed,
    first: &impl Fn() -> A,
    second: &impl Fn() -> B,
) -> Duration
where
    A: std::future::Future<Output = ()>,
    B: std::future::Future<Output = ()>,
{
    let mut took = Duration::ZERO;
    for iteration in 0..iters {
        let (first_took, second_took) = if iteration % 2 == 0 {
            let first_took = time(first()).await;
            (first_took, time(second()).await)
        } else {
            let second_took = time(second()).await;
            (time(first()).await, second_took)
        };
        took += if timed == Timed::First {
            first_took
        } else {
            second_took
        };
    }
    took
}

/// Prints the median of `rounds` calls of `raw` and of `sdk`, alternated in
/// one loop (which goes first alternates too), and the SDK's overhead.
async fn report_interleaved<A, B>(
    operation: &str,
    rounds: usize,
    raw: &impl Fn() -> A,
    sdk: &impl Fn() -> B,
) where
    A: std::future::Future<Output = ()>,
    B: std::future::Future<Output = ()>,
{
    let (mut raw_took, mut sdk_took) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        if round % 2 == 0 {
            raw_took.push(time(raw()).await);
            sdk_took.push(time(sdk()).await);
        } else {
            sdk_took.push(time(sdk()).await);
            raw_took.push(time(raw()).await);
        }
    }
    raw_took.sort();
    sdk_took.sort();
    let (raw_median, sdk_median) = (raw_took[rounds / 2], sdk_took[rounds / 2]);
    println!(
        "interleaved db/mongodb/{operation}: raw-mongodb {raw_median:?}, sdk {sdk_median:?}, overhead {:+.1}% ({rounds} rounds)",
        (sdk_median.as_secs_f64() / raw_median.as_secs_f64() - 1.0) * 100.0
    );
}

async fn time(call: impl std::future::Future<Output = ()>) -> Duration {
    let started = std::time::Instant::now();
    call.await;
    started.elapsed()
}

fn mongodb(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = reachable(&rt, Service::MongoDb) else {
        return;
    };
    let mut settings = DatabaseSettings::from_url(url);
    settings.database_name = Some("test".to_string());
    let store = rt.block_on(DocumentStore::connect(&settings)).unwrap();
    // Reads share one 100-document collection; each variant inserts into a
    // collection of its own, so both grow alike.
    let names = [
        unique_name("bench"),
        unique_name("bench_raw"),
        unique_name("bench_sdk"),
    ];
    let sdk = store.collection::<Doc>(&names[0]);
    let raw = store.database().collection::<Doc>(&names[0]);
    let raw_inserts = store.database().collection::<Doc>(&names[1]);
    let sdk_inserts = store.collection::<Doc>(&names[2]);
    rt.block_on(async {
        let docs: Vec<Doc> = (1..=100)
            .map(|id| Doc {
                id,
                name: format!("row {id}"),
                score: id as f64,
            })
            .collect();
        raw.insert_many(&docs).await.unwrap();
    });
    let next = AtomicI64::new(1_000);
    let doc_with = |id| Doc {
        id,
        name: "bench".to_string(),
        score: 1.5,
    };
    let first_100 = || doc! { "_id": { "$lte": 100_i64 } };

    let insert_raw = || async {
        raw_inserts
            .insert_one(doc_with(next.fetch_add(1, Ordering::Relaxed)))
            .await
            .unwrap();
    };
    let insert_sdk = || async {
        sdk_inserts
            .insert_one(doc_with(next.fetch_add(1, Ordering::Relaxed)))
            .await
            .unwrap();
    };
    let select_raw = || async {
        raw.find_one(doc! { "_id": 42_i64 }).await.unwrap();
    };
    let select_sdk = || async {
        sdk.find_one(doc! { "_id": 42_i64 }).await.unwrap();
    };
    let fetch_raw = || async {
        raw.find(first_100())
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect::<Vec<Doc>>()
            .await
            .unwrap();
    };
    let fetch_sdk = || async {
        sdk.find(first_100(), Find::default().sort(doc! { "_id": 1 }))
            .await
            .unwrap();
    };

    // The MongoDB-wire server here slows down the longer it runs, so timing
    // every raw call first and every SDK call after would compare two server
    // states. Each row alternates one raw and one SDK call and times only its
    // own; but criterion still runs the raw row before the SDK row, so the
    // figures to compare are these, from one loop that times both.
    rt.block_on(async {
        report_interleaved("insert", 500, &insert_raw, &insert_sdk).await;
        report_interleaved("select_by_pk", 2_000, &select_raw, &select_sdk).await;
        report_interleaved("fetch_100", 500, &fetch_raw, &fetch_sdk).await;
    });
    let mut group = c.benchmark_group("db/mongodb");
    group.bench_function(BenchmarkId::new("insert", "raw-mongodb"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::First, &insert_raw, &insert_sdk))
    });
    group.bench_function(BenchmarkId::new("insert", "sdk"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::Second, &insert_raw, &insert_sdk))
    });
    group.bench_function(BenchmarkId::new("select_by_pk", "raw-mongodb"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::First, &select_raw, &select_sdk))
    });
    group.bench_function(BenchmarkId::new("select_by_pk", "sdk"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::Second, &select_raw, &select_sdk))
    });
    group.bench_function(BenchmarkId::new("fetch_100", "raw-mongodb"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::First, &fetch_raw, &fetch_sdk))
    });
    group.bench_function(BenchmarkId::new("fetch_100", "sdk"), |b| {
        b.to_async(&rt)
            .iter_custom(|iters| interleaved(iters, Timed::Second, &fetch_raw, &fetch_sdk))
    });
    group.finish();
    rt.block_on(async {
        for name in &names {
            let _ = store.database().collection::<Document>(name).drop().await;
        }
        store.close().await;
    });
}

/// What TLS costs PostgreSQL, on the same run and the same server (the
/// machine's, `ssl = on` with Debian's snakeoil certificate): a select by
/// primary key through the SDK with `sslmode=disable` against
/// `sslmode=verify-full` (checked against the snakeoil certificate, host
/// `localhost`), and a whole connect each way (TCP, the TLS handshake, the
/// startup exchange and the SDK's first query, one connection).
fn postgres_tls(c: &mut Criterion) {
    let rt = runtime();
    let Some(url) = reachable(&rt, Service::Postgres) else {
        return;
    };
    let base = url.replacen("127.0.0.1", "localhost", 1);
    let separator = if base.contains('?') { '&' } else { '?' };
    let plain = format!("{base}{separator}sslmode=disable");
    let tls = format!(
        "{base}{separator}sslmode=verify-full&sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem"
    );
    let mut group = c.benchmark_group("tls/postgres");
    for (name, url) in [("plain-postgres", plain), ("sdk-postgres-tls", tls)] {
        let mut settings = DatabaseSettings::from_url(url);
        settings.max_connections = 1;
        settings.min_connections = 1;
        let db = rt.block_on(SqlDatabase::connect(&settings)).unwrap();
        group.bench_function(BenchmarkId::new("select_one", name), |b| {
            b.to_async(&rt).iter(|| async {
                db.query("SELECT 1::BIGINT AS one")
                    .fetch_one::<(i64,)>()
                    .await
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("connect", name), |b| {
            b.to_async(&rt).iter(|| async {
                let db = SqlDatabase::connect(&settings).await.unwrap();
                db.close().await;
            })
        });
        rt.block_on(db.close());
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = sqlite, postgres, mysql, mongodb, postgres_tls
}
criterion_main!(benches);
