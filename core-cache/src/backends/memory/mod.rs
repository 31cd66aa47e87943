//! The in-process cache, on `moka`: the default, and the L1 of the tiered cache.
//!
//! Settings: `cache.memory` ([`MemorySettings`], also the tiered cache's L1
//! bounds). URL: `memory://`.

mod settings;
#[cfg(feature = "memory")]
mod store;

pub use settings::MemorySettings;
#[cfg(feature = "memory")]
pub use store::MemoryBackend;

use crate::registration::{Connect, Registration, when_feature};

pub(crate) const REGISTRATION: Registration = Registration {
    name: "in-memory",
    schemes: &["memory"],
    feature: "memory",
    connect: when_feature!("memory", Connect, store::open),
};
