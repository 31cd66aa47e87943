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

/// Milliseconds since the Unix epoch, the unit of the `iat_ms` claim.
///
/// ```
/// assert!(core_auth::jwt::unix_now_ms() / 1000 >= core_auth::jwt::unix_now() - 1);
/// ```
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
