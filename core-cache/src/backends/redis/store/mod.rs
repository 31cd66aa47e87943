//! The store code behind the Redis and Redis Cluster registrations,
//! compiled with feature `redis` (and `redis-cluster`).

mod client;
#[cfg(feature = "redis-cluster")]
mod cluster;
mod error;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};
use futures::future::BoxFuture;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{AsyncCommands as _, Script};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;

use super::RedisSettings;
use crate::{CacheBase, CacheSettings, Capabilities, ListEnd, Ttl};
use topology::Topology as _;

pub use client::{connect_error, open_client};
#[cfg(feature = "redis-cluster")]
pub use cluster::RedisClusterBackend;
#[cfg(feature = "redis-cluster")]
pub(super) use cluster::open_cluster;
#[cfg(feature = "redis-cluster")]
pub use redis::cluster_async::ClusterConnection;

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

/// Where the Redis server (or cluster) is and how patiently to talk to it.
///
/// ```
/// use core_cache::backends::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://:s3cret@127.0.0.1:6379/0");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` for one server, or
    /// `redis-cluster://[user:password@]host:port[,host:port…]` naming seed
    /// nodes of a cluster (the rest are discovered); may carry a password.
    pub url: SecretString,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long one command may wait for its answer; `None`: the driver
    /// sets no deadline of its own (the cache's timeout layer is the one).
    pub response_timeout: Option<Duration>,
}

impl RedisConfig {
    /// A configuration for `url` with the timeouts of `settings` (`cache.redis`).
    pub fn with_settings(url: impl Into<String>, settings: &RedisSettings) -> RedisConfig {
        RedisConfig {
            url: SecretString::from(url.into()),
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            response_timeout: (settings.response_timeout_ms > 0)
                .then(|| Duration::from_millis(settings.response_timeout_ms)),
        }
    }

    /// A configuration for `url` with default timeouts (2 s to connect, 5 s per command).
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig::with_settings(url, &RedisSettings::default())
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

/// The Redis registration's connect function.
pub(super) fn open(settings: &CacheSettings) -> BoxFuture<'_, Result<Arc<dyn CacheBase>>> {
    Box::pin(async move {
        let config = RedisConfig::with_settings(settings.url.expose_secret(), &settings.redis);
        Ok(Arc::new(RedisBackend::connect(&config).await?) as Arc<dyn CacheBase>)
    })
}

/// The Redis backend, over one server or (as [`RedisClusterBackend`],
/// feature `redis-cluster`) a cluster.
///
/// One multiplexed connection, re-established by the driver's connection
/// manager after the server restarts: while Redis is down calls fail with
/// [`ErrorKind::Unavailable`](core_error::ErrorKind::Unavailable) (temporary),
/// and the same client works again once it is back.
#[derive(Clone)]
pub struct RedisBackend<C: RedisConnection = ConnectionManager> {
    connection: C,
    endpoint: String,
    compare_and_delete: Script,
    compare_and_expire: Script,
}

impl<C: RedisConnection> fmt::Debug for RedisBackend<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("backend", &C::BACKEND)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// A connection [`RedisBackend`] runs over: [`ConnectionManager`] to one
/// server, or [`ClusterConnection`](redis::cluster_async::ClusterConnection)
/// to a cluster (feature `redis-cluster`).
///
/// Sealed: what differs between the two is the backend's business, not the
/// caller's.
pub trait RedisConnection:
    ConnectionLike + Clone + Send + Sync + 'static + topology::Topology
{
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static + topology::Topology> RedisConnection for C {}

/// Where one server and a cluster differ.
mod topology {
    use std::future::Future;

    use bytes::Bytes;
    use redis::{Cmd, FromRedisValue, RedisResult};

    pub trait Topology: Sized {
        /// The backend's name in errors and metrics.
        const BACKEND: &'static str;
        /// One node whose keyspace `SCAN` walks.
        type Node: Send + Sync;

        /// Splits a batch into the groups one `MULTI`/`EXEC` may cover.
        fn atomic_groups(entries: &[(String, Bytes)]) -> Vec<Vec<&(String, Bytes)>>;

        /// The nodes whose keyspaces together hold every key.
        fn keyspace_nodes(&mut self) -> impl Future<Output = RedisResult<Vec<Self::Node>>> + Send;

        /// Runs `command` on `node` itself, not on the node owning its key.
        fn query_node<T: FromRedisValue>(
            &mut self,
            node: &Self::Node,
            command: &Cmd,
        ) -> impl Future<Output = RedisResult<T>> + Send;
    }
}

/// One server: every key is in one keyspace, and one `MULTI`/`EXEC` may
/// cover any keys.
impl topology::Topology for ConnectionManager {
    const BACKEND: &'static str = "redis";
    type Node = ();

    fn atomic_groups(entries: &[(String, Bytes)]) -> Vec<Vec<&(String, Bytes)>> {
        vec![entries.iter().collect()]
    }

    async fn keyspace_nodes(&mut self) -> redis::RedisResult<Vec<()>> {
        Ok(vec![()])
    }

    fn query_node<T: redis::FromRedisValue>(
        &mut self,
        (): &(),
        command: &redis::Cmd,
    ) -> impl Future<Output = redis::RedisResult<T>> + Send {
        command.query_async(self)
    }
}

impl<C: RedisConnection> RedisBackend<C> {
    fn with_connection(connection: C, endpoint: String) -> RedisBackend<C> {
        RedisBackend {
            connection,
            endpoint,
            compare_and_delete: Script::new(COMPARE_AND_DELETE),
            compare_and_expire: Script::new(COMPARE_AND_EXPIRE),
        }
    }

    /// The driver's connection, for commands this trait does not cover.
    pub fn connection(&self) -> C {
        self.connection.clone()
    }

    fn fail(&self, err: redis::RedisError, operation: &'static str, key: &str) -> Error {
        error::map(err, C::BACKEND, operation, key).with_endpoint(&self.endpoint)
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
            .map_err(|err| self.fail(err, operation, key))
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
        let client = open_client(
            config.url.expose_secret(),
            "cache.connect",
            ConnectionManager::BACKEND,
        )?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(config.response_timeout)
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(|err| {
                let error = error::map(err, ConnectionManager::BACKEND, "cache.connect", "")
                    .with_endpoint(&endpoint);
                connect_error(error, config.url.expose_secret())
            })?;
        Ok(RedisBackend::with_connection(connection, endpoint))
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
impl<C: RedisConnection> CacheBase for RedisBackend<C> {
    fn name(&self) -> &'static str {
        C::BACKEND
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
        // On a cluster the driver splits MGET per hash slot and puts the
        // answers back in the order of `keys`.
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
        // One MULTI/EXEC per group: either every entry of a group is stored
        // with its TTL or none is. One server takes the whole batch as one
        // group; a cluster one group per hash slot, the groups concurrently.
        let stores = C::atomic_groups(entries).into_iter().map(|group| {
            let mut pipeline = redis::pipe();
            pipeline.atomic();
            for (key, value) in &group {
                let command = pipeline.cmd("SET").arg(key).arg(value.as_ref());
                if let Some(ttl) = ttl {
                    command.arg("PX").arg(millis(ttl));
                }
                command.ignore();
            }
            let mut connection = self.connection.clone();
            let first = group.first().map_or("", |(key, _)| key.as_str());
            async move {
                pipeline
                    .query_async::<()>(&mut connection)
                    .await
                    .map_err(|err| self.fail(err, "cache.set_many", first))
            }
        });
        futures::future::try_join_all(stores).await.map(drop)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let Some(first) = keys.first() else {
            return Ok(0);
        };
        // A cluster's driver splits DEL per hash slot and adds up the counts.
        self.run(redis::cmd("DEL").arg(keys), "cache.delete_many", first)
            .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        // SCAN walks the keyspace in steps; KEYS would block the server. A
        // cluster has one keyspace per master, each walked in turn.
        let fail = |err| self.fail(err, "cache.delete_prefix", prefix);
        let pattern = glob_literal(prefix);
        let mut connection = self.connection.clone();
        let mut deleted = 0;
        for node in connection.keyspace_nodes().await.map_err(fail)? {
            let mut cursor: u64 = 0;
            loop {
                let scan = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_BATCH)
                    .to_owned();
                let (next, keys): (u64, Vec<String>) =
                    connection.query_node(&node, &scan).await.map_err(fail)?;
                if !keys.is_empty() {
                    let removed: u64 = connection.unlink(&keys).await.map_err(fail)?;
                    deleted += removed;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(deleted)
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let mut connection = self.connection.clone();
        let removed: u64 = self
            .compare_and_delete
            .key(key)
            .arg(expected)
            .invoke_async(&mut connection)
            .await
            .map_err(|err| self.fail(err, "cache.compare_and_delete", key))?;
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
            .map_err(|err| self.fail(err, "cache.compare_and_expire", key))?;
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
