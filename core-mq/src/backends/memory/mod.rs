//! In-process queues with the brokers' semantics: groups, acknowledgement,
//! redelivery of what a stopped consumer left unacknowledged, retry and
//! dead letters. The default for tests and the quickstart.
//!
//! Each topic keeps a log of its messages; each group has a cursor into it
//! and a list of messages to deliver again. A fetched message is *leased*:
//! acknowledging it ends the lease, and dropping the lease unacknowledged
//! (a consumer aborted or shut down mid-message) puts the message back.
//!
//! Settings: `mq.memory` ([`MemorySettings`]). URL: `memory://`.

#[cfg(feature = "memory")]
mod broker;
mod settings;

#[cfg(feature = "memory")]
pub use broker::MemoryBackend;
pub use settings::MemorySettings;

use crate::registration::{Registration, connector};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "in-memory",
    schemes: &["memory"],
    feature: "memory",
    connect: connector!("memory", broker::open),
};
