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

use core_error::{Error, Result};
use redis::{ClientTlsConfig, TlsCertificates};

/// The CA file, client certificate and client key parameters.
const TLS_PARAMS: [&str; 3] = ["sslrootcert", "sslcert", "sslkey"];

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
    let refuse = |message: String| {
        Error::invalid_input(message)
            .with_operation(operation)
            .with_backend(backend)
            .with_endpoint(&endpoint)
    };
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    if fragment.is_some_and(|fragment| fragment.contains("insecure")) {
        return Err(refuse(
            "the Redis URL asks for #insecure; TLS verification cannot be turned off: \
             name the server's CA with sslrootcert= instead"
                .to_string(),
        ));
    }
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, query),
        None => (rest, ""),
    };
    let mut kept = Vec::new();
    let mut files: [Option<String>; 3] = [None, None, None];
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match TLS_PARAMS
            .iter()
            .position(|param| param.eq_ignore_ascii_case(name))
        {
            Some(index) => {
                let value = percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned();
                files[index] = Some(value);
            }
            None => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let tls = url.to_ascii_lowercase().starts_with("rediss://");
    let [ca, cert, key] = files;
    if !tls && (ca.is_some() || cert.is_some() || key.is_some()) {
        return Err(refuse(
            "sslrootcert, sslcert and sslkey need a rediss:// URL (TLS); this one is redis://"
                .to_string(),
        ));
    }
    let malformed =
        |err: redis::RedisError| refuse("the Redis URL is malformed".to_string()).with_source(err);
    if !tls {
        return redis::Client::open(url.as_str()).map_err(malformed);
    }
    install_default_provider();
    let read = |param: &str, path: &str| {
        std::fs::read(path).map_err(|err| {
            refuse(format!("{param}={path} cannot be read: {err}")).with_key(param.to_string())
        })
    };
    let root_cert = ca.map(|path| read("sslrootcert", &path)).transpose()?;
    let client_tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("sslcert", &cert)?,
            client_key: read("sslkey", &key)?,
        }),
        (None, None) => None,
        _ => {
            return Err(refuse(
                "sslcert and sslkey go together: give both or neither".to_string(),
            ));
        }
    };
    if root_cert.is_none() && client_tls.is_none() {
        return redis::Client::open(url.as_str()).map_err(malformed);
    }
    redis::Client::build_with_tls(
        url.as_str(),
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(|err| {
        refuse(format!(
            "the TLS files of the Redis URL are not usable: {err}"
        ))
    })
}

/// A connect error for `url`, said plainly when TLS is the likely cause: a
/// plaintext Redis reads a TLS hello as the start of a command and never
/// answers it, so "the URL asks for TLS, the port does not speak it" shows
/// up as a timeout.
pub fn connect_error(error: Error, url: &str) -> Error {
    let tls = url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("rediss://");
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

/// redis-rs builds its TLS configuration with rustls' process default
/// provider; with both ring and aws-lc-rs compiled in (other drivers bring
/// the latter) there is none, and the first connection would panic. ring,
/// the SDK's provider, is installed unless the service installed one.
fn install_default_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a default exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
