//! Mapping `redis` errors into the shared kinds.

use core_error::{Error, ErrorKind, redis_error};
use redis::RedisError;

/// Maps a driver error, recording which backend, operation and key it was about.
pub(crate) fn map(
    err: RedisError,
    backend: &'static str,
    operation: &'static str,
    key: &str,
) -> Error {
    redis_error(err, describe)
        .with_operation(operation)
        .with_backend(backend)
        .with_key(key)
}

fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "Redis did not answer in time",
        ErrorKind::Unavailable => "Redis is unreachable or not ready",
        ErrorKind::Unauthenticated => "Redis rejected the credentials",
        ErrorKind::PermissionDenied => "Redis denied the command to this user",
        ErrorKind::InvalidInput => "the key holds a value of another type or not an integer",
        _ => "Redis failed the command",
    }
}
