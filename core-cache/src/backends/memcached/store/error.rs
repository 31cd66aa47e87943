//! Mapping connection failures into the shared kinds.

use core_error::{Error, ErrorKind, TlsFailure};

use super::connection::Failure;
use super::wire::Refusal;

/// Maps a failure; on a TLS connection an I/O failure that is a TLS verdict
/// is said as one (and a certificate problem is not temporary). The caller
/// adds the operation, key and endpoint.
pub(crate) fn map(failure: Failure, tls: bool) -> Error {
    let tls_failure = match &failure {
        Failure::Io(err) if tls => TlsFailure::classify(&format!("{err} {err:?}")),
        _ => None,
    };
    let error = if let Some(tls_failure) = tls_failure {
        Error::unavailable(tls_failure.describe("Memcached"))
            .with_temporary(tls_failure.is_temporary())
    } else {
        let (kind, message) = match &failure {
            Failure::Connect(_) => (ErrorKind::Unavailable, "Memcached is unreachable"),
            Failure::Io(_) => (ErrorKind::Unavailable, "the connection to Memcached failed"),
            Failure::Closed => (ErrorKind::Unavailable, "Memcached closed the connection"),
            Failure::Refused(Refusal::Client(detail)) if detail.contains("non-numeric") => (
                ErrorKind::InvalidInput,
                "the key holds a value that is not an integer",
            ),
            Failure::Refused(Refusal::Client(_)) => {
                (ErrorKind::InvalidInput, "Memcached rejected the request")
            }
            Failure::Refused(Refusal::Server(detail)) if detail.contains("too large") => (
                ErrorKind::InvalidInput,
                "the value is larger than Memcached's item size limit",
            ),
            Failure::Refused(Refusal::Server(_)) => {
                (ErrorKind::Internal, "Memcached failed the command")
            }
            Failure::Refused(Refusal::Unexpected) => (
                ErrorKind::Internal,
                "Memcached answered with a reply the client cannot read",
            ),
        };
        Error::new(kind, message)
    };
    error.with_source(failure)
}
