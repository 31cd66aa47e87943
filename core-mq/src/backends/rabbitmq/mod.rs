//! RabbitMQ through `lapin`: one durable topic exchange, a durable queue
//! per topic and group, persistent messages, publisher confirms, prefetch.
//!
//! - A topic is a routing key of the exchange (default `core-mq`); a group
//!   is the durable queue `<exchange>/<topic>/<group>` bound to it, so the
//!   consumers of one group share its queue and each group gets every message.
//! - A message no group's queue is bound to is not dropped: the exchange's
//!   alternate exchange routes it to the durable queue `<exchange>/unrouted`.
//! - `publish` waits for the broker's confirm; consumers acknowledge each
//!   message after its handler finished, and what a dead consumer left
//!   unacknowledged is requeued by the broker when its channel closes.
//! - A retry waits in the broker, not in the consumer: the message is
//!   published (confirmed) to one of the group's retry queues with its delay
//!   as `expiration` and the attempt number in a header, and only then is
//!   the original acknowledged; on expiry RabbitMQ dead-letters it back into
//!   the group's queue.
//!
//! What is declared (durable, and always with the same arguments, so a
//! declaration repeated by every consumer is a no-op):
//!
//! | name | kind | arguments |
//! |---|---|---|
//! | `<exchange>` | topic exchange | `alternate-exchange = <exchange>/unrouted` |
//! | `<exchange>/unrouted` | fanout exchange and its queue | — |
//! | `<exchange>/<topic>/<group>` | queue bound to `<exchange>` by `<topic>` | `x-expires` if `queue_expires_ms` is set |
//! | `<exchange>/<topic>/<group>/retry-<b>ms` | queue, unbound, declared on the first retry of delay ≤ `b` ms (`b` a power of two) | `x-dead-letter-exchange = ""`, `x-dead-letter-routing-key = <exchange>/<topic>/<group>`, `x-expires` = `queue_expires_ms` + `b` if set |
//!
//! RabbitMQ expires messages only at the head of a queue, hence one retry
//! queue per power-of-two delay bucket: a long wait never holds up a short
//! one, and a retry waits between its delay and twice it.
//! - A dead letter is published (confirmed) to the dead-letter topic with
//!   the reason and attempt count in headers, then the original is
//!   acknowledged. A `nack` into an `x-dead-letter-exchange` would move it
//!   natively but cannot add the reason, so it is not used.
//! - [`Consumer::lag`](crate::Consumer::lag) is the group queue's ready
//!   message count, from a passive declare.
//! - A lost connection is re-established on the next call; consumers
//!   re-open their channel and queue subscription by themselves.
//!
//! Settings: `mq.rabbitmq` ([`RabbitMqSettings`]). URLs: `amqp://`,
//! `amqps://` (with `sslrootcert`, `sslcert`, `sslkey` parameters).

#[cfg(feature = "rabbitmq")]
mod broker;
mod settings;

#[cfg(feature = "rabbitmq")]
pub use broker::RabbitMqBackend;
pub use settings::RabbitMqSettings;

use crate::registration::{Registration, connector};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "RabbitMQ",
    schemes: &["amqp", "amqps"],
    feature: "rabbitmq",
    connect: connector!("rabbitmq", broker::open),
};
