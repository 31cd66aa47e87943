//! How a backend makes itself known to [`connect`](crate::connect): each
//! backend's folder declares a [`Registration`], and `backends/mod.rs`
//! lists them, one line each.

use std::sync::Arc;

use core_error::Result;
use futures::future::BoxFuture;

use crate::{CacheBase, CacheSettings};

/// Builds a backend from the whole `cache` section (its URL and its own
/// sub-section).
pub(crate) type Connect =
    for<'a> fn(&'a CacheSettings) -> BoxFuture<'a, Result<Arc<dyn CacheBase>>>;

/// One backend, whether or not its cargo feature is on.
pub(crate) struct Registration {
    /// How errors name it ("Redis Cluster").
    pub(crate) name: &'static str,
    /// The URL schemes it answers to, lower case.
    pub(crate) schemes: &'static [&'static str],
    /// The cargo feature that compiles it.
    pub(crate) feature: &'static str,
    /// `None` when the feature is off: the scheme is known, and the error
    /// can say which feature adds it.
    pub(crate) connect: Option<Connect>,
}

/// The lower-case scheme of `url`.
pub(crate) fn scheme_of(url: &str) -> String {
    url.split_once("://")
        .map_or(url, |(scheme, _)| scheme)
        .to_ascii_lowercase()
}

/// `Some(function)` when `feature` is on, else `None` (and `function` is
/// never named), as an `Option<$type>`.
macro_rules! when_feature {
    ($feature:literal, $type:ty, $function:path) => {{
        #[cfg(feature = $feature)]
        let function: Option<$type> = Some($function);
        #[cfg(not(feature = $feature))]
        let function: Option<$type> = None;
        function
    }};
}

pub(crate) use when_feature;
