//! How a backend makes itself known to [`connect`](crate::connect): each
//! backend's folder declares one [`Registration`], and
//! `backends/mod.rs` lists them, one line each.

use std::sync::Arc;

use core_error::Result;
use futures::future::BoxFuture;

use crate::{MessageQueueBase, MqSettings};

/// Builds a backend from the whole `mq` section (its URL, the message size
/// limit and its own sub-section).
pub(crate) type Connect =
    for<'a> fn(&'a MqSettings) -> BoxFuture<'a, Result<Arc<dyn MessageQueueBase>>>;

/// One backend, whether or not its cargo feature is on.
pub(crate) struct Registration {
    /// How errors name it ("RabbitMQ").
    pub(crate) name: &'static str,
    /// The URL schemes it answers to, lower case.
    pub(crate) schemes: &'static [&'static str],
    /// The cargo feature that compiles it.
    pub(crate) feature: &'static str,
    /// `None` when the feature is off: the scheme is known, and the error
    /// can say which feature adds it.
    pub(crate) connect: Option<Connect>,
}

/// `Some(open)` when `feature` is on, else `None` (and `open` is never named).
macro_rules! connector {
    ($feature:literal, $open:path) => {{
        #[cfg(feature = $feature)]
        let connect: Option<$crate::registration::Connect> = Some($open);
        #[cfg(not(feature = $feature))]
        let connect: Option<$crate::registration::Connect> = None;
        connect
    }};
}

pub(crate) use connector;
