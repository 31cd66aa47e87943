//! The store code behind the Memcached registration, compiled with its feature.

mod connection;
mod error;
mod wire;

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use core_error::{Error, Result, TlsFiles};
use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult};
use futures::future::BoxFuture;
use secrecy::ExposeSecret as _;

use self::connection::{Connection, Endpoint, Failure};
use self::wire::{CommandLine, Reply};
use super::MemcachedSettings;
use crate::{CacheBase, CacheSettings, Capabilities, Ttl};

pub(crate) const BACKEND: &str = "memcached";

/// The key as it goes on the wire. Memcached's text protocol cannot echo
/// keys beyond printable ASCII back reliably, so other bytes (and `%`
/// itself) travel percent-encoded. Empty and over-long keys are refused
/// here: the server would refuse the command line without reading the
/// value after it, and then read the value as commands.
fn wire_key(key: &str) -> Result<Cow<'_, str>> {
    let needs_encoding = |b: u8| !(0x21..0x7f).contains(&b) || b == b'%';
    let wire = if key.bytes().any(needs_encoding) {
        let mut encoded = String::with_capacity(key.len() * 3);
        for byte in key.bytes() {
            if needs_encoding(byte) {
                let _ = write!(encoded, "%{byte:02X}");
            } else {
                encoded.push(char::from(byte));
            }
        }
        Cow::Owned(encoded)
    } else {
        Cow::Borrowed(key)
    };
    if wire.is_empty() || wire.len() > crate::MAX_KEY_BYTES {
        return Err(Error::invalid_input(format!(
            "the key is {} bytes on the wire (non-ASCII bytes percent-encoded); Memcached takes 1 to {}",
            wire.len(),
            crate::MAX_KEY_BYTES
        ))
        .with_backend(BACKEND)
        .with_key(key));
    }
    Ok(wire)
}

/// The command line `args` formats. Keys are checked by [`wire_key`], so
/// only a bug can make one too long; it is refused rather than cut.
fn command(args: fmt::Arguments<'_>, key: &str) -> Result<CommandLine> {
    CommandLine::new(args).ok_or_else(|| {
        Error::internal("a Memcached command line did not fit its buffer")
            .with_backend(BACKEND)
            .with_key(key)
    })
}

/// How much of a batch is sent before its replies are read: at most this
/// many commands, and no more once this many bytes are queued.
const COMMANDS_PER_ROUND_TRIP: usize = 64;
const BYTES_PER_ROUND_TRIP: usize = 64 * 1024;

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
    /// `host:port`, `memcached://host:port`, or over TLS
    /// `memcacheds://host:port` with `sslrootcert=` (the CA; Mozilla's
    /// roots when absent) and `sslcert=`/`sslkey=` (a client certificate).
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
    endpoint: Endpoint,
}

impl managed::Manager for Connector {
    type Type = Connection;
    type Error = Failure;

    async fn create(&self) -> Result<Connection, Failure> {
        Connection::open(&self.endpoint).await
    }

    async fn recycle(&self, connection: &mut Connection, _: &Metrics) -> RecycleResult<Failure> {
        if connection.is_reusable() {
            Ok(())
        } else {
            Err(RecycleError::message(
                "a call on the connection failed or was dropped half-way",
            ))
        }
    }
}

/// The Memcached backend: meta protocol commands on pooled connections,
/// in plaintext or over TLS (`memcacheds://`).
///
/// Memcached stores plain values only: hashes, lists and delete-by-prefix
/// are reported as unsupported through [`Capabilities`], and counters stop
/// at zero. Compare-and-delete and compare-and-expire use the meta
/// protocol's CAS tokens, so the distributed lock works here too.
#[derive(Clone)]
pub struct MemcachedBackend {
    pool: managed::Pool<Connector>,
    address: String,
    tls: bool,
}

impl fmt::Debug for MemcachedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedBackend")
            .field("address", &self.address)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `address` (a URL or `host:port`) as an endpoint: TLS for `memcacheds://`.
fn endpoint(address: &str) -> Result<Endpoint> {
    let invalid = |message: String| {
        Error::invalid_input(message)
            .with_key("cache.url")
            .with_operation("cache.connect")
            .with_backend(BACKEND)
    };
    let (scheme, rest) = address.split_once("://").unwrap_or(("memcached", address));
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "memcacheds" => true,
        "memcached" | "memcache" | "tcp" => false,
        other => {
            return Err(invalid(format!(
                "`{other}://` is not a Memcached URL: use memcached:// or memcacheds:// (TLS)"
            )));
        }
    };
    let (rest, files) = TlsFiles::take_from_url(rest).map_err(|err| invalid(err.to_string()))?;
    // Nothing of the URL is repeated: it may hold what it should not.
    let host_port = rest.trim_end_matches('/');
    if host_port.contains(['@', '/', '?', '#']) || host_port.is_empty() {
        return Err(invalid(
            "a Memcached URL is memcached://host[:port] or memcacheds://host[:port]?sslrootcert=…: \
             no user, password, path or other parameter"
                .to_string(),
        ));
    }
    let has_port = match host_port.rfind(']') {
        Some(bracket) => host_port[bracket..].contains(':'),
        None => host_port.contains(':'),
    };
    let host_port = if has_port {
        host_port.to_string()
    } else {
        format!("{host_port}:11211")
    };
    if !tls {
        if !files.is_empty() {
            return Err(invalid(
                "sslrootcert, sslcert and sslkey need a TLS URL: use memcacheds://".to_string(),
            ));
        }
        return Ok(Endpoint {
            address: host_port,
            tls: None,
        });
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port
            .rsplit_once(':')
            .map_or(host_port.as_str(), |(host, _)| host),
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| invalid(format!("`{host}` is not a host name or address")))?;
    // Its error names the parameter and the file.
    let mut config = files
        .client_config()
        .map_err(|err| err.with_operation("cache.connect").with_backend(BACKEND))?;
    // Memcached (1.6.18, OpenSSL) answers a resumed session with an
    // "internal error" alert when it checks client certificates: its
    // sessions have no id context. Pooled connections live long, so a full
    // handshake per connection costs little.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Endpoint {
        address: host_port,
        tls: Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name)),
    })
}

impl MemcachedBackend {
    /// Opens the pool and checks that the server answers.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a URL that is
    /// not Memcached's or TLS files that cannot be used;
    /// [`Unavailable`](core_error::ErrorKind::Unavailable) when the server
    /// cannot be reached, or its TLS handshake fails (saying why).
    pub async fn connect(config: &MemcachedConfig) -> Result<MemcachedBackend> {
        let endpoint = endpoint(&config.address)?;
        let address = endpoint.address.clone();
        let tls = endpoint.tls.is_some();
        let pool = managed::Pool::builder(Connector { endpoint })
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
        let backend = MemcachedBackend { pool, address, tls };
        let probe = command(format_args!("mn"), "")?;
        match backend.call("cache.connect", "", &probe, None).await? {
            Reply::NoOp => Ok(backend),
            other => Err(backend.unexpected(&other, "cache.connect", "")),
        }
    }

    async fn connection(&self, operation: &'static str, key: &str) -> Result<Object<Connector>> {
        self.pool.get().await.map_err(|err| {
            let error = match err {
                managed::PoolError::Backend(failure) => error::map(failure, self.tls),
                // A plaintext server may wait for the end of a line that a
                // TLS hello never sends.
                managed::PoolError::Timeout(managed::TimeoutType::Create) if self.tls => {
                    Error::unavailable(
                        "Memcached did not finish connecting (TCP and the TLS handshake) in \
                         time: it may not speak TLS at this address",
                    )
                }
                managed::PoolError::Timeout(managed::TimeoutType::Create) => {
                    Error::timeout("Memcached did not accept a connection in time")
                }
                managed::PoolError::Timeout(_) => {
                    Error::timeout("no Memcached connection became free in time")
                }
                other => Error::unavailable("cannot connect to Memcached").with_source(other),
            };
            self.described(error, operation, key)
        })
    }

    /// One command on a pooled connection, and its reply.
    async fn call(
        &self,
        operation: &'static str,
        key: &str,
        command: &CommandLine,
        data: Option<&[u8]>,
    ) -> Result<Reply> {
        let mut connection = self.connection(operation, key).await?;
        connection
            .call(command, data)
            .await
            .map_err(|failure| self.fail(failure, operation, key))
    }

    /// Sends `commands` on one connection in chunks, reading each chunk's
    /// replies (handed to `read` in order) before the next chunk goes out:
    /// writing everything first could fill both sides' buffers and stall.
    /// `read` gives back a reply that does not answer `operation`.
    async fn pipeline(
        &self,
        operation: &'static str,
        commands: &[(&str, CommandLine, Option<&[u8]>)],
        mut read: impl FnMut(Reply) -> std::result::Result<(), Reply>,
    ) -> Result<()> {
        let Some((first, ..)) = commands.first() else {
            return Ok(());
        };
        let mut connection = self.connection(operation, first).await?;
        let mut rest = commands;
        while !rest.is_empty() {
            let mut sent = 0;
            let mut bytes = 0;
            for (_, line, data) in rest {
                if sent > 0 && (sent == COMMANDS_PER_ROUND_TRIP || bytes >= BYTES_PER_ROUND_TRIP) {
                    break;
                }
                connection.queue(line, *data);
                sent += 1;
                bytes += line.as_bytes().len() + data.map_or(0, <[u8]>::len);
            }
            let (chunk, later) = rest.split_at(sent);
            connection
                .flush()
                .await
                .map_err(|failure| self.fail(failure, operation, chunk[0].0))?;
            for (key, ..) in chunk {
                let reply = connection
                    .reply()
                    .await
                    .map_err(|failure| self.fail(failure, operation, key))?;
                read(reply).map_err(|other| self.unexpected(&other, operation, key))?;
            }
            rest = later;
        }
        Ok(())
    }

    fn fail(&self, failure: Failure, operation: &'static str, key: &str) -> Error {
        self.described(error::map(failure, self.tls), operation, key)
    }

    /// `error` with the operation, the key (when there is one) and the server.
    fn described(&self, error: Error, operation: &'static str, key: &str) -> Error {
        let error = error
            .with_operation(operation)
            .with_backend(BACKEND)
            .with_endpoint(&self.address);
        if key.is_empty() {
            error
        } else {
            error.with_key(key)
        }
    }

    /// A reply that does not answer `operation`.
    fn unexpected(&self, reply: &Reply, operation: &'static str, key: &str) -> Error {
        let error = Error::internal(format!(
            "Memcached answered {} to {operation}",
            reply.code()
        ));
        self.described(error, operation, key)
    }
}

/// Memcached's expiry argument for `ttl`: whole seconds (at least one), and
/// an absolute time past its 30-day limit for relative ones. The server
/// reads it as a 32-bit number, so the latest expiry it can hold is
/// 2038-01-19; a larger one would wrap to the past and expire at once.
fn expiry_seconds(ttl: Option<Duration>) -> u32 {
    let Some(ttl) = ttl else { return 0 };
    let seconds = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .max(1);
    let expiry = if seconds > RELATIVE_TTL_LIMIT {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        now.saturating_add(seconds)
    } else {
        seconds
    };
    let latest = u32::try_from(i32::MAX).unwrap_or(u32::MAX);
    u32::try_from(expiry).map_or(latest, |expiry| expiry.min(latest))
}

/// What a compare-and-set operation may act on: the item's CAS token when
/// its value is `expected`.
fn cas_if_holds(reply: Reply, expected: &[u8]) -> Option<u64> {
    match reply {
        Reply::Value(value, returned) if value == expected => returned.cas,
        _ => None,
    }
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
            ..Capabilities::ALL
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let op = "cache.get";
        let line = command(format_args!("mg {} v", wire_key(key)?), key)?;
        match self.call(op, key, &line, None).await? {
            Reply::Value(value, _) => Ok(Some(value)),
            Reply::Miss => Ok(None),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let op = "cache.set";
        let (wire, expiry) = (wire_key(key)?, expiry_seconds(ttl));
        let line = command(format_args!("ms {wire} {} T{expiry}", value.len()), key)?;
        match self.call(op, key, &line, Some(&value)).await? {
            Reply::Done(_) => Ok(()),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn set_if_absent(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<bool> {
        let op = "cache.set_if_absent";
        let (wire, expiry) = (wire_key(key)?, expiry_seconds(ttl));
        // ME: add, stored only when the key holds nothing.
        let line = command(format_args!("ms {wire} {} T{expiry} ME", value.len()), key)?;
        match self.call(op, key, &line, Some(&value)).await? {
            Reply::Done(_) => Ok(true),
            Reply::NotStored => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let op = "cache.delete";
        let line = command(format_args!("md {}", wire_key(key)?), key)?;
        match self.call(op, key, &line, None).await? {
            Reply::Done(_) => Ok(true),
            Reply::NotFound => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let op = "cache.exists";
        let line = command(format_args!("mg {}", wire_key(key)?), key)?;
        match self.call(op, key, &line, None).await? {
            Reply::Done(_) => Ok(true),
            Reply::Miss => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn expire(&self, key: &str, ttl: Duration) -> Result<bool> {
        let op = "cache.expire";
        let (wire, expiry) = (wire_key(key)?, expiry_seconds(Some(ttl)));
        // T on a meta get: touch, found or not.
        let line = command(format_args!("mg {wire} T{expiry}"), key)?;
        match self.call(op, key, &line, None).await? {
            Reply::Done(_) => Ok(true),
            Reply::Miss => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn ttl(&self, key: &str) -> Result<Ttl> {
        let op = "cache.ttl";
        let line = command(format_args!("mg {} t", wire_key(key)?), key)?;
        match self.call(op, key, &line, None).await? {
            Reply::Miss => Ok(Ttl::Missing),
            Reply::Done(returned) => Ok(match returned.ttl {
                Some(seconds) if seconds >= 0 => {
                    Ttl::ExpiresIn(Duration::from_secs(seconds.unsigned_abs()))
                }
                _ => Ttl::Persistent,
            }),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn incr(&self, key: &str, delta: i64) -> Result<i64> {
        let op = "cache.incr";
        let wire = wire_key(key)?;
        let mode = if delta >= 0 { "I" } else { "D" };
        // Memcached counters are unsigned. N0 creates a missing counter (no
        // expiry) holding J, the delta clamped at zero, and returns it.
        let line = command(
            format_args!(
                "ma {wire} N0 J{} D{} M{mode} v",
                delta.max(0),
                delta.unsigned_abs()
            ),
            key,
        )?;
        // NS would mean another client created the counter between the
        // miss and the creation; Memcached 1.6 does both under one lock, so
        // this is defensive: counting again finds it.
        for _ in 0..3 {
            match self.call(op, key, &line, None).await? {
                Reply::Value(value, _) => {
                    let count = std::str::from_utf8(&value)
                        .ok()
                        .and_then(|text| text.trim().parse::<u64>().ok())
                        .ok_or_else(|| {
                            Error::internal("Memcached answered a count that is not a number")
                                .with_operation(op)
                                .with_backend(BACKEND)
                                .with_key(key)
                        })?;
                    return Ok(i64::try_from(count).unwrap_or(i64::MAX));
                }
                Reply::NotStored => continue,
                other => return Err(self.unexpected(&other, op, key)),
            }
        }
        Err(
            Error::conflict("the counter kept being created and deleted concurrently")
                .with_temporary(true)
                .with_operation(op)
                .with_backend(BACKEND)
                .with_key(key),
        )
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let op = "cache.get_many";
        let commands = keys
            .iter()
            .map(|key| {
                Ok((
                    key.as_str(),
                    command(format_args!("mg {} v", wire_key(key)?), key)?,
                    None,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut values = Vec::with_capacity(keys.len());
        self.pipeline(op, &commands, |reply| match reply {
            Reply::Value(value, _) => {
                values.push(Some(value));
                Ok(())
            }
            Reply::Miss => {
                values.push(None);
                Ok(())
            }
            other => Err(other),
        })
        .await?;
        Ok(values)
    }

    async fn set_many(&self, entries: &[(String, Bytes)], ttl: Option<Duration>) -> Result<()> {
        let op = "cache.set_many";
        let expiry = expiry_seconds(ttl);
        let commands = entries
            .iter()
            .map(|(key, value)| {
                let wire = wire_key(key)?;
                let line = command(format_args!("ms {wire} {} T{expiry}", value.len()), key)?;
                Ok((key.as_str(), line, Some(value.as_ref())))
            })
            .collect::<Result<Vec<_>>>()?;
        self.pipeline(op, &commands, |reply| match reply {
            Reply::Done(_) => Ok(()),
            other => Err(other),
        })
        .await
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64> {
        let op = "cache.delete_many";
        let commands = keys
            .iter()
            .map(|key| {
                Ok((
                    key.as_str(),
                    command(format_args!("md {}", wire_key(key)?), key)?,
                    None,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut deleted = 0;
        self.pipeline(op, &commands, |reply| match reply {
            Reply::Done(_) => {
                deleted += 1;
                Ok(())
            }
            Reply::NotFound => Ok(()),
            other => Err(other),
        })
        .await?;
        Ok(deleted)
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool> {
        let op = "cache.compare_and_delete";
        let wire = wire_key(key)?;
        let read = command(format_args!("mg {wire} v c"), key)?;
        let Some(cas) = cas_if_holds(self.call(op, key, &read, None).await?, expected) else {
            return Ok(false);
        };
        let delete = command(format_args!("md {wire} C{cas}"), key)?;
        match self.call(op, key, &delete, None).await? {
            Reply::Done(_) => Ok(true),
            Reply::Exists | Reply::NotFound => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
        }
    }

    async fn compare_and_expire(&self, key: &str, expected: &[u8], ttl: Duration) -> Result<bool> {
        let op = "cache.compare_and_expire";
        let wire = wire_key(key)?;
        let read = command(format_args!("mg {wire} v c"), key)?;
        let Some(cas) = cas_if_holds(self.call(op, key, &read, None).await?, expected) else {
            return Ok(false);
        };
        let expiry = expiry_seconds(Some(ttl));
        let store = command(
            format_args!("ms {wire} {} C{cas} T{expiry}", expected.len()),
            key,
        )?;
        match self.call(op, key, &store, Some(expected)).await? {
            Reply::Done(_) => Ok(true),
            Reply::Exists | Reply::NotFound => Ok(false),
            other => Err(self.unexpected(&other, op, key)),
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
        assert!(wire_key("").is_err());
        assert!(wire_key(&"k".repeat(250)).is_ok());
        assert!(wire_key(&"k".repeat(251)).is_err());
    }

    #[test]
    fn expiries_round_up_and_switch_to_absolute_past_30_days() {
        assert_eq!(expiry_seconds(None), 0);
        assert_eq!(expiry_seconds(Some(Duration::from_millis(1))), 1);
        assert_eq!(expiry_seconds(Some(Duration::from_millis(1500))), 2);
        assert_eq!(expiry_seconds(Some(Duration::from_secs(60))), 60);
        let forty_days = Duration::from_secs(40 * 24 * 60 * 60);
        assert!(expiry_seconds(Some(forty_days)) > 1_700_000_000);
        // Memcached reads 32 bits: later than 2038 is 2038, never the past.
        let latest = u32::try_from(i32::MAX).unwrap();
        let a_century = Duration::from_secs(100 * 365 * 24 * 60 * 60);
        assert_eq!(expiry_seconds(Some(a_century)), latest);
        assert_eq!(expiry_seconds(Some(Duration::MAX)), latest);
    }
}
