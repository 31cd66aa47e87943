//! The crypto provider sqlx's rustls connections use.
//!
//! sqlx builds its certificate verifier with rustls' process-level default
//! provider. Other drivers in a service (lapin, mongodb) enable rustls'
//! aws-lc-rs provider beside the ring one sqlx asks for, and with both
//! compiled in rustls cannot pick a default: the first TLS connection
//! panicked. Before connecting, ring — the provider of the SDK's own JWT and
//! `ENC(...)` code — is installed as the default unless the service
//! installed one itself.

/// Installs ring as the process's default rustls provider if none is set.
pub(crate) fn install_default_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a default exists.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
