//! Kafka through `rdkafka`: an idempotent producer with `acks=all`,
//! consumer groups whose offsets are stored only after the handler
//! finished, topics created through the admin API.
//!
//! - The message key is the record key (so it picks the partition and keeps
//!   per-key order); the id, content type, correlation and causation ids
//!   and the application headers travel as record headers, the timestamp as
//!   the record's create time.
//! - A consumer hands each partition to one handler slot, so a partition is
//!   handled in order; after a message is handled its offset is *stored*,
//!   and stored offsets are committed every `auto.commit.interval.ms` and
//!   at shutdown. Nothing unhandled is ever committed.
//! - The group name is the Kafka `group.id`, global on the cluster: every
//!   consumer joining a group rebalances all its members, whatever topic
//!   they read, so give each service's consumer of each topic its own group.
//! - `consume` returns once the group has given this consumer its
//!   partitions (a group join takes seconds). A new group starting at
//!   [`StartPosition::Latest`] has its
//!   partitions pinned (seek and commit) to their end at that moment, so
//!   nothing published after `consume` returns is skipped by a late reset.
//! - A retry waits in Kafka: the message is produced (acknowledged) to the
//!   group's retry topic `<topic>.<group>.retry` with the next attempt number
//!   and a not-before time in headers, then the original offset is stored.
//!   The consumer reads the retry topic too, holding a record that is not
//!   due yet and pausing its partition meanwhile, not the others. A dead
//!   letter is produced to the dead-letter topic with the reason and attempt
//!   count in headers, then the offset is stored. Both topics are created
//!   through the admin API like any other.
//! - [`Consumer::lag`](crate::Consumer::lag) is high watermark minus the
//!   group's committed offset, summed over the topic's partitions.
//!
//! Settings: `mq.kafka` ([`KafkaSettings`], TLS and SASL in
//! [`KafkaSecurity`]). URL: `kafka://host:port[,host:port…]`.

#[cfg(feature = "kafka")]
mod broker;
mod settings;

#[cfg(feature = "kafka")]
pub use broker::KafkaBackend;
pub use settings::{KafkaProtocol, KafkaSecurity, KafkaSettings, SaslMechanism};

use crate::registration::{Registration, connector};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "Kafka",
    schemes: &["kafka"],
    feature: "kafka",
    connect: connector!("kafka", broker::open),
};
