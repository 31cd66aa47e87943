//! Tokens, passwords and permissions for services built on the SDK.

pub use core_error::{Error, ErrorKind, Result};
