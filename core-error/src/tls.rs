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
        let failure = if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
            TlsFailure::UntrustedCertificate
        } else if text.contains("NotValidForName") || text.contains("not valid for name") {
            TlsFailure::HostnameMismatch
        } else if text.contains("Expired")
            || text.contains("certificate expired")
            || text.contains("NotValidYet")
        {
            TlsFailure::ExpiredCertificate
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
