//! Waiting on a condition instead of sleeping for a guessed time.

use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it answers `Some`, or `None` after `limit`.
pub(crate) async fn wait_until<T>(
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
