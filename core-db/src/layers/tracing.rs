//! A span per statement and a log line per failure.

use core_error::{Error, ErrorKind};

use super::Call;
use crate::Backend;

/// The `db` span of one statement (at `debug`, so free when that is off).
/// The statement's text is there, never its parameters.
pub(super) fn span(backend: Backend, call: &Call<'_>) -> tracing::Span {
    tracing::debug_span!(
        "db",
        operation = call.operation.name(),
        backend = backend.name(),
        statement = call.statement,
        params = call.params,
    )
}

/// Logs a failed statement: a missing row or a conflict is an answer the
/// caller handles (`debug`), a temporary failure a `warn`, the rest an
/// `error`.
pub(super) fn report(err: &Error) {
    match err.kind() {
        ErrorKind::NotFound | ErrorKind::Conflict => {
            tracing::debug!(error = %err, "database statement failed");
        }
        _ if err.is_temporary() => tracing::warn!(error = %err, "database statement failed"),
        _ => tracing::error!(error = %err, "database statement failed"),
    }
}
