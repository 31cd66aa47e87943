//! Names that no other test, run or process uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns a fresh name starting with `prefix`, safe as a key prefix, topic,
/// queue, table or schema name.
///
/// Tests run in parallel and are re-run against servers that still hold the
/// last run's data, so every test works under a name of its own. The name is
/// lowercase ASCII letters, digits and `_`, starts with a letter, and is at
/// most 48 characters long (MySQL allows 64, Kafka 249).
///
/// ```
/// use core_testkit::unique_name;
///
/// let a = unique_name("orders");
/// let b = unique_name("orders");
/// assert_ne!(a, b);
/// assert!(a.starts_with("t_orders_"));
/// assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
/// ```
pub fn unique_name(prefix: &str) -> String {
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(16)
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() % 1_000_000_000_000)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("t_{prefix}_{}_{nanos}_{count}", std::process::id())
}
