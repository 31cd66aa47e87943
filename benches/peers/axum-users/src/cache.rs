//! User reads and revocations: moka in process, or Redis.

use std::time::Duration;

use moka::future::Cache as Moka;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

/// Where cached values live; values are JSON text.
#[derive(Clone)]
pub(crate) enum Cache {
    Memory(Moka<String, String>),
    Redis(ConnectionManager),
}

/// A hand-written service keeps its keys apart from other services' with a
/// prefix of its own.
const PREFIX: &str = "peer-axum:";

impl Cache {
    /// `memory://` or a `redis://` URL.
    pub(crate) async fn connect(url: &str) -> Result<Cache, redis::RedisError> {
        if url.starts_with("memory:") {
            return Ok(Cache::Memory(
                Moka::builder()
                    .max_capacity(100_000)
                    .time_to_live(Duration::from_secs(300))
                    .build(),
            ));
        }
        let client = redis::Client::open(url)?;
        Ok(Cache::Redis(ConnectionManager::new(client).await?))
    }

    /// The value under `key`.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, redis::RedisError> {
        match self {
            Cache::Memory(cache) => Ok(cache.get(key).await),
            Cache::Redis(redis) => redis.clone().get(format!("{PREFIX}{key}")).await,
        }
    }

    /// The values under `keys`, in order: one round trip on Redis.
    pub(crate) async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, redis::RedisError> {
        match self {
            Cache::Memory(cache) => {
                let mut found = Vec::with_capacity(keys.len());
                for key in keys {
                    found.push(cache.get(key).await);
                }
                Ok(found)
            }
            Cache::Redis(redis) => {
                let keys: Vec<String> = keys.iter().map(|key| format!("{PREFIX}{key}")).collect();
                redis.clone().mget(keys).await
            }
        }
    }

    /// Stores `value` under `key` for `ttl` (moka's own 300 s in process).
    pub(crate) async fn set(
        &self,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), redis::RedisError> {
        match self {
            Cache::Memory(cache) => {
                cache.insert(key.to_string(), value).await;
                Ok(())
            }
            Cache::Redis(redis) => {
                redis
                    .clone()
                    .set_ex(format!("{PREFIX}{key}"), value, ttl.as_secs())
                    .await
            }
        }
    }
}
