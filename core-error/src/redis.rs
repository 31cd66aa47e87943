//! The kind of a `redis` driver error, shared by every crate that talks to
//! Redis so a cache and a stream read the same failure the same way.

use redis::{ErrorKind as RedisKind, RedisError, ServerErrorKind};

use crate::ErrorKind;

/// Which shared kind a `redis` error belongs to.
///
/// Timeouts are [`Timeout`](ErrorKind::Timeout); a refused, dropped or
/// broken connection, and a server that is loading, failing over or read-only,
/// are [`Unavailable`](ErrorKind::Unavailable) (both temporary). A key
/// holding another type (`WRONGTYPE`) or a value that is not an integer is
/// the caller's [`InvalidInput`](ErrorKind::InvalidInput); a missing consumer
/// group (`NOGROUP`) is [`NotFound`](ErrorKind::NotFound).
///
/// ```
/// use core_error::{ErrorKind, redis_error_kind};
///
/// let refused = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(redis_error_kind(&refused), ErrorKind::Unavailable);
/// ```
#[must_use]
pub fn redis_error_kind(err: &RedisError) -> ErrorKind {
    if err.is_timeout() {
        return ErrorKind::Timeout;
    }
    if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
        return ErrorKind::Unavailable;
    }
    // Codes the driver has no kind of its own for.
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
        )
        | RedisKind::ClusterConnectionNotFound => ErrorKind::Unavailable,
        RedisKind::InvalidClientConfig => ErrorKind::InvalidInput,
        // INCR on "abc", "increment would overflow": the caller's value does
        // not fit the command.
        RedisKind::Server(ServerErrorKind::ResponseError) | RedisKind::Extension => {
            let detail = err.detail().unwrap_or_default();
            if detail.contains("not an integer") || detail.contains("overflow") {
                ErrorKind::InvalidInput
            } else {
                ErrorKind::Internal
            }
        }
        _ => ErrorKind::Internal,
    }
}

/// The TLS failure behind a `redis` error, if it is one: rustls' verdict
/// travels inside the driver's I/O error text.
#[must_use]
pub fn redis_tls_failure(err: &RedisError) -> Option<crate::TlsFailure> {
    crate::TlsFailure::classify(&format!("{err} {err:?}"))
}

/// A shared error for a `redis` failure: its kind, or for a TLS failure
/// [`Unavailable`](ErrorKind::Unavailable) with what went wrong said plainly
/// and, for a certificate problem, not temporary. `describe` words the
/// other kinds for the caller's use of Redis.
pub fn redis_error(err: RedisError, describe: fn(ErrorKind) -> &'static str) -> crate::Error {
    if let Some(failure) = redis_tls_failure(&err) {
        return crate::Error::unavailable(failure.describe("Redis"))
            .with_temporary(failure.is_temporary())
            .with_source(err);
    }
    let kind = redis_error_kind(&err);
    crate::Error::new(kind, describe(kind)).with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: &str, detail: &str) -> RedisError {
        RedisError::from((RedisKind::Extension, "", format!("{code} {detail}")))
    }

    #[test]
    fn connection_failures_are_unavailable() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(redis_error_kind(&refused), ErrorKind::Unavailable);
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(redis_error_kind(&reset), ErrorKind::Unavailable);
    }

    #[test]
    fn timeouts_are_timeouts() {
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(redis_error_kind(&timed_out), ErrorKind::Timeout);
    }

    #[test]
    fn rejected_credentials_are_unauthenticated() {
        let auth = RedisError::from((RedisKind::AuthenticationFailed, "bad password"));
        assert_eq!(redis_error_kind(&auth), ErrorKind::Unauthenticated);
    }

    #[test]
    fn client_config_is_invalid_input() {
        let config = RedisError::from((RedisKind::InvalidClientConfig, "no host"));
        assert_eq!(redis_error_kind(&config), ErrorKind::InvalidInput);
    }

    #[test]
    fn anything_else_is_internal() {
        let odd = server_error("ERR", "something unexpected");
        assert_eq!(redis_error_kind(&odd), ErrorKind::Internal);
    }
}
