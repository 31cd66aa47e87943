//! `amqps://` with the CA and client certificate the URL names:
//!
//! ```text
//! amqps://app:password@mq.internal:5671/%2f?sslrootcert=/etc/ssl/mq/ca.pem&sslcert=/etc/ssl/mq/client.pem&sslkey=/etc/ssl/mq/client.key
//! ```
//!
//! The parameters (PostgreSQL's names, as for every SDK URL) are taken out
//! before lapin reads the URL. The CA is trusted beside the system's roots;
//! verification cannot be turned off.

use core_error::{Error, Result, TlsFiles};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};

/// The URL lapin connects to, and the TLS configuration it connects with.
pub(crate) fn split(url: &str) -> Result<(String, OwnedTLSConfig)> {
    let (url, files) = TlsFiles::take_from_url(url)?;
    if files.is_empty() {
        return Ok((url, OwnedTLSConfig::default()));
    }
    if !url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("amqps://")
    {
        return Err(Error::invalid_input(
            "sslrootcert, sslcert and sslkey need an amqps:// URL (TLS); this one is amqp://",
        ));
    }
    let cert_chain = match &files.ca {
        Some(path) => Some(
            String::from_utf8(TlsFiles::read("sslrootcert", path)?).map_err(|_| {
                Error::invalid_input(format!("sslrootcert={} is not PEM text", path.display()))
                    .with_key("sslrootcert")
            })?,
        ),
        None => None,
    };
    let identity = match &files.client {
        Some((cert, key)) => Some(OwnedIdentity::PKCS8 {
            pem: TlsFiles::read("sslcert", cert)?,
            key: TlsFiles::read("sslkey", key)?,
        }),
        None => None,
    };
    Ok((
        url,
        OwnedTLSConfig {
            identity,
            cert_chain,
        },
    ))
}
