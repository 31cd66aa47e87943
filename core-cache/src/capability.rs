//! What a backend can do, so callers can ask before they call.

/// The optional operations a backend supports and the guarantees it gives.
///
/// Every backend supports the core key/value operations (get, set with TTL,
/// delete, exists, expire, set-if-absent, incr, the `*_many` batches). The
/// rest is declared here; calling an operation whose capability is `false`
/// returns [`ErrorKind::Unsupported`](core_error::ErrorKind::Unsupported),
/// never a silent no-op.
///
/// ```
/// use core_cache::Capabilities;
///
/// let caps = Capabilities { hashes: false, ..Capabilities::ALL };
/// assert!(caps.lists && !caps.hashes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `ttl` reports the remaining time to live of a key.
    pub ttl_inspection: bool,
    /// `delete_prefix` removes every key under a prefix.
    pub delete_prefix: bool,
    /// `compare_and_delete` and `compare_and_expire`, which the distributed
    /// lock needs.
    pub compare_and_swap: bool,
    /// `hset`, `hget`, `hgetall`, `hdel`.
    pub hashes: bool,
    /// `push`, `pop`, `range`.
    pub lists: bool,
    /// `incr` may take a counter below zero (memcached counters stop at 0).
    pub negative_counters: bool,
    /// `get_many` and `set_many` travel in one round trip.
    pub pipelined_batches: bool,
    /// Other processes see the same entries (false for the in-memory cache:
    /// its locks and counters are per process).
    pub shared: bool,
}

impl Capabilities {
    /// Every capability on.
    pub const ALL: Capabilities = Capabilities {
        ttl_inspection: true,
        delete_prefix: true,
        compare_and_swap: true,
        hashes: true,
        lists: true,
        negative_counters: true,
        pipelined_batches: true,
        shared: true,
    };
}
