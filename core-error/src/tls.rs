//! What went wrong in a TLS handshake, read from a driver's error text, so
//! every crate says it the same way and none retries a certificate problem.

use std::fmt;

/// A TLS failure a retry cannot fix (except [`Handshake`](TlsFailure::Handshake)).
///
/// Drivers report rustls' verdicts as text inside I/O errors; [`classify`](TlsFailure::classify)
/// reads the variant names rustls uses (`UnknownIssuer`, `NotValidForName`, ...).
///
/// ```
/// use core_error::TlsFailure;
///
/// let failure = TlsFailure::classify("invalid peer certificate: UnknownIssuer").unwrap();
/// assert_eq!(failure, TlsFailure::UntrustedCertificate);
/// assert!(!failure.is_temporary());
/// assert_eq!(
///     failure.describe("Redis"),
///     "Redis's TLS certificate is not trusted (unknown issuer): name the CA that signed it"
/// );
/// assert_eq!(
///     TlsFailure::classify(r#"invalid peer certificate: certificate not valid for name "127.0.0.2""#),
///     Some(TlsFailure::HostnameMismatch)
/// );
/// assert_eq!(TlsFailure::classify("connection refused"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate does not chain to a trusted CA.
    UntrustedCertificate,
    /// The certificate does not name the host connected to.
    HostnameMismatch,
    /// The certificate has expired (or is not valid yet).
    ExpiredCertificate,
    /// The server refused the client certificate, or wanted one and got none.
    ClientCertificateRefused,
    /// The server answered in plaintext: it does not speak TLS there.
    NotTls,
    /// Any other handshake failure.
    Handshake,
}

impl TlsFailure {
    /// The failure `text` (a driver error's `Display` or `Debug`) reports,
    /// if it is a TLS one.
    pub fn classify(text: &str) -> Option<TlsFailure> {
        // A host name or expiry verdict first: OpenSSL-based drivers
        // (librdkafka) add "could not be verified" to every verify failure.
        let failure = if text.contains("NotValidForName")
            || text.contains("not valid for name")
            || text.contains("ostname mismatch")
            || text.contains("IP address mismatch")
        {
            TlsFailure::HostnameMismatch
        } else if text.contains("Expired")
            || text.contains("certificate expired")
            || text.contains("certificate has expired")
            || text.contains("NotValidYet")
        {
            TlsFailure::ExpiredCertificate
        } else if text.contains("UnknownIssuer")
            || text.contains("unknown issuer")
            || text.contains("unable to get local issuer certificate")
            || text.contains("self-signed certificate in certificate chain")
            || text.contains("could not be verified")
        {
            TlsFailure::UntrustedCertificate
        } else if text.contains("CertificateRequired")
            || text.contains("BadCertificate")
            || text.contains("UnknownCA")
            || text.contains("unknown ca")
            || text.contains("AccessDenied")
        {
            TlsFailure::ClientCertificateRefused
        } else if text.contains("InvalidContentType")
            || text.contains("corrupt message")
            || text.contains("wrong version number")
        {
            TlsFailure::NotTls
        } else if text.contains("peer certificate")
            || text.contains("HandshakeFailure")
            || text.contains("received fatal alert")
        {
            TlsFailure::Handshake
        } else {
            return None;
        };
        Some(failure)
    }

    /// Whether a retry could help: only for an unexplained handshake failure.
    pub fn is_temporary(self) -> bool {
        self == TlsFailure::Handshake
    }

    /// A sentence naming `server` ("Redis", "the database") and what to do.
    pub fn describe(self, server: &str) -> String {
        match self {
            TlsFailure::UntrustedCertificate => format!(
                "{server}'s TLS certificate is not trusted (unknown issuer): name the CA that signed it"
            ),
            TlsFailure::HostnameMismatch => {
                format!("{server}'s TLS certificate does not name the host connected to")
            }
            TlsFailure::ExpiredCertificate => format!("{server}'s TLS certificate has expired"),
            TlsFailure::ClientCertificateRefused => {
                format!("{server} refused the client certificate, or wanted one and got none")
            }
            TlsFailure::NotTls => {
                format!("{server} does not speak TLS at this address, and the URL requires it")
            }
            TlsFailure::Handshake => format!("the TLS handshake with {server} failed"),
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("the server"))
    }
}

/// The TLS files a connection URL names, with PostgreSQL's parameter names
/// (which the SDK's SQL URLs already take): `sslrootcert` (the CA),
/// `sslcert` and `sslkey` (a client certificate and its key).
///
/// ```
/// use core_error::TlsFiles;
///
/// let (url, files) = TlsFiles::take_from_url(
///     "amqps://app:pw@mq:5671/%2f?heartbeat=10&sslrootcert=/etc/ssl/ca.pem",
/// )
/// .unwrap();
/// assert_eq!(url, "amqps://app:pw@mq:5671/%2f?heartbeat=10");
/// assert_eq!(files.ca.as_deref(), Some(std::path::Path::new("/etc/ssl/ca.pem")));
/// assert!(files.client.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA the server's certificate must chain to (PEM).
    pub ca: Option<std::path::PathBuf>,
    /// A client certificate (PEM) and its private key (PEM).
    pub client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

/// The CA file, client certificate and client key parameters.
const TLS_PARAMS: [&str; 3] = ["sslrootcert", "sslcert", "sslkey"];

impl TlsFiles {
    /// Takes the TLS parameters out of `url`'s query, returning the URL
    /// without them (for a driver that does not know them) and the files.
    /// The error names what is wrong: a certificate without its key, or the
    /// reverse.
    pub fn take_from_url(url: &str) -> crate::Result<(String, TlsFiles)> {
        let (rest, fragment) = match url.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (url, None),
        };
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut kept = Vec::new();
        let mut found: [Option<std::path::PathBuf>; 3] = [None, None, None];
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match TLS_PARAMS
                .iter()
                .position(|param| param.eq_ignore_ascii_case(name))
            {
                Some(index) => found[index] = Some(percent_decoded(value).into()),
                None => kept.push(pair),
            }
        }
        let mut url = base.to_string();
        if !kept.is_empty() {
            url = format!("{url}?{}", kept.join("&"));
        }
        if let Some(fragment) = fragment {
            url = format!("{url}#{fragment}");
        }
        let [ca, cert, key] = found;
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(crate::Error::invalid_input(
                    "sslcert and sslkey go together: give both or neither",
                ));
            }
        };
        Ok((url, TlsFiles { ca, client }))
    }

    /// Whether the URL named any TLS file.
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.client.is_none()
    }

    /// The bytes of one of the files, or an error naming the parameter and
    /// the path (paths are not secrets; the contents never show).
    pub fn read(param: &'static str, path: &std::path::Path) -> crate::Result<Vec<u8>> {
        std::fs::read(path).map_err(|err| {
            crate::Error::invalid_input(format!("{param}={} cannot be read: {err}", path.display()))
                .with_key(param)
        })
    }
}

#[cfg(feature = "rustls")]
impl TlsFiles {
    /// A rustls client configuration (ring, the SDK's provider) for a driver
    /// that takes one: the server's certificate checked against `sslrootcert`
    /// alone when it is named, otherwise against Mozilla's roots
    /// (`webpki-roots`, as sqlx's); `sslcert` and `sslkey` presented when
    /// named. There is no way to turn verification off here.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) naming the parameter
    /// and path of a file that cannot be read, is not PEM, holds no
    /// certificate, or a key that does not go with its certificate (never
    /// the file's contents).
    ///
    /// ```
    /// use core_error::TlsFiles;
    ///
    /// let (_, files) = TlsFiles::take_from_url("memcacheds://cache:11212").unwrap();
    /// assert!(files.client_config().is_ok()); // Mozilla's roots
    ///
    /// let (_, files) =
    ///     TlsFiles::take_from_url("memcacheds://cache:11212?sslrootcert=/no/such/ca.pem").unwrap();
    /// let err = files.client_config().unwrap_err();
    /// assert!(err.to_string().contains("sslrootcert=/no/such/ca.pem cannot be read"), "{err}");
    /// ```
    pub fn client_config(&self) -> crate::Result<rustls::ClientConfig> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject as _;

        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(path) => {
                for cert in certificates("sslrootcert", path)? {
                    roots.add(cert).map_err(|err| {
                        unusable(
                            "sslrootcert",
                            path,
                            &format!("cannot be used as a trust anchor: {err}"),
                        )
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|err| crate::Error::internal(format!("TLS set-up: {err}")))?
        .with_root_certificates(roots);
        let Some((cert, key)) = &self.client else {
            return Ok(builder.with_no_client_auth());
        };
        let chain = certificates("sslcert", cert)?;
        let private = PrivateKeyDer::from_pem_slice(&TlsFiles::read("sslkey", key)?)
            .map_err(|_| unusable("sslkey", key, "holds no PEM private key"))?;
        builder
            .with_client_auth_cert(chain, private)
            .map_err(|err| {
                unusable(
                    "sslkey",
                    key,
                    &format!("cannot be used with sslcert: {err}"),
                )
            })
    }
}

/// The PEM certificates in the file `param` names; at least one.
#[cfg(feature = "rustls")]
fn certificates(
    param: &'static str,
    path: &std::path::Path,
) -> crate::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let pem = TlsFiles::read(param, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| unusable(param, path, "is not PEM"))?;
    if certs.is_empty() {
        return Err(unusable(param, path, "holds no certificate"));
    }
    Ok(certs)
}

#[cfg(feature = "rustls")]
fn unusable(param: &'static str, path: &std::path::Path, what: &str) -> crate::Error {
    crate::Error::invalid_input(format!("{param}={} {what}", path.display())).with_key(param)
}

/// `%2F` and friends decoded; invalid escapes kept as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Installs ring as rustls' process-wide default crypto provider, unless one
/// is installed already (by the service, or an earlier call).
///
/// Drivers (sqlx, redis-rs, lapin) build their TLS configuration with the
/// process default provider. Other drivers in the same build enable rustls'
/// aws-lc-rs provider beside ring, and with both compiled in rustls cannot
/// pick one: the first TLS connection would panic. ring is the provider of
/// the SDK's own JWT and `ENC(...)` code. Every TLS-speaking backend calls
/// this before it connects.
///
/// ```
/// core_error::install_ring_provider();
/// assert!(rustls::crypto::CryptoProvider::get_default().is_some());
/// ```
#[cfg(feature = "rustls")]
pub fn install_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a default exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
