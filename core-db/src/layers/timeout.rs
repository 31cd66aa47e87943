//! A deadline on each attempt: `database.query_timeout_ms`.

use std::future::Future;
use std::time::Duration;

use core_error::{Error, Result};

use super::{Call, statement_context};
use crate::Backend;

/// Runs `attempt`, giving up after `timeout` when there is one.
///
/// Giving up stops the caller's wait, not the server: a statement still
/// running there finishes, and its connection is usable again only after
/// it has (the driver reads the rest of its reply first). Pair it with
/// `statement_timeout_ms`, which has the server cancel the statement.
pub(super) async fn limit<T>(
    timeout: Option<Duration>,
    backend: Backend,
    call: &Call<'_>,
    attempt: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(timeout) = timeout else {
        return attempt.await;
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(elapsed(timeout, backend, call)),
    }
}

#[cold]
fn elapsed(timeout: Duration, backend: Backend, call: &Call<'_>) -> Error {
    Error::timeout(format!(
        "the database did not answer within {timeout:?} (database.query_timeout_ms)"
    ))
    .with_operation(call.operation.name())
    .with_backend(backend.name())
    .with_key(statement_context(call.statement))
}
