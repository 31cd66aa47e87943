//! The `mq` section of a service's settings, and building a backend from it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use core_error::{Error, Result};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::layers::{self, LayerSettings};
use crate::{DEFAULT_MAX_MESSAGE_BYTES, MessageQueueBase};

/// Settings for one message broker, as a service's configuration holds them.
///
/// The backend is picked by the scheme of `url`, so switching from the
/// in-memory queue to Kafka is a configuration change:
///
/// | `url` | backend | feature |
/// |---|---|---|
/// | `memory://` | in-process | `memory` |
/// | `redis://[:password@]host:port[/db]`, `rediss://…` | Redis Streams | `redis-streams` |
/// | `amqp://user:password@host:port/vhost`, `amqps://…` | RabbitMQ | `rabbitmq` |
/// | `kafka://host:port[,host:port…]` | Kafka | `kafka` |
///
/// ```
/// use core_mq::MqSettings;
///
/// let settings: MqSettings = serde_json::from_str(r#"{
///     "url": "amqp://app:s3cret@rabbit:5672/%2f",
///     "max_message_bytes": 65536
/// }"#).unwrap();
/// assert_eq!(settings.max_message_bytes, 65536);
/// assert!(!format!("{settings:?}").contains("s3cret"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqSettings {
    /// Which backend and where; may carry a password. Default `memory://`.
    pub url: SecretString,
    /// The largest message (body, key and headers) accepted by `publish`.
    /// Default 1 MiB.
    pub max_message_bytes: usize,
    /// In-memory backend limits.
    pub memory: MemorySection,
    /// Redis Streams options.
    pub redis: RedisSection,
    /// RabbitMQ options.
    pub rabbitmq: RabbitMqSection,
    /// Kafka options.
    pub kafka: KafkaSection,
    /// Metrics and tracing.
    pub layers: LayerSettings,
}

impl Default for MqSettings {
    fn default() -> MqSettings {
        MqSettings {
            url: SecretString::from("memory://"),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            memory: MemorySection::default(),
            redis: RedisSection::default(),
            rabbitmq: RabbitMqSection::default(),
            kafka: KafkaSection::default(),
            layers: LayerSettings::default(),
        }
    }
}

impl fmt::Debug for MqSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqSettings")
            .field(
                "url",
                &core_error::redact_endpoint(self.url.expose_secret()),
            )
            .field("max_message_bytes", &self.max_message_bytes)
            .field("memory", &self.memory)
            .field("redis", &self.redis)
            .field("rabbitmq", &self.rabbitmq)
            .field("kafka", &self.kafka)
            .field("layers", &self.layers)
            .finish()
    }
}

impl MqSettings {
    /// Settings for `url` with every other value at its default.
    pub fn from_url(url: impl Into<String>) -> MqSettings {
        MqSettings {
            url: SecretString::from(url.into()),
            ..MqSettings::default()
        }
    }
}

/// Limits of the in-memory backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySection {
    /// Messages kept per topic; see
    /// [`MemoryConfig::max_retained`](crate::backends::memory::MemoryConfig::max_retained).
    /// Default 100 000.
    pub max_retained: usize,
}

impl Default for MemorySection {
    fn default() -> MemorySection {
        MemorySection {
            max_retained: 100_000,
        }
    }
}

/// Redis Streams options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// Approximate length each stream is trimmed to on `XADD` (`MAXLEN ~`).
    /// Trimming drops the oldest entries even if a group has not read them:
    /// size it for the longest consumer outage. Default 1 000 000.
    pub max_len: usize,
    /// Prefix of every stream key (`<prefix><topic>`). Default `mq:`.
    pub key_prefix: String,
}

impl Default for RedisSection {
    fn default() -> RedisSection {
        RedisSection {
            max_len: 1_000_000,
            key_prefix: "mq:".to_string(),
        }
    }
}

/// RabbitMQ options.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RabbitMqSection {
    /// The durable topic exchange every topic is a routing key of.
    /// Default `core-mq`.
    pub exchange: String,
    /// Deletes a group's queue after it had no consumer for this long
    /// (RabbitMQ `x-expires`); messages in it are lost then. Default none:
    /// queues live until deleted. Fixed when the queue is first declared.
    pub queue_expires_ms: Option<u64>,
}

impl Default for RabbitMqSection {
    fn default() -> RabbitMqSection {
        RabbitMqSection {
            exchange: "core-mq".to_string(),
            queue_expires_ms: None,
        }
    }
}

/// Kafka options.
///
/// `Debug` hides the values of client properties that hold secrets
/// (`sasl.password`, `ssl.key.password`, anything naming a secret or token).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSection {
    /// Partitions of topics this crate creates. Default 4.
    pub partitions: i32,
    /// Replication factor of topics this crate creates. Default 1.
    pub replication: i32,
    /// Extra librdkafka properties for every client. They override this
    /// crate's defaults; TLS and SASL go in [`security`](KafkaSection::security)
    /// instead, where the passwords are secrets.
    pub client: BTreeMap<String, String>,
    /// TLS and SASL to the brokers.
    pub security: KafkaSecurity,
}

/// How Kafka clients reach the brokers (`mq.kafka.security`).
///
/// ```toml
/// [mq.kafka.security]
/// protocol = "sasl_ssl"            # plaintext, ssl, sasl_plaintext, sasl_ssl
/// sasl_mechanism = "SCRAM-SHA-512" # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
/// sasl_username = "orders"         # sasl_password: APP__MQ__KAFKA__SECURITY__SASL_PASSWORD
/// ca_file = "/etc/ssl/kafka/ca.pem"
/// ```
///
/// With a TLS protocol the broker's certificate is verified against
/// `ca_file` (else the system's roots) and its host name checked.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSecurity {
    /// `plaintext` (default), `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub protocol: KafkaProtocol,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, for the SASL protocols.
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user.
    pub sasl_username: Option<String>,
    /// The SASL password.
    pub sasl_password: Option<SecretString>,
    /// The CA the brokers' certificates chain to (PEM).
    pub ca_file: Option<std::path::PathBuf>,
    /// A client certificate (PEM), for brokers that ask for one.
    pub cert_file: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM).
    pub key_file: Option<std::path::PathBuf>,
    /// The key's passphrase, if it is encrypted.
    pub key_password: Option<SecretString>,
}

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaProtocol {
    /// Neither TLS nor SASL.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl KafkaProtocol {
    /// The name librdkafka takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            KafkaProtocol::Plaintext => "plaintext",
            KafkaProtocol::Ssl => "ssl",
            KafkaProtocol::SaslPlaintext => "sasl_plaintext",
            KafkaProtocol::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether the connection is encrypted.
    pub const fn is_tls(self) -> bool {
        matches!(self, KafkaProtocol::Ssl | KafkaProtocol::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub const fn is_sasl(self) -> bool {
        matches!(self, KafkaProtocol::SaslPlaintext | KafkaProtocol::SaslSsl)
    }
}

/// A SASL mechanism librdkafka implements without extra libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    /// The password in the clear (only over TLS, in practice).
    #[serde(rename = "PLAIN")]
    Plain,
    /// SCRAM with SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The name librdkafka takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSecurity")
            .field("protocol", &self.protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("key_password", &self.key_password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl PartialEq for KafkaSecurity {
    fn eq(&self, other: &KafkaSecurity) -> bool {
        let secret = |value: &Option<SecretString>| {
            value
                .as_ref()
                .map(|secret| secret.expose_secret().to_string())
        };
        self.protocol == other.protocol
            && self.sasl_mechanism == other.sasl_mechanism
            && self.sasl_username == other.sasl_username
            && secret(&self.sasl_password) == secret(&other.sasl_password)
            && self.ca_file == other.ca_file
            && self.cert_file == other.cert_file
            && self.key_file == other.key_file
            && secret(&self.key_password) == secret(&other.key_password)
    }
}

impl Eq for KafkaSecurity {}

impl Default for KafkaSection {
    fn default() -> KafkaSection {
        KafkaSection {
            partitions: 4,
            replication: 1,
            client: BTreeMap::new(),
            security: KafkaSecurity::default(),
        }
    }
}

impl fmt::Debug for KafkaSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let client: BTreeMap<&str, &str> = self
            .client
            .iter()
            .map(|(name, value)| {
                let secret = [
                    "password",
                    "secret",
                    "token",
                    "oauthbearer.config",
                    "key.pem",
                ]
                .iter()
                .any(|marker| name.contains(marker));
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("KafkaSection")
            .field("partitions", &self.partitions)
            .field("replication", &self.replication)
            .field("client", &client)
            .field("security", &self.security)
            .finish()
    }
}

/// Connects the backend `settings.url` names and wraps it in the layers
/// `settings.layers` asks for.
///
/// ```
/// use core_mq::{MqSettings, connect};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_error::Result<()> {
/// let queue = connect(&MqSettings::default()).await?;
/// assert_eq!(queue.name(), "memory");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for an unknown
/// scheme; [`Unsupported`](core_error::ErrorKind::Unsupported) for a backend
/// whose cargo feature is off; the backend's connection errors.
pub async fn connect(settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let backend = connect_backend(settings).await?;
    Ok(layers::stack(backend, &settings.layers))
}

fn scheme_of(url: &str) -> &str {
    url.split_once("://").map_or(url, |(scheme, _)| scheme)
}

#[cfg_attr(
    all(
        feature = "memory",
        feature = "redis-streams",
        feature = "rabbitmq",
        feature = "kafka"
    ),
    allow(dead_code, reason = "only reached when a backend's feature is off")
)]
fn feature_off(backend: &str, feature: &str) -> Error {
    Error::unsupported(format!(
        "the {backend} message-queue backend is not compiled in; enable the core-mq feature `{feature}`"
    ))
    .with_operation("mq.connect")
    .with_key("mq.url")
}

/// The bare backend `settings.url` names, without layers.
///
/// # Errors
///
/// As for [`connect`].
pub async fn connect_backend(settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let url = settings.url.expose_secret();
    match scheme_of(url) {
        "memory" => memory(settings),
        "redis" | "rediss" => redis_streams(url, settings).await,
        "amqp" | "amqps" => rabbitmq(url, settings).await,
        "kafka" => kafka(url, settings).await,
        other => Err(Error::invalid_input(format!(
            "unknown message-queue URL scheme {other:?}; expected memory://, redis://, rediss://, amqp://, amqps:// or kafka://"
        ))
        .with_operation("mq.connect")
        .with_key("mq.url")),
    }
}

#[cfg(feature = "memory")]
fn memory(settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    use crate::backends::memory::{MemoryBackend, MemoryConfig};
    Ok(Arc::new(MemoryBackend::new(MemoryConfig {
        max_retained: settings.memory.max_retained,
        max_message_bytes: settings.max_message_bytes,
    })))
}

#[cfg(not(feature = "memory"))]
fn memory(_: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    Err(feature_off("memory", "memory"))
}

#[cfg(feature = "redis-streams")]
async fn redis_streams(url: &str, settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let backend = crate::backends::redis::RedisBackend::connect(
        url,
        &settings.redis,
        settings.max_message_bytes,
    )
    .await?;
    Ok(Arc::new(backend))
}

#[cfg(not(feature = "redis-streams"))]
async fn redis_streams(_: &str, _: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    Err(feature_off("Redis Streams", "redis-streams"))
}

#[cfg(feature = "rabbitmq")]
async fn rabbitmq(url: &str, settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let backend = crate::backends::rabbitmq::RabbitMqBackend::connect(
        url,
        &settings.rabbitmq,
        settings.max_message_bytes,
    )
    .await?;
    Ok(Arc::new(backend))
}

#[cfg(not(feature = "rabbitmq"))]
async fn rabbitmq(_: &str, _: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    Err(feature_off("RabbitMQ", "rabbitmq"))
}

#[cfg(feature = "kafka")]
async fn kafka(url: &str, settings: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    let brokers = url.trim_start_matches("kafka://").trim_end_matches('/');
    let backend = crate::backends::kafka::KafkaBackend::connect(
        brokers,
        &settings.kafka,
        settings.max_message_bytes,
    )
    .await?;
    Ok(Arc::new(backend))
}

#[cfg(not(feature = "kafka"))]
async fn kafka(_: &str, _: &MqSettings) -> Result<Arc<dyn MessageQueueBase>> {
    Err(feature_off("Kafka", "kafka"))
}
