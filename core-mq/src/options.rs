//! How a consumer runs: concurrency, retries, dead letters, where it starts.

use std::time::Duration;

use core_error::{Error, Result};

/// Where a new consumer group starts reading a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartPosition {
    /// Every message the broker still holds for the topic. The default, so
    /// a group created just after a publish does not miss it. RabbitMQ keeps
    /// no history: there a group sees what was published once its queue exists.
    #[default]
    Earliest,
    /// Only messages published after the group was created.
    Latest,
}

/// The pause before a retry of a failed (temporary error) or panicked attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The pause before the second attempt.
    pub first: Duration,
    /// The longest pause; each retry doubles the previous one up to this.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The pause after failed attempt number `attempt` (1-based), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponential = self
            .first
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        // Jitter keeps many consumers from retrying in lockstep.
        exponential
            .min(self.max)
            .mul_f64(0.75 + fastrand::f64() * 0.25)
    }
}

/// How [`consume`](crate::MessageQueueBase::consume) runs a handler.
///
/// ```
/// use std::time::Duration;
/// use core_mq::ConsumeOptions;
///
/// let options = ConsumeOptions {
///     concurrency: 8,
///     max_attempts: 3,
///     ..ConsumeOptions::default()
/// };
/// assert_eq!(options.dead_letter_topic_for("orders"), "orders.dead-letter");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeOptions {
    /// Handlers running at once. Messages with the same key always go to the
    /// same handler slot, so their order is kept (where retries wait in the
    /// broker, a retried message goes behind the ones that came meanwhile;
    /// see [`Capabilities::broker_retries`](crate::Capabilities::broker_retries)).
    /// Default 1.
    pub concurrency: usize,
    /// Messages fetched ahead of the handlers (RabbitMQ prefetch, Redis and
    /// Kafka batch size). Default 32.
    ///
    /// Each handler slot also keeps its share of it (`prefetch /
    /// concurrency`, at least 32) of handled messages on their way to be
    /// acknowledged while it handles the next ones, and as many waiting to
    /// start, so a consumer may hold more messages not yet acknowledged
    /// than its prefetch (on RabbitMQ the prefetch counts them all and stays
    /// the bound).
    pub prefetch: usize,
    /// Attempts in all before a message is dead-lettered. Default 5.
    pub max_attempts: u32,
    /// Pause between attempts after a temporary error or a panic.
    pub backoff: Backoff,
    /// Where dead letters go; default `<topic>.dead-letter`.
    pub dead_letter_topic: Option<String>,
    /// Where a new group starts.
    pub start: StartPosition,
    /// How long a message may stay unacknowledged with a consumer before
    /// another consumer of the group takes it over (Redis Streams; other
    /// brokers notice a dead consumer by its connection). Default 30 s.
    pub claim_after: Duration,
}

impl Default for ConsumeOptions {
    fn default() -> ConsumeOptions {
        ConsumeOptions {
            concurrency: 1,
            prefetch: 32,
            max_attempts: 5,
            backoff: Backoff::default(),
            dead_letter_topic: None,
            start: StartPosition::default(),
            claim_after: Duration::from_secs(30),
        }
    }
}

impl ConsumeOptions {
    /// The dead-letter topic for messages of `topic`.
    pub fn dead_letter_topic_for(&self, topic: &str) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{topic}.dead-letter"))
    }

    /// Checks the values, naming the wrong one.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a zero
    /// concurrency, prefetch or attempt count.
    pub fn validate(&self) -> Result<()> {
        let zero = [
            ("concurrency", self.concurrency == 0),
            ("prefetch", self.prefetch == 0),
            ("max_attempts", self.max_attempts == 0),
        ];
        for (name, is_zero) in zero {
            if is_zero {
                return Err(Error::invalid_input(format!(
                    "consume option {name} must be at least 1"
                ))
                .with_operation("mq.consume")
                .with_key(name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let backoff = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        assert!(backoff.delay(1) <= Duration::from_millis(100));
        assert!(backoff.delay(2) >= Duration::from_millis(150));
        assert!(backoff.delay(10) <= Duration::from_millis(300));
    }

    #[test]
    fn zero_values_are_named() {
        let options = ConsumeOptions {
            prefetch: 0,
            ..ConsumeOptions::default()
        };
        let err = options.validate().unwrap_err();
        assert_eq!(err.context_value("key"), Some("prefetch"));
    }
}
