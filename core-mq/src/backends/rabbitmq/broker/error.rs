//! Mapping `lapin` errors into the shared kinds.

use core_error::{Error, ErrorKind};
use lapin::ErrorKind as LapinKind;

/// Maps a driver error, recording which operation and topic it was about.
pub(crate) fn map(err: lapin::Error, operation: &'static str, topic: &str) -> Error {
    // rustls' verdict travels as I/O error text; a certificate problem is
    // said plainly and not retried.
    if let Some(failure) = core_error::TlsFailure::classify(&format!("{err} {err:?}")) {
        return Error::unavailable(failure.describe("RabbitMQ"))
            .with_temporary(failure.is_temporary())
            .with_operation(operation)
            .with_backend(super::BACKEND)
            .with_key(topic)
            .with_source(err);
    }
    let kind = kind_of(&err);
    Error::new(kind, describe(kind))
        .with_operation(operation)
        .with_backend(super::BACKEND)
        .with_key(topic)
        .with_source(err)
}

fn kind_of(err: &lapin::Error) -> ErrorKind {
    match err.kind() {
        LapinKind::IOError(_)
        | LapinKind::InvalidConnectionState(_)
        | LapinKind::InvalidChannelState(..)
        | LapinKind::InvalidChannel(_)
        | LapinKind::MissingHeartbeatError
        | LapinKind::ChannelsLimitReached => ErrorKind::Unavailable,
        LapinKind::AuthProviderError(_) => ErrorKind::Unauthenticated,
        LapinKind::ProtocolError(amqp) => match amqp.get_id() {
            // CONTENT_TOO_LARGE, PRECONDITION_FAILED (such as a message over
            // the server's max_message_size, or a queue declared differently).
            311 | 406 => ErrorKind::InvalidInput,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::Conflict,
            // CONNECTION_FORCED (server shutting down), RESOURCE_ERROR.
            320 | 506 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        },
        _ => ErrorKind::Internal,
    }
}

fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unavailable => "RabbitMQ is unreachable or the connection was lost",
        ErrorKind::Unauthenticated => "RabbitMQ rejected the credentials",
        ErrorKind::PermissionDenied => "RabbitMQ denied access to this user",
        ErrorKind::InvalidInput => {
            "RabbitMQ refused the request (message too large, or a queue or exchange declared with other arguments)"
        }
        ErrorKind::NotFound => "the exchange or queue does not exist",
        ErrorKind::Conflict => "the queue is locked by another connection",
        _ => "RabbitMQ failed the request",
    }
}
