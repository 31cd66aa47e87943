//! Layered, typed, validated configuration for services built on the SDK.
//!
//! Every other crate's settings section is defined where the crate lives and
//! nested by the service's own settings struct.

pub use core_error::{Error, ErrorKind, Result};
