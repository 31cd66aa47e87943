//! The store code behind the Memcached registration, compiled with its feature.

mod error;

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_memcached::{
    AsciiProtocol as _, Client, Error as MemcachedError, MetaProtocol as _, Status,
};
use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result};
use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use futures::future::BoxFuture;
use secrecy::ExposeSecret as _;
use std::sync::Arc;

use super::MemcachedSettings;
use crate::{CacheBase, CacheSettings, Capabilities, Ttl};

pub(crate) const BACKEND: &str = "memcached";

/// Memcached's text protocol cannot echo keys beyond printable ASCII back
/// reliably, so other bytes (and `%` itself) travel percent-encoded.
fn wire_key(key: &str) -> Result<Cow<'_, str>> {
    let needs_encoding = |b: u8| !(0x21..0x7f).contains(&b) || b == b'%';
    if !key.bytes().any(needs_encoding) {
        return Ok(Cow::Borrowed(key));
    }
    let mut encoded = String::with_capacity(key.len() * 3);
    for byte in key.bytes() {
        if needs_encoding(byte) {
            encoded.push_str(&format!("%{byte:02X}"));
        } else {
            encoded.push(char::from(byte));
        }
    }
    if encoded.len() > crate::MAX_KEY_BYTES {
        return Err(Error::invalid_input(format!(
            "the key is {} bytes once its non-ASCII characters are encoded for Memcached; the limit is {}",
            encoded.len(),
            crate::MAX_KEY_BYTES
        ))
        .with_backend(BACKEND)
        .with_key(key));
    }
    Ok(Cow::Owned(encoded))
}

/// Memcached reads an expiry above 30 days as an absolute Unix time.
const RELATIVE_TTL_LIMIT: u64 = 30 * 24 * 60 * 60;

/// Where the Memcached server is and how many connections to keep.
///
/// ```
/// use core_cache::backends::memcached::MemcachedConfig;
///
/// let config = MemcachedConfig::new("127.0.0.1:11211");
/// assert_eq!(config.pool_size, 16);
/// ```
#[derive(Debug, Clone)]
pub struct MemcachedConfig {
    /// `host:port`, or `tcp://host:port` / `memcached://host:port`.
    pub address: String,
    /// The most connections open at once.
    pub pool_size: usize,
    /// How long a call waits for a free connection.
    pub wait_timeout: Duration,
}

impl MemcachedConfig {
    /// A configuration for `address` with 16 connections and a 5 s wait.
    pub fn new(address: impl Into<String>) -> MemcachedConfig {
        MemcachedConfig::with_settings(address, &MemcachedSettings::default())
    }

    /// A configuration for `address` with the pool of `settings` (`cache.memcached`).
    pub fn with_settings(
        address: impl Into<String>,
        settings: &MemcachedSettings,
    ) -> MemcachedConfig {
        MemcachedConfig {
            address: address.into(),
            pool_size: settings.pool_size,
            wait_timeout: Duration::from_millis(settings.wait_timeout_ms),
        }
    }
}

/// The registration's connect function.
pub(super) fn open(settings: &CacheSettings) -> BoxFuture<'_, Result<Arc<dyn CacheBase>>> {
    Box::pin(async move {
        let config =
            MemcachedConfig::with_settings(settings.url.expose_secret(), &settings.memcached);
        Ok(Arc::new(MemcachedBackend::connect(&config).await?) as Arc<dyn CacheBase>)
    })
}

struct Connector {
    dsn: String,
}

impl managed::Manager for Connector {
    type Type = Client;
    type Error = MemcachedError;

    async fn create(&self) -> Result<Client, MemcachedError> {
        Client::new(&self.dsn).await
    }

    async fn recycle(&self, client: &mut Client, _: &Metrics) -> RecycleResult<MemcachedError> {
        if client.is_closed() {
            return Err(RecycleError::message("the connection was closed"));
        }
        Ok(())
    }
}

/// The Memcached backend.
///
/// Memcached stores plain values only: hashes, lists and delete-by-prefix
/// are reported as unsupported through [`Capabilities`], and counters stop
/// at zero. Compare-and-delete and compare-and-expire use the meta
/// protocol's CAS tokens, so the distributed lock works here too.
#[derive(Clone)]
pub struct MemcachedBackend {
    pool: managed::Pool<Connector>,
    address: String,
}

impl fmt::Debug for MemcachedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedBackend")
            .field("address", &self.address)
            .finish()
    }
}

impl MemcachedBackend {
    /// Opens the pool and checks that the server answers.
    ///
    /// # Errors
    ///
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) when the server
    /// cannot be reached.
    pub async fn connect(config: &MemcachedConfig) -> Result<MemcachedBackend> {
        let address = config
            .address
            .trim_start_matches("memcached://")
            .trim_start_matches("memcache://")
            .trim_start_matches("tcp://")
            .trim_end_matches('/')
            .to_string();
        let connector = Connector {
            dsn: format!("tcp://{address}"),
        };
        let pool = managed::Pool::builder(connector)
            .max_size(config.pool_size.max(1))
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.wait_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|err| {
                Error::invalid_input(format!("cannot build the Memcached pool: {err}"))
                    .with_operation("cache.connect")
                    .with_backend(BACKEND)
            })?;
        let backend = MemcachedBackend { pool, address };
        let mut client = backend.client("cache.connect", "").await?;
        client
            .version()
            .await
            .map_err(|err| backend.fail(client, err, "cache.connect", ""))?;
        Ok(backend)
    }

    async fn client(&self, operation: &'static str, key: &str) -> Result<Object<Connector>> {
        self.pool.get().await.map_err(|err| {
            let (kind, message) = match &err {
                managed::PoolError::Timeout(_) => (
                    core_error::ErrorKind::Timeout,
                    "no Memcached connection became free in time",
                ),
                _ => (
                    core_error::ErrorKind::Unavailable,
                    "cannot connect to Memcached",
                ),
            };
            Error::new(kind, message)
                .with_operation(operation)
                .with_backend(BACKEND)
                .with_key(key)
                .with_endpoint(&self.address)
                .with_source(err)
        })
    }

    /// Maps `err`, first dropping the connection if it can no longer be trusted.
    fn fail(
        &self,
        client: Object<Connector>,
        err: MemcachedError,
        op: &'static str,
        key: &str,
    ) -> Error {
        if error::breaks_connection(&err) {
            let _ = Object::take(client);
        }
        error::map(err, op, key).with_endpoint(&self.address)
    }
}

/// Memcached's expiry argument for `ttl`: whole seconds (at least one), and
/// an absolute time past its 30-day limit for relative ones.
fn expiry_seconds(ttl: Option<Duration>) -> i64 {
    let Some(ttl) = ttl else { return 0 };
    let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let expiry = if seconds > RELATIVE_TTL_LIMIT {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        now + seconds
    } else {
        seconds
    };
    i64::try_from(expiry).unwrap_or(i64::MAX)
}

fn is_status(err: &MemcachedError, status: Status) -> bool {
    matches!(err, MemcachedError::Protocol(found) if *found == status)
}

#[async_trait]
impl CacheBase for MemcachedBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delete_prefix: false,
            hashes: false,
            lists: false,
            negative_counters: false,
            pipelined_batches: false,
            ..Capabilities::ALL
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.get", key).await?;
        match client.get(&*wire).await {
            Ok(value) => Ok(value.and_then(|value| value.data).map(Bytes::from)),
            Err(err) => Err(self.fail(client, err, "cache.get", key)),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.set", key).await?;
        let expiry = Some(expiry_seconds(ttl));
        match client.set(&*wire, value.as_ref(), expiry, None).await {
            Ok(()) => Ok(()),
            Err(err) => Err(self.fail(client, err, "cache.set", key)),
        }
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.set_if_absent", key).await?;
        match client
            .add(&*wire, value.as_ref(), Some(expiry_seconds(ttl)), None)
            .await
        {
            Ok(()) => Ok(true),
            Err(err) if is_status(&err, Status::NotStored) => Ok(false),
            Err(err) => Err(self.fail(client, err, "cache.set_if_absent", key)),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.delete", key).await?;
        match client.delete(&*wire).await {
            Ok(()) => Ok(true),
            Err(err) if is_status(&err, Status::NotFound) => Ok(false),
            Err(err) => Err(self.fail(client, err, "cache.delete", key)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.exists", key).await?;
        match client.meta_get(&*wire, false, None, Some(&["s"])).await {
            Ok(found) => Ok(found.is_some()),
            Err(err) => Err(self.fail(client, err, "cache.exists", key)),
        }
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.expire", key).await?;
        let flag = format!("T{}", expiry_seconds(Some(ttl)));
        match client
            .meta_get(&*wire, false, None, Some(&["s", flag.as_str()]))
            .await
        {
            Ok(found) => Ok(found.is_some()),
            Err(err) => Err(self.fail(client, err, "cache.expire", key)),
        }
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.ttl", key).await?;
        match client.meta_get(&*wire, false, None, Some(&["t"])).await {
            Ok(None) => Ok(Ttl::Missing),
            Ok(Some(found)) => Ok(match found.ttl_remaining {
                Some(seconds) if seconds >= 0 => {
                    Ttl::ExpiresIn(Duration::from_secs(seconds.unsigned_abs()))
                }
                _ => Ttl::Persistent,
            }),
            Err(err) => Err(self.fail(client, err, "cache.ttl", key)),
        }
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.incr", key).await?;
        // Memcached counters are unsigned and do not spring into existence:
        // a missing key is created with `add`, and a lost race retried.
        for _ in 0..3 {
            let counted = if delta >= 0 {
                client.increment(&*wire, delta.unsigned_abs()).await
            } else {
                client.decrement(&*wire, delta.unsigned_abs()).await
            };
            match counted {
                Ok(value) => return Ok(i64::try_from(value).unwrap_or(i64::MAX)),
                Err(err) if is_status(&err, Status::NotFound) => {
                    let initial = delta.max(0);
                    match client
                        .add(&*wire, initial.to_string().as_str(), Some(0), None)
                        .await
                    {
                        Ok(()) => return Ok(initial),
                        Err(err) if is_status(&err, Status::NotStored) => continue,
                        Err(err) => return Err(self.fail(client, err, "cache.incr", key)),
                    }
                }
                Err(err) => return Err(self.fail(client, err, "cache.incr", key)),
            }
        }
        Err(
            Error::conflict("the counter kept being created and deleted concurrently")
                .with_temporary(true)
                .with_operation("cache.incr")
                .with_backend(BACKEND)
                .with_key(key),
        )
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let Some(first) = keys.first() else {
            return Ok(Vec::new());
        };
        let wire: Vec<String> = keys
            .iter()
            .map(|key| wire_key(key).map(Cow::into_owned))
            .collect::<Result<_>>()?;
        let mut client = self.client("cache.get_many", first).await?;
        let found = match client.get_multi(&wire).await {
            Ok(found) => found,
            Err(err) if is_status(&err, Status::NotFound) => Vec::new(),
            Err(err) => return Err(self.fail(client, err, "cache.get_many", first)),
        };
        let mut by_key: std::collections::HashMap<Vec<u8>, Bytes> = found
            .into_iter()
            .filter_map(|value| Some((value.key, Bytes::from(value.data?))))
            .collect();
        Ok(wire
            .iter()
            .map(|key| by_key.remove(key.as_bytes()))
            .collect())
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

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.compare_and_delete", key).await?;
        let current = match client
            .meta_get(&*wire, false, None, Some(&["v", "c"]))
            .await
        {
            Ok(current) => current,
            Err(err) => return Err(self.fail(client, err, "cache.compare_and_delete", key)),
        };
        let Some(cas) = current
            .filter(|found| found.data.as_deref() == Some(expected))
            .and_then(|found| found.cas)
        else {
            return Ok(false);
        };
        let flag = format!("C{cas}");
        match client
            .meta_delete(&*wire, false, None, Some(&[flag.as_str()]))
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if is_status(&err, Status::Exists) || is_status(&err, Status::NotFound) => {
                Ok(false)
            }
            Err(err) => Err(self.fail(client, err, "cache.compare_and_delete", key)),
        }
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        let wire = wire_key(key)?;
        let mut client = self.client("cache.compare_and_expire", key).await?;
        let current = match client
            .meta_get(&*wire, false, None, Some(&["v", "c"]))
            .await
        {
            Ok(current) => current,
            Err(err) => return Err(self.fail(client, err, "cache.compare_and_expire", key)),
        };
        let Some(cas) = current
            .filter(|found| found.data.as_deref() == Some(expected))
            .and_then(|found| found.cas)
        else {
            return Ok(false);
        };
        let cas_flag = format!("C{cas}");
        let ttl_flag = format!("T{}", expiry_seconds(Some(ttl)));
        match client
            .meta_set(
                &*wire,
                expected,
                false,
                None,
                Some(&[cas_flag.as_str(), ttl_flag.as_str()]),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if is_status(&err, Status::Exists) || is_status(&err, Status::NotFound) => {
                Ok(false)
            }
            Err(err) => Err(self.fail(client, err, "cache.compare_and_expire", key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_beyond_printable_ascii_are_percent_encoded() {
        assert_eq!(wire_key("user:42").unwrap(), "user:42");
        assert_eq!(wire_key("clé").unwrap(), "cl%C3%A9");
        assert_eq!(wire_key("100%").unwrap(), "100%25");
        assert!(wire_key(&"é".repeat(100)).is_err());
    }

    #[test]
    fn expiries_round_up_and_switch_to_absolute_past_30_days() {
        assert_eq!(expiry_seconds(None), 0);
        assert_eq!(expiry_seconds(Some(Duration::from_millis(1))), 1);
        assert_eq!(expiry_seconds(Some(Duration::from_millis(1500))), 2);
        assert_eq!(expiry_seconds(Some(Duration::from_secs(60))), 60);
        let forty_days = Duration::from_secs(40 * 24 * 60 * 60);
        assert!(expiry_seconds(Some(forty_days)) > 1_700_000_000);
    }
}
