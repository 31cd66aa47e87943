//! The SDK in one dependency: each building block re-exported behind a feature
//! of the same name.
//!
//! | module | crate | what it gives a service |
//! |---|---|---|
//! | [`error`] | `core-error` | one error vocabulary with stable codes |
//! | `config` | `core-config` | layered, typed, validated settings |
//! | `log` | `core-log` | structured logs, audit trail, metrics |
//! | `db` | `core-db` | `DatabaseBase` over SQL databases and MongoDB |
//! | `cache` | `core-cache` | `CacheBase` over memory, Redis, Memcached |
//! | `mq` | `core-mq` | `MessageQueueBase` over in-memory, Redis, RabbitMQ, Kafka, NATS JetStream |
//! | `auth` | `core-auth` | tokens, passwords, permissions |
//! | `web` | `core-web` | the service runtime: start-up, HTTP layers, errors as HTTP, probes, graceful shutdown |
//!
//! # Features
//!
//! A server backend is a feature of its own, switched on for the building
//! blocks already enabled (`redis` adds Redis to `cache` and to `mq` when
//! they are on):
//!
//! | feature | turns on | for |
//! |---|---|---|
//! | `default` | `config`, `log`, `db`, `sqlite`, `cache`, `mq`, `auth` | every building block on its embedded backend: runs with no server |
//! | `config` | `core-config` (with live reload) | layered, typed settings |
//! | `log` | `core-log` | logs, audit, Prometheus metrics |
//! | `db` | `core-db` | `DatabaseBase`, with the engines chosen below |
//! | `sqlite` | `core-db/sqlite` (+ `db`) | embedded SQLite, the default database; leave it out of a PostgreSQL- or MySQL-only service |
//! | `cache` | `core-cache` with the in-process cache | `CacheBase` |
//! | `mq` | `core-mq` with the in-memory queue | `MessageQueueBase` |
//! | `auth` | `core-auth` | tokens, passwords, RBAC, API keys |
//! | `web` | `core-web` (+ `config`, `log`, `auth`, `axum`) | the service runtime; probes for the blocks enabled |
//! | `axum` | `core-auth/axum` | the auth extractors and layers |
//! | `outbox` | `core-db/outbox` (+ `db`, `mq`) | the transactional outbox: messages written in a SQL transaction, published by relays through any queue |
//! | `postgres` | `core-db/postgres` | PostgreSQL (TLS with rustls) |
//! | `mysql` | `core-db/mysql` | MySQL / MariaDB (TLS with rustls) |
//! | `mongodb` | `core-db/mongodb` | MongoDB |
//! | `redis` | `core-cache/redis`, `core-mq/redis-streams` | Redis cache and Redis Streams queues |
//! | `redis-cluster` | `core-cache/redis-cluster` | Redis Cluster cache |
//! | `memcached` | `core-cache/memcached` | Memcached cache |
//! | `tiered-cache` | `core-cache/tiered` | in-process L1 in front of a shared L2 |
//! | `rabbitmq` | `core-mq/rabbitmq` | RabbitMQ queues |
//! | `kafka` | `core-mq/kafka` | Kafka (librdkafka with SSL and SASL) |
//! | `nats` | `core-mq/nats` | NATS JetStream queues |
//! | `otlp` | `core-log/otlp` | trace export over OTLP/HTTP |
//! | `etcd` | `core-config/etcd` | settings from etcd, followed live |
//!
//! ```
//! use core_sdk::error::{Error, ErrorKind};
//!
//! let err = Error::not_found("no such order").with_key("order:17");
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! ```
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use core_error as error;

#[cfg(feature = "auth")]
pub use core_auth as auth;
#[cfg(feature = "cache")]
pub use core_cache as cache;
#[cfg(feature = "config")]
pub use core_config as config;
#[cfg(feature = "db")]
pub use core_db as db;
#[cfg(feature = "log")]
pub use core_log as log;
#[cfg(feature = "mq")]
pub use core_mq as mq;
#[cfg(feature = "web")]
pub use core_web as web;

/// `docs/GUIDE.md`, whose Rust blocks `cargo test --doc` compiles (and runs
/// where they are not `no_run`), so the guide cannot drift from the API.
#[cfg(all(
    doctest,
    feature = "web",
    feature = "outbox",
    feature = "sqlite",
    feature = "cache"
))]
#[doc = include_str!("../docs/GUIDE.md")]
pub struct Guide;
