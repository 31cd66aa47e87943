//! async-nats errors as the SDK's.
//!
//! async-nats has an error type per call, each with its own kinds; what a
//! caller needs is whether to try again. Everything is temporary
//! (`unavailable`, or `timeout` when the server did not answer in time)
//! except what names a configuration the server refuses.

use core_error::{Error, TlsFailure};

/// Any async-nats error.
pub(super) type Cause = async_nats::Error;

pub(super) fn map(err: impl Into<Cause>, operation: &'static str, topic: &str) -> Error {
    let err = err.into();
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    // rustls' verdict travels as text inside the connect error; a
    // certificate problem is said plainly and not retried.
    let error = if let Some(failure) = TlsFailure::classify(&format!("{text} {err:?}")) {
        Error::unavailable(failure.describe("NATS")).with_temporary(failure.is_temporary())
    } else if lower.contains("timed out") || lower.contains("timeout") {
        Error::timeout(format!("NATS did not answer in time: {text}"))
    } else if lower.contains("jetstream not enabled") || lower.contains("not enabled for account") {
        Error::unavailable(format!("the NATS server has no JetStream: {text}"))
            .with_temporary(false)
    } else if lower.contains("subjects overlap") || lower.contains("stream name already in use") {
        Error::invalid_input(format!("NATS refused the stream settings: {text}"))
    } else {
        Error::unavailable(format!(
            "NATS is unreachable or refused the request: {text}"
        ))
    };
    let error = error.with_operation(operation).with_backend(super::BACKEND);
    // Connecting and health checks are about no topic.
    let error = if topic.is_empty() {
        error
    } else {
        error.with_key(topic.to_string())
    };
    error.with_source(err)
}
