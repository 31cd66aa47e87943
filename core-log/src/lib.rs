//! Structured logging, audit trail, metrics and trace export for services
//! built on the SDK.

pub use core_error::{Error, ErrorKind, Result};
