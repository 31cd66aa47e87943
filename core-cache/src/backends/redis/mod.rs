//! Redis, through the `redis` crate's reconnecting connection manager.

mod error;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands as _, Script};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{CacheBase, Capabilities, ListEnd, Ttl};

pub(crate) const BACKEND: &str = "redis";

/// How many keys one `SCAN` step asks for while deleting by prefix.
const SCAN_BATCH: usize = 500;

/// Deletes the key only while it still holds the caller's token.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Sets the TTL only while the key still holds the caller's token.
const COMPARE_AND_EXPIRE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Where the Redis server is and how patiently to talk to it.
///
/// ```
/// use core_cache::backends::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://:s3cret@127.0.0.1:6379/0");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`; may carry a password.
    pub url: SecretString,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long one command may wait for its answer.
    pub response_timeout: Duration,
}

impl RedisConfig {
    /// A configuration for `url` with default timeouts (2 s to connect, 5 s per command).
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: SecretString::from(url.into()),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field(
                "url",
                &core_error::redact_endpoint(self.url.expose_secret()),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

/// The Redis backend.
///
/// One multiplexed connection, re-established by the driver's connection
/// manager after the server restarts: while Redis is down calls fail with
/// [`ErrorKind::Unavailable`](core_error::ErrorKind::Unavailable) (temporary),
/// and the same client works again once it is back.
#[derive(Clone)]
pub struct RedisBackend {
    connection: ConnectionManager,
    endpoint: String,
    compare_and_delete: Script,
    compare_and_expire: Script,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl RedisBackend {
    /// Connects to the server `config` names.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a malformed
    /// URL; [`Unavailable`](core_error::ErrorKind::Unavailable) when the
    /// server cannot be reached.
    pub async fn connect(config: &RedisConfig) -> Result<RedisBackend> {
        let endpoint = core_error::redact_endpoint(config.url.expose_secret());
        let client = redis::Client::open(config.url.expose_secret()).map_err(|err| {
            Error::invalid_input("the Redis URL is malformed")
                .with_operation("cache.connect")
                .with_backend(BACKEND)
                .with_endpoint(&endpoint)
                .with_source(err)
        })?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(|err| error::map(err, "cache.connect", "").with_endpoint(&endpoint))?;
        Ok(RedisBackend {
            connection,
            endpoint,
            compare_and_delete: Script::new(COMPARE_AND_DELETE),
            compare_and_expire: Script::new(COMPARE_AND_EXPIRE),
        })
    }

    /// The driver's connection, for commands this trait does not cover.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
        operation: &'static str,
        key: &str,
    ) -> Result<T> {
        let mut connection = self.connection.clone();
        command
            .query_async(&mut connection)
            .await
            .map_err(|err| error::map(err, operation, key).with_endpoint(&self.endpoint))
    }
}

fn millis(ttl: Duration) -> u64 {
    // Redis rejects PX 0; a TTL below a millisecond still means "expire".
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn end_command(push: bool, end: ListEnd) -> &'static str {
    match (push, end) {
        (true, ListEnd::Front) => "LPUSH",
        (true, ListEnd::Back) => "RPUSH",
        (false, ListEnd::Front) => "LPOP",
        (false, ListEnd::Back) => "RPOP",
    }
}

/// Escapes `*`, `?`, `[`, `]` and `\` so a prefix matches itself literally in `SCAN MATCH`.
fn glob_literal(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

#[async_trait]
impl CacheBase for RedisBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let value: Option<Vec<u8>> = self
            .run(redis::cmd("GET").arg(key), "cache.get", key)
            .await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value.as_ref());
        if let Some(ttl) = ttl {
            command.arg("PX").arg(millis(ttl));
        }
        self.run(&command, "cache.set", key).await
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value.as_ref()).arg("NX");
        if let Some(ttl) = ttl {
            command.arg("PX").arg(millis(ttl));
        }
        let reply: Option<String> = self.run(&command, "cache.set_if_absent", key).await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let deleted: u64 = self
            .run(redis::cmd("DEL").arg(key), "cache.delete", key)
            .await?;
        Ok(deleted > 0)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let found: u64 = self
            .run(redis::cmd("EXISTS").arg(key), "cache.exists", key)
            .await?;
        Ok(found > 0)
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let command = redis::cmd("PEXPIRE").arg(key).arg(millis(ttl)).to_owned();
        let applied: u64 = self.run(&command, "cache.expire", key).await?;
        Ok(applied > 0)
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        let millis: i64 = self
            .run(redis::cmd("PTTL").arg(key), "cache.ttl", key)
            .await?;
        Ok(match millis {
            -2 => Ttl::Missing,
            -1 => Ttl::Persistent,
            left => Ttl::ExpiresIn(Duration::from_millis(left.max(0).unsigned_abs())),
        })
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        self.run(redis::cmd("INCRBY").arg(key).arg(delta), "cache.incr", key)
            .await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let first = keys[0].as_str();
        let values: Vec<Option<Vec<u8>>> = self
            .run(redis::cmd("MGET").arg(keys), "cache.get_many", first)
            .await?;
        Ok(values
            .into_iter()
            .map(|value| value.map(Bytes::from))
            .collect())
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        let Some((first, _)) = entries.first() else {
            return Ok(());
        };
        // One MULTI/EXEC round trip: either every entry is stored with its TTL or none is.
        let mut pipeline = redis::pipe();
        pipeline.atomic();
        for (key, value) in entries {
            let command = pipeline.cmd("SET").arg(key).arg(value.as_ref());
            if let Some(ttl) = ttl {
                command.arg("PX").arg(millis(ttl));
            }
            command.ignore();
        }
        let mut connection = self.connection.clone();
        pipeline
            .query_async::<()>(&mut connection)
            .await
            .map_err(|err| error::map(err, "cache.set_many", first).with_endpoint(&self.endpoint))
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let Some(first) = keys.first() else {
            return Ok(0);
        };
        self.run(redis::cmd("DEL").arg(keys), "cache.delete_many", first)
            .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        // SCAN walks the keyspace in steps; KEYS would block the server.
        let pattern = glob_literal(prefix);
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH)
                .query_async(&mut connection)
                .await
                .map_err(|err| error::map(err, "cache.delete_prefix", prefix))?;
            if !keys.is_empty() {
                let removed: u64 = connection
                    .unlink(&keys)
                    .await
                    .map_err(|err| error::map(err, "cache.delete_prefix", prefix))?;
                deleted += removed;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let mut connection = self.connection.clone();
        let removed: u64 = self
            .compare_and_delete
            .key(key)
            .arg(expected)
            .invoke_async(&mut connection)
            .await
            .map_err(|err| error::map(err, "cache.compare_and_delete", key))?;
        Ok(removed > 0)
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        let mut connection = self.connection.clone();
        let applied: u64 = self
            .compare_and_expire
            .key(key)
            .arg(expected)
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(|err| error::map(err, "cache.compare_and_expire", key))?;
        Ok(applied > 0)
    }

    async fn hset(&self, key: &str, field: &str, value: Bytes) -> Result<bool> {
        let command = redis::cmd("HSET")
            .arg(key)
            .arg(field)
            .arg(value.as_ref())
            .to_owned();
        let added: u64 = self.run(&command, "cache.hset", key).await?;
        Ok(added > 0)
    }

    async fn hget(&self, key: &str, field: &str) -> Result<Option<Bytes>> {
        let value: Option<Vec<u8>> = self
            .run(redis::cmd("HGET").arg(key).arg(field), "cache.hget", key)
            .await?;
        Ok(value.map(Bytes::from))
    }

    async fn hgetall(&self, key: &str) -> Result<Vec<(String, Bytes)>> {
        let mut fields: Vec<(String, Vec<u8>)> = self
            .run(redis::cmd("HGETALL").arg(key), "cache.hgetall", key)
            .await?;
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(fields
            .into_iter()
            .map(|(name, value)| (name, Bytes::from(value)))
            .collect())
    }

    async fn hdel(&self, key: &str, field: &str) -> Result<bool> {
        let removed: u64 = self
            .run(redis::cmd("HDEL").arg(key).arg(field), "cache.hdel", key)
            .await?;
        Ok(removed > 0)
    }

    async fn push(&self, key: &str, end: ListEnd, values: &[Bytes]) -> Result<u64> {
        let mut command = redis::cmd(end_command(true, end));
        command.arg(key);
        for value in values {
            command.arg(value.as_ref());
        }
        self.run(&command, "cache.push", key).await
    }

    async fn pop(&self, key: &str, end: ListEnd) -> Result<Option<Bytes>> {
        let value: Option<Vec<u8>> = self
            .run(
                redis::cmd(end_command(false, end)).arg(key),
                "cache.pop",
                key,
            )
            .await?;
        Ok(value.map(Bytes::from))
    }

    async fn range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let command = redis::cmd("LRANGE")
            .arg(key)
            .arg(start)
            .arg(stop)
            .to_owned();
        let values: Vec<Vec<u8>> = self.run(&command, "cache.range", key).await?;
        Ok(values.into_iter().map(Bytes::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_literal;

    #[test]
    fn prefixes_match_literally() {
        assert_eq!(glob_literal("user:"), "user:*");
        assert_eq!(glob_literal("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}
