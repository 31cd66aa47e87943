//! TLS to etcd: rustls with ring (the provider the rest of the SDK names),
//! the CA of `config.etcd.ca_file`, and an optional client certificate.

use std::path::Path;
use std::sync::Arc;

use core_error::{Error, Result};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::EtcdSettings;

/// The rustls configuration for `settings`: its CA as the only root, and its
/// client certificate when one is set. Verification is never turned off.
pub(crate) fn client_config(settings: &EtcdSettings) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let Some(ca_file) = &settings.ca_file else {
        return Err(Error::invalid_input(
            "an https:// etcd endpoint needs config.etcd.ca_file, the CA its certificate \
             chains to",
        )
        .with_key("config.etcd.ca_file")
        .with_operation("config.etcd"));
    };
    for cert in certificates(ca_file, "config.etcd.ca_file")? {
        roots.add(cert).map_err(|err| {
            bad_file(
                "config.etcd.ca_file",
                ca_file,
                &format!("not a CA certificate: {err}"),
            )
        })?;
    }
    let builder = builder()?.with_root_certificates(roots);
    match (&settings.cert_file, &settings.key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert_file), Some(key_file)) => {
            let chain = certificates(cert_file, "config.etcd.cert_file")?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|_| {
                bad_file(
                    "config.etcd.key_file",
                    key_file,
                    "holds no readable PEM private key",
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|err| {
                bad_file(
                    "config.etcd.key_file",
                    key_file,
                    &format!("does not go with config.etcd.cert_file: {err}"),
                )
            })
        }
        (Some(_), None) | (None, Some(_)) => Err(Error::invalid_input(
            "config.etcd.cert_file and config.etcd.key_file go together: set both or neither",
        )
        .with_key("config.etcd.cert_file")
        .with_operation("config.etcd")),
    }
}

/// A configuration that trusts nothing, for a client whose endpoints are
/// all plain `http://`.
pub(crate) fn unused_config() -> Result<rustls::ClientConfig> {
    Ok(builder()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

fn builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| Error::internal(format!("TLS set-up: {err}")).with_operation("config.etcd"))
}

fn certificates(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|_| bad_file(key, path, "cannot be read"))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad_file(key, path, "is not PEM"))?;
    if certs.is_empty() {
        return Err(bad_file(key, path, "holds no certificate"));
    }
    Ok(certs)
}

fn bad_file(key: &'static str, path: &Path, what: &str) -> Error {
    Error::invalid_input(format!("{key} ({}) {what}", path.display()))
        .with_key(key)
        .with_operation("config.etcd")
}
