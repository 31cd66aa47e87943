//! NATS JetStream: one file-backed stream holds every topic as a subject,
//! each group is a durable pull consumer filtered on its topic's subject,
//! and the server counts deliveries, holds retries and redelivers what a
//! dead consumer left unacknowledged.
//!
//! | what | on the server |
//! |---|---|
//! | topic `t` | subject `<subject_prefix>.t` in the stream `<stream>` (subjects `<subject_prefix>.>`) |
//! | group `g` of topic `t` | durable pull consumer `g_<hash of t and g>`, explicit acks, filtered on the topic's subject |
//! | publish | acknowledged by the stream (`PubAck`); the message id is the `Nats-Msg-Id` header, so a publish sent again after a lost acknowledgement is stored once (within `duplicate_window_ms`) |
//! | retry | a `NAK` with the delay: the server redelivers when due, with its delivery count, so the wait survives the consumer |
//! | dead letter | published to the dead-letter topic's subject, then acknowledged |
//! | abandoned message | redelivered by the server `claim_after` after its delivery ([`ConsumeOptions::claim_after`](crate::ConsumeOptions::claim_after) is the consumer's `ack_wait`) |
//! | [`Consumer::lag`](crate::Consumer::lag) | the consumer's `num_pending` + `num_ack_pending` |
//!
//! A consumer's settings are fixed when it is first created (as a
//! RabbitMQ queue's are): a later `consume` with another `claim_after` or
//! start position uses the consumer the server holds.
//!
//! Settings: `mq.nats` ([`NatsSettings`]). URL: `nats://[user:password@]host:port`,
//! or `tls://` (NATS's name for a server that must speak TLS) with
//! `sslrootcert` (the CA; it replaces the system's roots), `sslcert` and
//! `sslkey` (a client certificate) as query parameters.

#[cfg(feature = "nats")]
mod broker;
mod settings;

#[cfg(feature = "nats")]
pub use broker::NatsBackend;
pub use settings::NatsSettings;

use crate::registration::{Registration, connector};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "NATS JetStream",
    schemes: &["nats", "tls"],
    feature: "nats",
    connect: connector!("nats", broker::open),
};
