//! One module per backend, each compiled only under its cargo feature.
//!
//! | backend | feature | module |
//! |---|---|---|
//! | in-memory (moka) | `memory` | [`memory`] |
//! | Redis | `redis` | [`redis`] |
//! | Redis Cluster | `redis-cluster` | [`redis`] ([`RedisClusterBackend`](redis::RedisClusterBackend)) |
//! | Memcached | `memcached` | [`memcached`] |
//! | memory in front of any remote cache | `tiered` | [`tiered`] |

#[cfg(feature = "memcached")]
pub mod memcached;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "tiered")]
pub mod tiered;

/// The inclusive index window `start..=stop` of a list of `len` items, with
/// negative indexes counting from the tail as Redis `LRANGE` does; `None`
/// when the window is empty.
#[cfg_attr(not(feature = "memory"), allow(dead_code))]
pub(crate) fn list_window(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let resolve = |index: i64| if index < 0 { len + index } else { index };
    let first = resolve(start).max(0);
    let last = resolve(stop).min(len - 1);
    (first <= last && first < len).then_some((first as usize, last as usize))
}

#[cfg(test)]
mod tests {
    use super::list_window;

    #[test]
    fn list_windows_follow_lrange() {
        assert_eq!(list_window(5, 0, -1), Some((0, 4)));
        assert_eq!(list_window(5, -2, -1), Some((3, 4)));
        assert_eq!(list_window(5, 1, 100), Some((1, 4)));
        assert_eq!(list_window(5, -100, 0), Some((0, 0)));
        assert_eq!(list_window(5, 3, 1), None);
        assert_eq!(list_window(5, 5, 9), None);
        assert_eq!(list_window(0, 0, -1), None);
    }
}
