//! Mapping `redis` errors into the shared kinds.

use core_error::{Error, ErrorKind, redis_error};
use redis::RedisError;

/// Maps a driver error, recording which operation and stream it was about.
pub(crate) fn map(err: RedisError, operation: &'static str, stream: &str) -> Error {
    redis_error(err, describe)
        .with_operation(operation)
        .with_backend(super::BACKEND)
        .with_key(stream)
}

fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "Redis did not answer in time",
        ErrorKind::Unavailable => "Redis is unreachable or not ready",
        ErrorKind::Unauthenticated => "Redis rejected the credentials",
        ErrorKind::PermissionDenied => "Redis denied the command to this user",
        ErrorKind::InvalidInput => "the key holds a value that is not a stream",
        ErrorKind::NotFound => "the consumer group does not exist (was the stream deleted?)",
        _ => "Redis failed the command",
    }
}
