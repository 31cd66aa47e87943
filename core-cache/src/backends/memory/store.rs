use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use moka::Expiry;
use moka::ops::compute::Op;

use super::MemorySettings;
use crate::layers::{Call, CallObserver, CallResult};
use crate::{CacheBase, CacheSettings, Capabilities, ListEnd, Ttl};

const BACKEND: &str = "memory";

/// What one key holds.
#[derive(Debug, Clone)]
enum Data {
    Value(Bytes),
    Hash(BTreeMap<String, Bytes>),
    List(VecDeque<Bytes>),
}

#[derive(Debug)]
struct Stored {
    data: Data,
    expires_at: Option<Instant>,
}

impl Stored {
    fn new(data: Data, ttl: Option<Duration>) -> Arc<Stored> {
        Arc::new(Stored {
            data,
            expires_at: ttl.map(|ttl| Instant::now() + ttl),
        })
    }

    fn is_live(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|deadline| deadline > now)
    }

    fn weight(&self, key: &str) -> u32 {
        let data = match &self.data {
            Data::Value(value) => value.len(),
            Data::Hash(fields) => fields
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum(),
            Data::List(items) => items.iter().map(Bytes::len).sum(),
        };
        u32::try_from(key.len() + data).unwrap_or(u32::MAX)
    }
}

/// Each entry lives as long as its own deadline says.
struct PerEntryDeadline;

impl Expiry<String, Arc<Stored>> for PerEntryDeadline {
    fn expire_after_create(
        &self,
        _: &String,
        value: &Arc<Stored>,
        now: Instant,
    ) -> Option<Duration> {
        value
            .expires_at
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &Arc<Stored>,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        value
            .expires_at
            .map(|deadline| deadline.saturating_duration_since(now))
    }
}

/// The in-memory backend: per-entry TTL, bounded by entries or bytes.
///
/// Entries live in this process only ([`Capabilities::shared`] is false):
/// two processes each have their own, and a lock taken here excludes only
/// tasks of this process.
///
/// ```
/// use core_cache::CacheBase;
/// use core_cache::backends::memory::{MemoryBackend, MemorySettings};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let cache = MemoryBackend::new(&MemorySettings::default());
/// cache.set("greeting", "hello".into(), None).await?;
/// assert_eq!(cache.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    entries: moka::sync::Cache<String, Arc<Stored>>,
    /// Tracing and call counts, when the standard layers asked for them
    /// ([`CacheBase::observed`]).
    observer: Option<Arc<CallObserver>>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

/// The registration's connect function.
pub(super) fn open(settings: &CacheSettings) -> BoxFuture<'_, Result<Arc<dyn CacheBase>>> {
    let backend = MemoryBackend::new(&settings.memory);
    Box::pin(std::future::ready(Ok(
        Arc::new(backend) as Arc<dyn CacheBase>
    )))
}

impl MemoryBackend {
    /// Creates an empty cache bounded as `config` says.
    pub fn new(config: &MemorySettings) -> MemoryBackend {
        let builder = moka::sync::Cache::builder().expire_after(PerEntryDeadline);
        let entries = match config.max_bytes {
            Some(max_bytes) => builder
                .weigher(|key: &String, value: &Arc<Stored>| value.weight(key))
                .max_capacity(max_bytes)
                .build(),
            None => builder.max_capacity(config.max_entries).build(),
        };
        MemoryBackend {
            entries,
            observer: None,
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// Runs `work`, the body of `operation` on `key`, under the observer if
    /// there is one.
    fn observe<T: CallResult>(
        &self,
        operation: &'static str,
        key: &str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        match &self.observer {
            None => work(),
            Some(observer) => {
                // Not retried here, so whether the call is idempotent does
                // not matter.
                let call = Call {
                    backend: BACKEND,
                    operation,
                    key,
                    idempotent: false,
                };
                observer.observe(call, work)
            }
        }
    }

    /// `get` without the observer, for `get_many` too.
    fn value(&self, key: &str) -> Result<Option<Bytes>> {
        // The hot path skips `live`'s clock read: moka's own read already
        // drops entries past their per-entry deadline (`PerEntryDeadline`),
        // at most the few microseconds between `Stored::new` and the insert
        // later than `expires_at`.
        match self.entries.get(key) {
            None => Ok(None),
            Some(stored) => match &stored.data {
                Data::Value(value) => Ok(Some(value.clone())),
                _ => Err(wrong_type("cache.get", key, "a plain value")),
            },
        }
    }

    /// `set` without the observer, for `set_many` too.
    fn store(&self, key: &str, value: Bytes, ttl: Option<Duration>) {
        self.entries
            .insert(key.to_string(), Stored::new(Data::Value(value), ttl));
    }

    /// `delete` without the observer, for `delete_many` too.
    fn remove(&self, key: &str) -> bool {
        let removed = self.entries.remove(key);
        removed.is_some_and(|stored| stored.is_live(Instant::now()))
    }

    fn live(&self, key: &str) -> Option<Arc<Stored>> {
        self.entries
            .get(key)
            .filter(|stored| stored.is_live(Instant::now()))
    }

    /// Runs `change` atomically on the live entry under `key`.
    fn update<T>(
        &self,
        key: &str,
        change: impl FnOnce(Option<&Stored>) -> Result<(Op<Arc<Stored>>, T)>,
    ) -> Result<T> {
        let mut outcome = None;
        self.entries
            .entry(key.to_string())
            .and_compute_with(|current| {
                let now = Instant::now();
                let live = current
                    .as_ref()
                    .map(|entry| entry.value())
                    .filter(|s| s.is_live(now));
                let (op, result) = match change(live.map(|stored| &**stored)) {
                    Ok((op, value)) => (op, Ok(value)),
                    Err(err) => (Op::Nop, Err(err)),
                };
                outcome = Some(result);
                op
            });
        outcome.unwrap_or_else(|| Err(Error::internal("cache entry update did not run")))
    }
}

fn wrong_type(operation: &'static str, key: &str, expected: &str) -> Error {
    Error::invalid_input(format!("the key holds a value that is not {expected}"))
        .with_operation(operation)
        .with_backend(BACKEND)
        .with_key(key)
}

fn remaining(stored: &Stored) -> Option<Duration> {
    stored
        .expires_at
        .map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

#[async_trait]
impl CacheBase for MemoryBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared: false,
            ..Capabilities::ALL
        }
    }

    fn observed(&self) -> Option<Arc<dyn CacheBase>> {
        Some(Arc::new(MemoryBackend {
            entries: self.entries.clone(),
            observer: Some(Arc::new(CallObserver::default())),
        }))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.observe("cache.get", key, || self.value(key))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.observe("cache.set", key, || {
            self.store(key, value, ttl);
            Ok(())
        })
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        self.observe("cache.set_if_absent", key, || {
            self.update(key, |current| {
                Ok(match current {
                    Some(_) => (Op::Nop, false),
                    None => (Op::Put(Stored::new(Data::Value(value), ttl)), true),
                })
            })
        })
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        self.observe("cache.delete", key, || Ok(self.remove(key)))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        self.observe("cache.exists", key, || Ok(self.live(key).is_some()))
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.observe("cache.expire", key, || {
            self.update(key, |current| {
                Ok(match current {
                    None => (Op::Nop, false),
                    Some(stored) => (Op::Put(Stored::new(stored.data.clone(), Some(ttl))), true),
                })
            })
        })
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        self.observe("cache.ttl", key, || {
            Ok(match self.live(key) {
                None => Ttl::Missing,
                Some(stored) => remaining(&stored).map_or(Ttl::Persistent, Ttl::ExpiresIn),
            })
        })
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        self.observe("cache.incr", key, || {
            self.update(key, |current| {
                let (before, ttl) = match current {
                    None => (0, None),
                    Some(stored) => {
                        let Data::Value(value) = &stored.data else {
                            return Err(wrong_type("cache.incr", key, "an integer"));
                        };
                        let parsed = std::str::from_utf8(value)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok());
                        let before =
                            parsed.ok_or_else(|| wrong_type("cache.incr", key, "an integer"))?;
                        (before, remaining(stored))
                    }
                };
                let after = before.checked_add(delta).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "adding {delta} to {before} overflows a 64-bit integer"
                    ))
                    .with_operation("cache.incr")
                    .with_backend(BACKEND)
                    .with_key(key)
                })?;
                let stored = Stored::new(Data::Value(Bytes::from(after.to_string())), ttl);
                Ok((Op::Put(stored), after))
            })
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.observe(
            "cache.get_many",
            keys.first().map_or("", String::as_str),
            || {
                let mut values = Vec::with_capacity(keys.len());
                for key in keys {
                    values.push(self.value(key)?);
                }
                Ok(values)
            },
        )
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        self.observe(
            "cache.set_many",
            entries.first().map_or("", |(key, _)| key.as_str()),
            || {
                for (key, value) in entries {
                    self.store(key, value.clone(), ttl);
                }
                Ok(())
            },
        )
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        self.observe(
            "cache.delete_many",
            keys.first().map_or("", String::as_str),
            || {
                let mut deleted = 0;
                for key in keys {
                    deleted += u64::from(self.remove(key));
                }
                Ok(deleted)
            },
        )
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        self.observe("cache.delete_prefix", prefix, || {
            let now = Instant::now();
            let doomed: Vec<Arc<String>> = self
                .entries
                .iter()
                .filter(|(key, stored)| key.starts_with(prefix) && stored.is_live(now))
                .map(|(key, _)| key)
                .collect();
            for key in &doomed {
                self.entries.invalidate(key.as_str());
            }
            Ok(doomed.len() as u64)
        })
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        self.observe("cache.compare_and_delete", key, || {
            self.update(key, |current| {
                Ok(match current {
                    Some(Stored {
                        data: Data::Value(value),
                        ..
                    }) if value.as_ref() == expected => (Op::Remove, true),
                    _ => (Op::Nop, false),
                })
            })
        })
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        self.observe("cache.compare_and_expire", key, || {
            self.update(key, |current| {
                Ok(match current {
                    Some(Stored {
                        data: Data::Value(value),
                        ..
                    }) if value.as_ref() == expected => (
                        Op::Put(Stored::new(Data::Value(value.clone()), Some(ttl))),
                        true,
                    ),
                    _ => (Op::Nop, false),
                })
            })
        })
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<bool> {
        self.observe("cache.hset", key, || {
            self.update(key, |current| {
                let (mut fields, ttl) = match current {
                    None => (BTreeMap::new(), None),
                    Some(
                        stored @ Stored {
                            data: Data::Hash(fields),
                            ..
                        },
                    ) => (fields.clone(), remaining(stored)),
                    Some(_) => return Err(wrong_type("cache.hset", key, "a hash")),
                };
                let is_new = fields.insert(field.to_string(), value).is_none();
                Ok((Op::Put(Stored::new(Data::Hash(fields), ttl)), is_new))
            })
        })
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>> {
        self.observe("cache.hget", key, || match self.live(key).as_deref() {
            None => Ok(None),
            Some(Stored {
                data: Data::Hash(fields),
                ..
            }) => Ok(fields.get(field).cloned()),
            Some(_) => Err(wrong_type("cache.hget", key, "a hash")),
        })
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>> {
        self.observe("cache.hgetall", key, || match self.live(key).as_deref() {
            None => Ok(Vec::new()),
            Some(Stored {
                data: Data::Hash(fields),
                ..
            }) => Ok(fields
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()),
            Some(_) => Err(wrong_type("cache.hgetall", key, "a hash")),
        })
    }

    async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        self.observe("cache.hdel", key, || {
            self.update(key, |current| match current {
                None => Ok((Op::Nop, false)),
                Some(
                    stored @ Stored {
                        data: Data::Hash(fields),
                        ..
                    },
                ) => {
                    let mut fields = fields.clone();
                    let existed = fields.remove(field).is_some();
                    let op = if fields.is_empty() {
                        Op::Remove
                    } else {
                        Op::Put(Stored::new(Data::Hash(fields), remaining(stored)))
                    };
                    Ok((op, existed))
                }
                Some(_) => Err(wrong_type("cache.hdel", key, "a hash")),
            })
        })
    }

    async fn push(&self, key: &str, end: ListEnd, values: &[Bytes]) -> Result<u64> {
        self.observe("cache.push", key, || {
            self.update(key, |current| {
                let (mut items, ttl) = match current {
                    None => (VecDeque::new(), None),
                    Some(
                        stored @ Stored {
                            data: Data::List(items),
                            ..
                        },
                    ) => (items.clone(), remaining(stored)),
                    Some(_) => return Err(wrong_type("cache.push", key, "a list")),
                };
                for value in values {
                    match end {
                        ListEnd::Front => items.push_front(value.clone()),
                        ListEnd::Back => items.push_back(value.clone()),
                    }
                }
                let length = items.len() as u64;
                Ok((Op::Put(Stored::new(Data::List(items), ttl)), length))
            })
        })
    }

    async fn pop(&self, key: &str, end: ListEnd) -> Result<Option<Bytes>> {
        self.observe("cache.pop", key, || {
            self.update(key, |current| match current {
                None => Ok((Op::Nop, None)),
                Some(
                    stored @ Stored {
                        data: Data::List(items),
                        ..
                    },
                ) => {
                    let mut items = items.clone();
                    let popped = match end {
                        ListEnd::Front => items.pop_front(),
                        ListEnd::Back => items.pop_back(),
                    };
                    let op = if items.is_empty() {
                        Op::Remove
                    } else {
                        Op::Put(Stored::new(Data::List(items), remaining(stored)))
                    };
                    Ok((op, popped))
                }
                Some(_) => Err(wrong_type("cache.pop", key, "a list")),
            })
        })
    }

    async fn range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        self.observe("cache.range", key, || match self.live(key).as_deref() {
            None => Ok(Vec::new()),
            Some(Stored {
                data: Data::List(items),
                ..
            }) => Ok(match list_window(items.len(), start, stop) {
                Some((first, last)) => items.range(first..=last).cloned().collect(),
                None => Vec::new(),
            }),
            Some(_) => Err(wrong_type("cache.range", key, "a list")),
        })
    }
}

/// The inclusive index window `start..=stop` of a list of `len` items, with
/// negative indexes counting from the tail as Redis `LRANGE` does; `None`
/// when the window is empty.
fn list_window(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let resolve = |index: i64| if index < 0 { len + index } else { index };
    let first = resolve(start).max(0);
    let last = resolve(stop).min(len - 1);
    (first <= last && first < len).then_some((first as usize, last as usize))
}

#[cfg(test)]
mod list_window_tests {
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
