//! A `redis::Client` from the SDK's Redis URL, with TLS as the URL asks.
//!
//! `rediss://` turns TLS on, verified against the system's roots, or against
//! the CA the URL names; a client certificate is optional:
//!
//! ```text
//! rediss://app:password@cache.internal:6380/0?sslrootcert=/etc/ssl/redis/ca.pem&sslcert=/etc/ssl/redis/client.pem&sslkey=/etc/ssl/redis/client.key
//! ```
//!
//! The parameter names are PostgreSQL's, which the SDK's SQL URLs already
//! take. Verification cannot be turned off: redis-rs's `#insecure` is refused.

use core_error::{Error, Result, TlsFiles};
use redis::{ClientTlsConfig, TlsCertificates};

/// Opens a client for `url` (`redis://` or `rediss://`), reading the TLS
/// files it names. `operation` and `backend` go into the errors, which name
/// the parameter or file at fault and never the URL's password.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Nothing is sent until the first connection.
/// let client = core_cache::backends::redis::open_client(
///     "rediss://cache.internal:6380/0",
///     "cache.connect",
///     "redis",
/// )
/// .unwrap();
/// assert!(matches!(client.get_connection_info().addr(), redis::ConnectionAddr::TcpTls { .. }));
///
/// let err = core_cache::backends::redis::open_client(
///     "redis://cache.internal:6379/0?sslrootcert=/etc/ssl/ca.pem",
///     "cache.connect",
///     "redis",
/// )
/// .unwrap_err();
/// assert!(err.to_string().contains("rediss://"));
/// # }
/// ```
///
/// # Errors
///
/// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for a malformed URL,
/// a TLS parameter on a `redis://` URL, `#insecure`, or a file that cannot be
/// read.
pub fn open_client(
    url: &str,
    operation: &'static str,
    backend: &'static str,
) -> Result<redis::Client> {
    let endpoint = core_error::redact_endpoint(url);
    let tls = TlsUrl::parse(url, "rediss://", operation, backend)?;
    let malformed = |err: redis::RedisError| {
        Error::invalid_input("the Redis URL is malformed")
            .with_operation(operation)
            .with_backend(backend)
            .with_endpoint(&endpoint)
            .with_source(err)
    };
    match tls.certificates {
        None => redis::Client::open(tls.url.as_str()).map_err(malformed),
        Some(certificates) => redis::Client::build_with_tls(tls.url.as_str(), certificates)
            .map_err(|err| {
                Error::invalid_input(format!(
                    "the TLS files of the Redis URL are not usable: {err}"
                ))
                .with_operation(operation)
                .with_backend(backend)
                .with_endpoint(&endpoint)
            }),
    }
}

/// A Redis URL with its TLS parameters taken out and their files read.
pub(crate) struct TlsUrl {
    /// The URL without `sslrootcert`, `sslcert` and `sslkey`.
    pub(crate) url: String,
    /// The CA and client certificate those named, if any.
    pub(crate) certificates: Option<TlsCertificates>,
}

impl TlsUrl {
    /// Reads the TLS parameters of `url`, whose scheme starts with
    /// `tls_scheme` (`rediss://`, `rediss-cluster://`) when it asks for TLS.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) for `#insecure`,
    /// a TLS parameter without TLS, or a file that cannot be read, naming the
    /// parameter and never the URL's password.
    pub(crate) fn parse(
        url: &str,
        tls_scheme: &str,
        operation: &'static str,
        backend: &'static str,
    ) -> Result<TlsUrl> {
        let endpoint = core_error::redact_endpoint(url);
        let refuse = |message: String| {
            Error::invalid_input(message)
                .with_operation(operation)
                .with_backend(backend)
                .with_endpoint(&endpoint)
        };
        if url
            .split_once('#')
            .is_some_and(|(_, fragment)| fragment.contains("insecure"))
        {
            return Err(refuse(
                "the Redis URL asks for #insecure; TLS verification cannot be turned off: \
                 name the server's CA with sslrootcert= instead"
                    .to_string(),
            ));
        }
        let (url, files) =
            TlsFiles::take_from_url(url).map_err(|err| refuse(err.message().to_string()))?;
        let tls = url.to_ascii_lowercase().starts_with(tls_scheme);
        if !tls && !files.is_empty() {
            return Err(refuse(format!(
                "sslrootcert, sslcert and sslkey need a {tls_scheme} URL (TLS); this one is not"
            )));
        }
        if tls {
            // redis-rs builds its TLS configuration with the process default provider.
            core_error::install_ring_provider();
        }
        let read = |param: &'static str, path: &std::path::Path| {
            TlsFiles::read(param, path)
                .map_err(|err| refuse(err.message().to_string()).with_key(param))
        };
        let root_cert = files
            .ca
            .as_deref()
            .map(|path| read("sslrootcert", path))
            .transpose()?;
        let client_tls = match &files.client {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: read("sslcert", cert)?,
                client_key: read("sslkey", key)?,
            }),
            None => None,
        };
        let certificates =
            (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
                client_tls,
                root_cert,
            });
        Ok(TlsUrl { url, certificates })
    }
}

/// A connect error for `url`, said plainly when TLS is the likely cause: a
/// plaintext Redis reads a TLS hello as the start of a command and never
/// answers it, so "the URL asks for TLS, the port does not speak it" shows
/// up as a timeout.
pub fn connect_error(error: Error, url: &str) -> Error {
    let tls = url.trim_start().to_ascii_lowercase().starts_with("rediss");
    if tls && error.kind() == core_error::ErrorKind::Timeout {
        let mut hinted = Error::unavailable(
            "Redis did not complete the TLS handshake in time: it may not speak TLS at this \
             address, which the rediss:// URL requires",
        );
        for (name, value) in error.context() {
            hinted = hinted.with_context(name, value);
        }
        return hinted.with_source(error);
    }
    error
}
