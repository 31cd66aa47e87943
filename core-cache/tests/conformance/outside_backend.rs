//! A backend written outside core-cache, on its public API only: a map
//! behind a mutex, with expiry checked on read. It passes the same suite
//! as the crate's own backends, which is what adding a backend takes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use core_cache::{CacheBase, Capabilities, Error, Result, Ttl};

const NAME: &str = "outside-map";

#[derive(Debug, Default)]
pub(crate) struct MapBackend {
    entries: Mutex<HashMap<String, (Bytes, Option<Instant>)>>,
}

impl MapBackend {
    /// Runs `work` on the live entries (expired ones are dropped first).
    fn with<T>(
        &self,
        key: &str,
        work: impl FnOnce(&mut HashMap<String, (Bytes, Option<Instant>)>) -> T,
    ) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries
            .get(key)
            .is_some_and(|(_, deadline)| deadline.is_some_and(|at| at <= Instant::now()))
        {
            entries.remove(key);
        }
        work(&mut entries)
    }
}

fn deadline(ttl: Option<Duration>) -> Option<Instant> {
    ttl.map(|ttl| Instant::now() + ttl)
}

#[async_trait]
impl CacheBase for MapBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hashes: false,
            lists: false,
            pipelined_batches: false,
            shared: false,
            ..Capabilities::ALL
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.with(key, |entries| {
            entries.get(key).map(|(value, _)| value.clone())
        }))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.with(key, |entries| {
            entries.insert(key.to_owned(), (value, deadline(ttl)))
        });
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        Ok(self.with(key, |entries| {
            if entries.contains_key(key) {
                return false;
            }
            entries.insert(key.to_owned(), (value, deadline(ttl)));
            true
        }))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        Ok(self.with(key, |entries| entries.remove(key).is_some()))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.with(key, |entries| entries.contains_key(key)))
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with(key, |entries| match entries.get_mut(key) {
            Some((_, at)) => {
                *at = deadline(Some(ttl));
                true
            }
            None => false,
        }))
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        self.with(key, |entries| {
            let (before, at) = match entries.get(key) {
                None => (0, None),
                Some((value, at)) => {
                    let parsed = std::str::from_utf8(value)
                        .ok()
                        .and_then(|text| text.parse::<i64>().ok());
                    let before = parsed.ok_or_else(|| {
                        Error::invalid_input("the value is not an integer")
                            .with_operation("cache.incr")
                            .with_key(key)
                    })?;
                    (before, *at)
                }
            };
            let after = before.checked_add(delta).ok_or_else(|| {
                Error::invalid_input("the counter would overflow")
                    .with_operation("cache.incr")
                    .with_key(key)
            })?;
            entries.insert(key.to_owned(), (Bytes::from(after.to_string()), at));
            Ok(after)
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(self.get(key).await?);
        }
        Ok(found)
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        for (key, value) in entries {
            self.set(key, value.clone(), ttl).await?;
        }
        Ok(())
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let mut deleted = 0;
        for key in keys {
            deleted += u64::from(self.delete(key).await?);
        }
        Ok(deleted)
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        Ok(self.with(key, |entries| match entries.get(key) {
            None => Ttl::Missing,
            Some((_, None)) => Ttl::Persistent,
            Some((_, Some(at))) => Ttl::ExpiresIn(at.saturating_duration_since(Instant::now())),
        }))
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|key, _| !key.starts_with(prefix));
        Ok((before - entries.len()) as u64)
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        Ok(self.with(key, |entries| {
            if entries
                .get(key)
                .is_some_and(|(value, _)| value.as_ref() == expected)
            {
                entries.remove(key);
                return true;
            }
            false
        }))
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        Ok(self.with(key, |entries| match entries.get_mut(key) {
            Some((value, at)) if value.as_ref() == expected => {
                *at = deadline(Some(ttl));
                true
            }
            _ => false,
        }))
    }
}
