//! The `mq.kafka` section: topic defaults, librdkafka properties, TLS and SASL.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// Kafka options (`mq.kafka`).
///
/// `Debug` hides the values of client properties that hold secrets
/// (`sasl.password`, `ssl.key.password`, anything naming a secret or token).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// Partitions of topics this crate creates. Default 4.
    pub partitions: i32,
    /// Replication factor of topics this crate creates. Default 1.
    pub replication: i32,
    /// Extra librdkafka properties for every client. They override this
    /// crate's defaults; TLS and SASL go in [`security`](KafkaSettings::security)
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

impl Default for KafkaSettings {
    fn default() -> KafkaSettings {
        KafkaSettings {
            partitions: 4,
            replication: 1,
            client: BTreeMap::new(),
            security: KafkaSecurity::default(),
        }
    }
}

impl fmt::Debug for KafkaSettings {
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
        f.debug_struct("KafkaSettings")
            .field("partitions", &self.partitions)
            .field("replication", &self.replication)
            .field("client", &client)
            .field("security", &self.security)
            .finish()
    }
}
