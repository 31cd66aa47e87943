//! What the allocator does fast, for tests that hold a hot path to it.

/// The largest allocation glibc serves from its per-thread cache, without a
/// lock: a larger one takes the arena's lock (shared with the other runtime
/// threads) and sorts its bins. Futures boxed on every request or call are
/// held under it.
///
/// ```
/// let boxed_future_bytes = 760;
/// assert!(boxed_future_bytes <= core_testkit::THREAD_CACHE_LIMIT);
/// ```
pub const THREAD_CACHE_LIMIT: usize = 1_032;
