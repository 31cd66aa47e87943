//! The clock tokens are checked against.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of `exp`, `iat` and `nbf`.
///
/// ```
/// assert!(core_auth::jwt::unix_now() > 1_700_000_000);
/// ```
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
