//! Mapping `redis` errors into the shared kinds.

use core_error::{Error, ErrorKind};
use redis::{ErrorKind as RedisKind, RedisError, ServerErrorKind};

/// Maps a driver error, recording which operation and stream it was about.
pub(crate) fn map(err: RedisError, operation: &'static str, stream: &str) -> Error {
    let kind = kind_of(&err);
    Error::new(kind, describe(kind))
        .with_operation(operation)
        .with_backend(super::BACKEND)
        .with_key(stream)
        .with_source(err)
}

fn kind_of(err: &RedisError) -> ErrorKind {
    if err.is_timeout() {
        return ErrorKind::Timeout;
    }
    if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
        return ErrorKind::Unavailable;
    }
    // Codes Redis has no error kind for.
    match err.code() {
        Some("NOGROUP") => return ErrorKind::NotFound,
        Some("WRONGTYPE") => return ErrorKind::InvalidInput,
        _ => {}
    }
    match err.kind() {
        RedisKind::AuthenticationFailed => ErrorKind::Unauthenticated,
        RedisKind::Server(ServerErrorKind::NoPerm) => ErrorKind::PermissionDenied,
        RedisKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        ) => ErrorKind::Unavailable,
        RedisKind::InvalidClientConfig => ErrorKind::InvalidInput,
        _ => ErrorKind::Internal,
    }
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
