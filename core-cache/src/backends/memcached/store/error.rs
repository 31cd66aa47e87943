//! Mapping `async-memcached` errors into the shared kinds.

use async_memcached::{Error as MemcachedError, ErrorKind as ProtocolKind, Status};
use core_error::{Error, ErrorKind};

/// Maps a driver error, recording which operation and key it was about.
pub(crate) fn map(err: MemcachedError, operation: &'static str, key: &str) -> Error {
    let (kind, message) = match &err {
        MemcachedError::Connect(_) | MemcachedError::ConnectionClosed => {
            (ErrorKind::Unavailable, "Memcached is unreachable")
        }
        MemcachedError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            (ErrorKind::Timeout, "Memcached did not answer in time")
        }
        MemcachedError::Io(_) => (ErrorKind::Unavailable, "the connection to Memcached failed"),
        MemcachedError::Protocol(Status::Error(ProtocolKind::KeyTooLong)) => (
            ErrorKind::InvalidInput,
            "the key is longer than Memcached's 250 bytes",
        ),
        MemcachedError::Protocol(Status::Error(ProtocolKind::Client(detail)))
            if detail.contains("non-numeric") =>
        {
            (
                ErrorKind::InvalidInput,
                "the key holds a value that is not an integer",
            )
        }
        MemcachedError::Protocol(Status::Error(ProtocolKind::Client(_))) => {
            (ErrorKind::InvalidInput, "Memcached rejected the request")
        }
        MemcachedError::Protocol(Status::Error(ProtocolKind::Server(detail)))
            if detail.contains("too large") =>
        {
            (
                ErrorKind::InvalidInput,
                "the value is larger than Memcached's item size limit",
            )
        }
        _ => (ErrorKind::Internal, "Memcached failed the command"),
    };
    Error::new(kind, message)
        .with_operation(operation)
        .with_backend(super::BACKEND)
        .with_key(key)
        .with_source(err)
}

/// Whether the connection that produced `err` must not be reused.
pub(crate) fn breaks_connection(err: &MemcachedError) -> bool {
    matches!(
        err,
        MemcachedError::Connect(_)
            | MemcachedError::ConnectionClosed
            | MemcachedError::Io(_)
            | MemcachedError::ParseError(_)
    )
}
