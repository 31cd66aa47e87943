//! The store code behind `[cache.tiered]`, compiled with feature `tiered`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::task::AbortHandle;

use super::TieredSettings;
use crate::backends::memory::{MemoryBackend, MemorySettings};
use crate::{CacheBase, CacheSettings, Capabilities, ListEnd, Ttl};

const BACKEND: &str = "tiered";

/// How the two levels are put together.
#[derive(Clone)]
pub struct TieredConfig {
    /// Bounds of the in-process L1.
    pub l1: MemorySettings,
    /// How long a value stays in L1. This also bounds how stale a value can
    /// be if an invalidation message is lost. Default 30 s.
    pub l1_ttl: Duration,
    /// The Redis server whose pub/sub carries invalidations.
    pub invalidation_url: SecretString,
    /// The pub/sub channel; processes sharing an L2 must share it.
    pub channel: String,
}

impl TieredConfig {
    /// Defaults around the Redis server at `invalidation_url`.
    pub fn new(invalidation_url: impl Into<String>) -> TieredConfig {
        TieredConfig {
            l1: MemorySettings::default(),
            l1_ttl: Duration::from_secs(30),
            invalidation_url: SecretString::from(invalidation_url.into()),
            channel: "core-cache:invalidate".to_string(),
        }
    }
}

impl fmt::Debug for TieredConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredConfig")
            .field("l1", &self.l1)
            .field("l1_ttl", &self.l1_ttl)
            .field(
                "invalidation_url",
                &core_error::redact_endpoint(self.invalidation_url.expose_secret()),
            )
            .field("channel", &self.channel)
            .finish()
    }
}

/// Puts an L1 in front of `l2`: the `WRAP` function of this folder.
pub(super) fn wrap<'a>(
    l2: Arc<dyn CacheBase>,
    settings: &'a CacheSettings,
    tiered: &'a TieredSettings,
) -> BoxFuture<'a, Result<Arc<dyn CacheBase>>> {
    Box::pin(async move {
        let url = settings.url.expose_secret();
        let invalidation_url = match &tiered.invalidation_url {
            Some(url) => url.expose_secret().to_string(),
            None if matches!(
                crate::registration::scheme_of(url).as_str(),
                "redis" | "rediss"
            ) =>
            {
                url.to_string()
            }
            None => {
                return Err(Error::invalid_input(
                    "a tiered cache over a non-Redis backend needs cache.tiered.invalidation_url",
                )
                .with_operation("cache.connect")
                .with_key("cache.tiered.invalidation_url"));
            }
        };
        let mut config = TieredConfig::new(invalidation_url);
        config.l1_ttl = Duration::from_millis(tiered.l1_ttl_ms);
        config.l1.max_entries = tiered.l1_max_entries;
        if let Some(namespace) = &settings.namespace {
            config.channel = format!("core-cache:invalidate:{namespace}");
        }
        let backend = TieredBackend::connect(l2, &config).await?;
        Ok(Arc::new(backend) as Arc<dyn CacheBase>)
    })
}

/// What an invalidation message asks the other processes to drop.
#[derive(Debug, PartialEq, Eq)]
enum Invalidation {
    Key(String),
    Prefix(String),
}

impl Invalidation {
    /// `<sender id> <k|p> <key>`: the id lets a process skip its own messages.
    fn encode(&self, sender: &str) -> String {
        match self {
            Invalidation::Key(key) => format!("{sender} k {key}"),
            Invalidation::Prefix(prefix) => format!("{sender} p {prefix}"),
        }
    }

    fn decode(message: &str) -> Option<(&str, Invalidation)> {
        let mut parts = message.splitn(3, ' ');
        let sender = parts.next()?;
        let kind = parts.next()?;
        let subject = parts.next().unwrap_or_default().to_string();
        match kind {
            "k" => Some((sender, Invalidation::Key(subject))),
            "p" => Some((sender, Invalidation::Prefix(subject))),
            _ => None,
        }
    }
}

/// Stops the listener task when the last clone of the backend goes.
struct Listener(AbortHandle);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The two-level backend.
///
/// Reads try the in-process L1, then the remote L2, and keep what L2 had in
/// L1 for `l1_ttl`. Every write or delete goes to L2, drops the key from this
/// process's L1 and tells every other process (over Redis pub/sub) to drop it
/// from theirs. While the pub/sub connection is down, and right after it is
/// back, L1 is emptied, so a missed message cannot leave a stale value
/// behind for longer than `l1_ttl`. Hashes, lists and counters are served by
/// L2 alone.
#[derive(Clone)]
pub struct TieredBackend {
    l1: MemoryBackend,
    l2: Arc<dyn CacheBase>,
    l1_ttl: Duration,
    publisher: ConnectionManager,
    channel: String,
    sender: String,
    _listener: Arc<Listener>,
}

impl fmt::Debug for TieredBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredBackend")
            .field("l2", &self.l2)
            .field("l1_ttl", &self.l1_ttl)
            .finish()
    }
}

impl TieredBackend {
    /// Puts a new L1 in front of `l2` and starts listening for invalidations.
    ///
    /// # Errors
    ///
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) when the Redis
    /// server for invalidations cannot be reached.
    pub async fn connect(l2: Arc<dyn CacheBase>, config: &TieredConfig) -> Result<TieredBackend> {
        let url = config.invalidation_url.expose_secret();
        let endpoint = core_error::redact_endpoint(url);
        let fail = |err: redis::RedisError| {
            Error::unavailable("cannot reach the Redis server that carries invalidations")
                .with_operation("cache.connect")
                .with_backend(BACKEND)
                .with_endpoint(&endpoint)
                .with_source(err)
        };
        let client = crate::backends::redis::open_client(url, "cache.connect", BACKEND)?;
        let publisher = ConnectionManager::new(client.clone()).await.map_err(fail)?;
        // Subscribe before serving, so no write after `connect` returns is missed.
        let subscription = subscribe(&client, &config.channel).await.map_err(fail)?;
        let l1 = MemoryBackend::new(&config.l1);
        let sender = uuid::Uuid::new_v4().simple().to_string();
        let task = tokio::spawn(listen(
            client,
            config.channel.clone(),
            sender.clone(),
            l1.clone(),
            subscription,
        ));
        Ok(TieredBackend {
            l1,
            l2,
            l1_ttl: config.l1_ttl,
            publisher,
            channel: config.channel.clone(),
            sender,
            _listener: Arc::new(Listener(task.abort_handle())),
        })
    }

    /// Drops `subject` from this L1 and asks the other processes to do so.
    async fn invalidate(&self, subject: Invalidation) -> Result<()> {
        match &subject {
            Invalidation::Key(key) => self.l1.delete(key).await.map(drop)?,
            Invalidation::Prefix(prefix) => self.l1.delete_prefix(prefix).await.map(drop)?,
        }
        let mut publisher = self.publisher.clone();
        let message = subject.encode(&self.sender);
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(message)
            .query_async::<u64>(&mut publisher)
            .await
            .map(drop)
            .map_err(|err| {
                // The L2 write happened; other processes see it within l1_ttl.
                Error::unavailable("could not publish a cache invalidation")
                    .with_operation("cache.invalidate")
                    .with_backend(BACKEND)
                    .with_source(err)
            })
    }

    /// Keeps a value read from L2 in L1, never past its L2 expiry.
    async fn remember(&self, key: &str, value: Bytes) -> Result<()> {
        let mut ttl = self.l1_ttl;
        if self.l2.capabilities().ttl_inspection {
            match self.l2.ttl(key).await? {
                Ttl::ExpiresIn(left) => ttl = ttl.min(left),
                Ttl::Missing => return Ok(()),
                Ttl::Persistent => {}
            }
        }
        self.l1.set(key, value, Some(ttl)).await
    }

    async fn invalidate_keys(&self, keys: Vec<String>) -> Result<()> {
        for key in keys {
            self.invalidate(Invalidation::Key(key)).await?;
        }
        Ok(())
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Applies other processes' invalidations to `l1` until aborted, resubscribing
/// after connection loss.
async fn listen(
    client: redis::Client,
    channel: String,
    sender: String,
    l1: MemoryBackend,
    first: redis::aio::PubSub,
) {
    let mut subscription = Some(first);
    loop {
        if let Some(mut pubsub) = subscription.take() {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else {
                    continue;
                };
                match Invalidation::decode(&payload) {
                    Some((from, _)) if from == sender => {}
                    Some((_, Invalidation::Key(key))) => drop(l1.delete(&key).await),
                    Some((_, Invalidation::Prefix(prefix))) => {
                        drop(l1.delete_prefix(&prefix).await)
                    }
                    None => tracing::warn!(%payload, "ignoring a malformed cache invalidation"),
                }
            }
        }
        // Messages sent while we were away are lost: forget everything.
        l1.clear();
        tracing::warn!("cache invalidation channel lost; L1 emptied, resubscribing");
        tokio::time::sleep(Duration::from_millis(200)).await;
        subscription = subscribe(&client, &channel).await.ok();
        if subscription.is_some() {
            l1.clear();
        }
    }
}

#[async_trait]
impl CacheBase for TieredBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        self.l2.capabilities()
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        if let Some(value) = self.l1.get(key).await? {
            return Ok(Some(value));
        }
        let value = self.l2.get(key).await?;
        if let Some(value) = &value {
            self.remember(key, value.clone()).await?;
        }
        Ok(value)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.l2.set(key, value, ttl).await?;
        self.invalidate(Invalidation::Key(key.to_string())).await
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        let stored = self.l2.set_if_absent(key, value, ttl).await?;
        if stored {
            self.invalidate(Invalidation::Key(key.to_string())).await?;
        }
        Ok(stored)
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let existed = self.l2.delete(key).await?;
        self.invalidate(Invalidation::Key(key.to_string())).await?;
        Ok(existed)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        if self.l1.exists(key).await? {
            return Ok(true);
        }
        self.l2.exists(key).await
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let applied = self.l2.expire(key, ttl).await?;
        self.invalidate(Invalidation::Key(key.to_string())).await?;
        Ok(applied)
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        self.l2.ttl(key).await
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        let value = self.l2.incr(key, delta).await?;
        self.invalidate(Invalidation::Key(key.to_string())).await?;
        Ok(value)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let mut values = self.l1.get_many(keys).await?;
        let missing: Vec<String> = keys
            .iter()
            .zip(&values)
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        if missing.is_empty() {
            return Ok(values);
        }
        let mut fetched = self.l2.get_many(&missing).await?.into_iter();
        for (key, slot) in keys.iter().zip(values.iter_mut()) {
            if slot.is_none() {
                *slot = fetched.next().flatten();
                if let Some(value) = slot {
                    self.remember(key, value.clone()).await?;
                }
            }
        }
        Ok(values)
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        self.l2.set_many(entries, ttl).await?;
        self.invalidate_keys(entries.iter().map(|(key, _)| key.clone()).collect())
            .await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let deleted = self.l2.delete_many(keys).await?;
        self.invalidate_keys(keys.to_vec()).await?;
        Ok(deleted)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let deleted = self.l2.delete_prefix(prefix).await?;
        self.invalidate(Invalidation::Prefix(prefix.to_string()))
            .await?;
        Ok(deleted)
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let deleted = self.l2.compare_and_delete(key, expected).await?;
        if deleted {
            self.invalidate(Invalidation::Key(key.to_string())).await?;
        }
        Ok(deleted)
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        self.l2.compare_and_expire(key, expected, ttl).await
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<bool> {
        self.l2.hset(key, field, value).await
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>> {
        self.l2.hget(key, field).await
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>> {
        self.l2.hgetall(key).await
    }

    async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        self.l2.hdel(key, field).await
    }

    async fn push(&self, key: &str, end: ListEnd, values: &[Bytes]) -> Result<u64> {
        self.l2.push(key, end, values).await
    }

    async fn pop(&self, key: &str, end: ListEnd) -> Result<Option<Bytes>> {
        self.l2.pop(key, end).await
    }

    async fn range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        self.l2.range(key, start, stop).await
    }
}

#[cfg(test)]
mod tests {
    use super::Invalidation;

    #[test]
    fn invalidations_round_trip_keys_with_spaces_in_them() {
        for subject in [
            Invalidation::Key("a b".into()),
            Invalidation::Prefix("p:".into()),
        ] {
            let message = subject.encode("me");
            assert_eq!(Invalidation::decode(&message), Some(("me", subject)));
        }
        assert_eq!(Invalidation::decode("me x y"), None);
    }
}
