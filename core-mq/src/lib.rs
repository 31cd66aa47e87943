//! `MessageQueueBase`: one at-least-once API over in-memory queues, Redis
//! Streams, RabbitMQ and Kafka, chosen at run time from configuration.

pub use core_error::{Error, ErrorKind, Result};
