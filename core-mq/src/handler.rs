//! The handler contract: what a consumer runs for each message and what it answers.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use core_error::Result;
use futures::future::BoxFuture;

use crate::Message;

/// What a handler decided about a message.
///
/// A handler may also return an error: a [temporary](core_error::Error::is_temporary)
/// one means `Retry` with the consumer's backoff, any other one means
/// `DeadLetter` with the error as the reason. A handler that panics is
/// retried too, and the consumer keeps running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: acknowledge (commit) the message.
    Ack,
    /// Try again after this long, if attempts remain; otherwise dead-letter.
    Retry(Duration),
    /// Never try again: move the message to the dead-letter topic with this reason.
    DeadLetter(String),
}

/// A message as a handler receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// Which attempt this is, starting at 1.
    pub attempt: u32,
    /// The consumer group it was delivered to.
    pub group: String,
}

/// What the consumer did with a message, told once it happened: the
/// broker took the acknowledgement, the dead letter was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerEvent {
    /// Acknowledged after the handler answered [`Outcome::Ack`].
    Acked,
    /// An attempt failed; the message will be tried again (in the broker,
    /// or after a pause in the consumer).
    Retried,
    /// Written to the dead-letter topic, then acknowledged; also when the
    /// consumer gave up without calling the handler (a message delivered
    /// over and over without an answer).
    DeadLettered,
    /// The broker did not take an acknowledgement (or did not answer in
    /// time): the message will be delivered again.
    AckFailed,
}

/// Code run for each message a consumer receives.
///
/// Implement it on a type, or wrap an async closure with [`handler_fn`].
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one delivery.
    async fn handle(&self, delivery: Delivery) -> Result<Outcome>;

    /// Told what became of `message` after the consumer acted on the
    /// handler's answer. Nothing by default; the metrics layer counts these,
    /// so its counters say what happened, not what was asked for. A wrapper
    /// passes it on to the handler it wraps.
    fn observe(&self, message: &Message, event: ConsumerEvent) {
        let _ = (message, event);
    }
}

/// A shared handler, as [`consume`](crate::MessageQueueBase::consume) takes it.
pub type SharedHandler = Arc<dyn Handler>;

/// A [`Handler`] made from an async closure.
///
/// ```
/// use core_mq::{Delivery, Outcome, handler_fn};
///
/// let handler = handler_fn(|delivery: Delivery| async move {
///     println!("got {}", delivery.message.id);
///     Ok(Outcome::Ack)
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> SharedHandler
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Outcome>> + Send + 'static,
{
    Arc::new(FnHandler(
        move |delivery| -> BoxFuture<'static, Result<Outcome>> { Box::pin(f(delivery)) },
    ))
}

struct FnHandler<F>(F);

impl<F> fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnHandler")
    }
}

#[async_trait]
impl<F> Handler for FnHandler<F>
where
    F: Fn(Delivery) -> BoxFuture<'static, Result<Outcome>> + Send + Sync + 'static,
{
    async fn handle(&self, delivery: Delivery) -> Result<Outcome> {
        (self.0)(delivery).await
    }
}
