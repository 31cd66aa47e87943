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
//! ```
//! use core_sdk::error::{Error, ErrorKind};
//!
//! let err = Error::not_found("no such order").with_key("order:17");
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//! ```

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
