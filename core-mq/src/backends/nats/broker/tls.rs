//! NATS over TLS: `tls://host:port`, NATS's own name for a server that
//! must speak TLS, with the CA and client certificate the URL names
//! (PostgreSQL's parameter names, as for every SDK URL):
//!
//! ```text
//! tls://app:password@nats.internal:4222?sslrootcert=/etc/ssl/nats/ca.pem&sslcert=/etc/ssl/nats/client.pem&sslkey=/etc/ssl/nats/client.key
//! ```
//!
//! The parameters are taken out before async-nats reads the URL. A CA
//! named replaces the system's roots (async-nats trusts one or the other);
//! verification cannot be turned off.

use async_nats::ConnectOptions;
use core_error::{Error, Result, TlsFiles};

/// The URL async-nats connects to, and `options` with the TLS it asks for.
pub(super) fn configure(url: &str, options: ConnectOptions) -> Result<(String, ConnectOptions)> {
    let (url, files) = TlsFiles::take_from_url(url)?;
    let tls = url
        .trim_start()
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("tls://"));
    if !tls {
        if !files.is_empty() {
            return Err(Error::invalid_input(
                "sslrootcert, sslcert and sslkey need a tls:// URL (NATS over TLS); this one is nats://",
            ));
        }
        return Ok((url, options));
    }
    core_error::install_ring_provider();
    let mut options = options.require_tls(true);
    // Read here so a missing file is named by its parameter; async-nats
    // would only say "could not load certs".
    if let Some(ca) = files.ca {
        TlsFiles::read("sslrootcert", &ca)?;
        options = options.add_root_certificates(ca);
    }
    if let Some((cert, key)) = files.client {
        TlsFiles::read("sslcert", &cert)?;
        TlsFiles::read("sslkey", &key)?;
        options = options.add_client_certificate(cert, key);
    }
    Ok((url, options))
}
