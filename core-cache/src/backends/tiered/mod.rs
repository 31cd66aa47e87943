//! A memory L1 in front of any remote L2, kept coherent through Redis pub/sub.
//!
//! Not a backend of its own URL: `[cache.tiered]` ([`TieredSettings`]) puts
//! it in front of the backend `cache.url` names (feature `tiered`).

mod settings;
#[cfg(feature = "tiered")]
mod store;

pub use settings::TieredSettings;
#[cfg(feature = "tiered")]
pub use store::{TieredBackend, TieredConfig};

use std::sync::Arc;

use core_error::Result;
use futures::future::BoxFuture;

use crate::registration::when_feature;
use crate::{CacheBase, CacheSettings};

/// Wraps a connected backend in the L1.
pub(crate) type Wrap = for<'a> fn(
    Arc<dyn CacheBase>,
    &'a CacheSettings,
    &'a TieredSettings,
) -> BoxFuture<'a, Result<Arc<dyn CacheBase>>>;

/// `None` when the feature `tiered` is off.
pub(crate) const WRAP: Option<Wrap> = when_feature!("tiered", Wrap, store::wrap);
