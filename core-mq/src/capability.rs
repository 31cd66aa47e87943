//! What a backend offers beyond the common contract.

/// The guarantees and optional behaviour of a backend.
///
/// Every backend gives at-least-once delivery, consumer groups, retry and
/// dead letters. The rest differs by broker and is declared here, so a
/// caller (or a test) can ask before it relies on it.
///
/// ```
/// use core_mq::Capabilities;
///
/// let caps = Capabilities { replay: false, ..Capabilities::ALL };
/// assert!(caps.durable && !caps.replay);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A new group with [`StartPosition::Earliest`](crate::StartPosition::Earliest)
    /// sees messages published before it existed (false on RabbitMQ, which
    /// keeps no history: a message reaches only the groups whose queues exist).
    pub replay: bool,
    /// Messages survive a restart of the process that published them.
    pub durable: bool,
    /// Other processes see the same topics (false for the in-memory backend).
    pub shared: bool,
    /// A message left unacknowledged by a consumer is handed to another
    /// consumer of the group without waiting for a connection to drop
    /// (Redis `XAUTOCLAIM` after [`claim_after`](crate::ConsumeOptions::claim_after)).
    pub claims_abandoned: bool,
    /// A retry waits in the broker, not in the consumer (RabbitMQ retry
    /// queues, Kafka retry topics): a consumer stopped during the wait loses
    /// nothing, and the next consumer of the group gets the message when it
    /// is due. The retried message then goes behind the messages of its key
    /// that arrived meanwhile, so per-key order holds only for messages that
    /// are not retried.
    pub broker_retries: bool,
    /// [`Consumer::lag`](crate::Consumer::lag) asks the broker how far the
    /// group is behind (and the metrics layer reports it as a gauge).
    pub lag: bool,
}

impl Capabilities {
    /// Every capability on.
    pub const ALL: Capabilities = Capabilities {
        replay: true,
        durable: true,
        shared: true,
        claims_abandoned: true,
        broker_retries: true,
        lag: true,
    };
}
