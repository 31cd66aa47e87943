//! TLS and SASL to the brokers: `mq.kafka.security` applied to librdkafka,
//! checked before the first client is made, and a handshake tried at
//! connect so that a certificate or credential mistake is reported at start
//! with its cause instead of as a timeout on the first publish.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use core_error::{Error, ErrorKind, Result, TlsFailure};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, DeliveryResult, Producer as _, ProducerContext};
use secrecy::ExposeSecret as _;

use crate::backends::kafka::KafkaSecurity;

/// Client properties that hold TLS or SASL settings: refused in
/// `mq.kafka.client`, where a password would not be kept secret.
const SECURITY_PROPERTIES: [&str; 3] = ["security.protocol", "sasl.", "ssl."];

/// How long a handshake failure without a named cause waits for one.
const GENERIC_GRACE: Duration = Duration::from_secs(2);

/// How long the connect-time handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a security setting that cannot work, naming it.
pub(crate) fn check(
    security: &KafkaSecurity,
    client: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let refuse = |key: &'static str, message: String| {
        Err(Error::invalid_input(message)
            .with_key(key)
            .with_operation("mq.connect")
            .with_backend(super::BACKEND))
    };
    if let Some(name) = client.keys().find(|name| {
        SECURITY_PROPERTIES
            .iter()
            .any(|prefix| name.starts_with(prefix))
    }) {
        return refuse(
            "mq.kafka.client",
            format!(
                "{name} belongs in mq.kafka.security (protocol, sasl_*, ca_file, cert_file, \
                 key_file), where passwords are kept secret"
            ),
        );
    }
    let protocol = security.protocol;
    if protocol.is_sasl() {
        if security.sasl_mechanism.is_none() {
            return refuse(
                "mq.kafka.security.sasl_mechanism",
                format!(
                    "{} needs sasl_mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                    protocol.as_str()
                ),
            );
        }
        if security.sasl_username.as_deref().is_none_or(str::is_empty)
            || security.sasl_password.is_none()
        {
            return refuse(
                "mq.kafka.security.sasl_username",
                format!(
                    "{} needs sasl_username and sasl_password",
                    protocol.as_str()
                ),
            );
        }
    } else if security.sasl_mechanism.is_some() || security.sasl_username.is_some() {
        return refuse(
            "mq.kafka.security.protocol",
            format!(
                "SASL settings are set but protocol is {}; use sasl_plaintext or sasl_ssl",
                protocol.as_str()
            ),
        );
    }
    let files = [
        ("mq.kafka.security.ca_file", &security.ca_file),
        ("mq.kafka.security.cert_file", &security.cert_file),
        ("mq.kafka.security.key_file", &security.key_file),
    ];
    if !protocol.is_tls() && files.iter().any(|(_, file)| file.is_some()) {
        return refuse(
            "mq.kafka.security.protocol",
            format!(
                "TLS files are set but protocol is {}; use ssl or sasl_ssl",
                protocol.as_str()
            ),
        );
    }
    if security.cert_file.is_some() != security.key_file.is_some() {
        return refuse(
            "mq.kafka.security.cert_file",
            "cert_file and key_file go together: set both or neither".to_string(),
        );
    }
    for (key, file) in files {
        if let Some(path) = file
            && !path.is_file()
        {
            return refuse(
                key,
                format!("{key} ({}) is not a readable file", path.display()),
            );
        }
    }
    Ok(())
}

/// Sets the librdkafka properties for `security`.
pub(crate) fn apply(config: &mut ClientConfig, security: &KafkaSecurity) {
    config.set("security.protocol", security.protocol.as_str());
    if let Some(mechanism) = security.sasl_mechanism {
        config.set("sasl.mechanism", mechanism.as_str());
    }
    if let Some(user) = &security.sasl_username {
        config.set("sasl.username", user);
    }
    if let Some(password) = &security.sasl_password {
        config.set("sasl.password", password.expose_secret());
    }
    if security.protocol.is_tls() {
        // Host name verification; librdkafka's default too, said outright.
        config.set("ssl.endpoint.identification.algorithm", "https");
    }
    let path = |file: &std::path::PathBuf| file.display().to_string();
    if let Some(file) = &security.ca_file {
        config.set("ssl.ca.location", path(file));
    }
    if let Some(file) = &security.cert_file {
        config.set("ssl.certificate.location", path(file));
    }
    if let Some(file) = &security.key_file {
        config.set("ssl.key.location", path(file));
    }
    if let Some(password) = &security.key_password {
        config.set("ssl.key.password", password.expose_secret());
    }
}

/// Remembers what librdkafka reported for a client: the handshake's real
/// cause is there ("SSL handshake failed: …", "SASL SCRAM authentication
/// failed: …"), soon followed by "1/1 brokers are down", while the calls
/// themselves only see a timeout.
#[derive(Default)]
struct Reports(Mutex<Vec<String>>);

impl Reports {
    fn keep(&self, reason: &str) {
        let mut reports = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if reports.len() < 64 {
            reports.push(reason.to_string());
        }
    }

    /// The most telling report that is a TLS or SASL refusal, as an error
    /// and whether it names its cause: librdkafka may first say only "SSL
    /// handshake failed" and the verification's verdict a moment later.
    fn refusal(&self) -> Option<(Error, bool)> {
        let reports = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut generic = None;
        for reason in reports.iter() {
            match refusal(reason) {
                Some((error, true)) => return Some((error, true)),
                Some((error, false)) => generic = generic.or(Some(error)),
                None => {}
            }
        }
        generic.map(|error| (error, false))
    }
}

impl ClientContext for Reports {
    fn error(&self, _error: KafkaError, reason: &str) {
        self.keep(reason);
    }

    // librdkafka reports some handshake and authentication failures only
    // as log lines.
    fn log(&self, level: RDKafkaLogLevel, _facility: &str, message: &str) {
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            self.keep(message);
        }
    }
}

/// The probe sends nothing, so deliveries never happen.
impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, (): ()) {}
}

/// Tries the TLS handshake and SASL authentication against the brokers.
/// A refusal (certificate, credentials) is an error naming its cause; a
/// broker that cannot be reached at all is not, since clients connect
/// lazily and the broker may come up later.
pub(crate) async fn handshake(config: &ClientConfig, brokers: &str) -> Result<()> {
    let config = config.clone();
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || handshake_blocking(&config, &brokers))
        .await
        .map_err(|err| Error::internal(format!("the Kafka handshake check failed: {err}")))?
}

fn handshake_blocking(config: &ClientConfig, brokers: &str) -> Result<()> {
    let producer: BaseProducer<Reports> = config
        .create_with_context(Reports::default())
        .map_err(|err| super::error::map(err, "mq.connect", ""))?;
    let started = Instant::now();
    let mut generic_since: Option<Instant> = None;
    while started.elapsed() < HANDSHAKE_TIMEOUT {
        if producer
            .client()
            .fetch_metadata(None, Duration::from_millis(500))
            .is_ok()
        {
            return Ok(());
        }
        producer.poll(Duration::from_millis(100));
        let found = match producer.context().refusal() {
            Some((error, true)) => Some(error),
            // A cause-less handshake failure: give the verdict a moment.
            Some((error, false)) => {
                let since = *generic_since.get_or_insert_with(Instant::now);
                (since.elapsed() >= GENERIC_GRACE).then_some(error)
            }
            None => None,
        };
        if let Some(error) = found {
            return Err(error
                .with_operation("mq.connect")
                .with_backend(super::BACKEND)
                .with_endpoint(brokers));
        }
    }
    tracing::warn!(
        brokers = %brokers,
        "Kafka did not answer the connect-time handshake; clients will keep trying"
    );
    Ok(())
}

/// The error for a librdkafka report that is a TLS or SASL refusal, and
/// whether it names the cause (a bare "SSL handshake failed" does not).
fn refusal(reason: &str) -> Option<(Error, bool)> {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("sasl") && (lower.contains("failed") || lower.contains("error")) {
        let what = if lower.contains("mechanism") {
            "Kafka refused the SASL mechanism (check mq.kafka.security.sasl_mechanism)"
        } else {
            "Kafka rejected the SASL credentials"
        };
        return Some((Error::new(ErrorKind::Unauthenticated, what), true));
    }
    let failure = TlsFailure::classify(reason).or_else(|| {
        (reason.contains("SSL handshake failed") || reason.contains("certificate verify failed"))
            .then_some(TlsFailure::Handshake)
    })?;
    let error =
        Error::unavailable(failure.describe("Kafka")).with_temporary(failure.is_temporary());
    Some((error, failure != TlsFailure::Handshake))
}
