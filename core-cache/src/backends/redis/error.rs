//! Mapping `redis` errors into the shared kinds.

use core_error::{Error, ErrorKind};
use redis::{ErrorKind as RedisKind, RedisError, ServerErrorKind};

/// Maps a driver error, recording which backend, operation and key it was about.
pub(crate) fn map(
    err: RedisError,
    backend: &'static str,
    operation: &'static str,
    key: &str,
) -> Error {
    let kind = kind_of(&err);
    Error::new(kind, describe(kind))
        .with_operation(operation)
        .with_backend(backend)
        .with_key(key)
        .with_source(err)
}

fn kind_of(err: &RedisError) -> ErrorKind {
    if err.is_timeout() {
        return ErrorKind::Timeout;
    }
    if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
        return ErrorKind::Unavailable;
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
        )
        | RedisKind::ClusterConnectionNotFound => ErrorKind::Unavailable,
        RedisKind::InvalidClientConfig => ErrorKind::InvalidInput,
        // WRONGTYPE, "value is not an integer", "increment would overflow":
        // the caller's key or value does not fit the operation.
        RedisKind::Server(ServerErrorKind::ResponseError) | RedisKind::Extension => {
            let code = err.code().unwrap_or_default();
            let detail = err.detail().unwrap_or_default();
            if code == "WRONGTYPE"
                || detail.contains("not an integer")
                || detail.contains("overflow")
            {
                ErrorKind::InvalidInput
            } else {
                ErrorKind::Internal
            }
        }
        _ => ErrorKind::Internal,
    }
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
