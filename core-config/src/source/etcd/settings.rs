//! The `config.etcd` section: where a service's settings live in etcd.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::AppEnv;

/// Where the settings of a fleet live in etcd (the `config.etcd` section,
/// read from the files, `.env.<env>`, `.secrets` and the process environment
/// before etcd itself is asked; feature `etcd`).
///
/// ```toml
/// [config.etcd]
/// endpoints = ["https://etcd-1.internal:2379", "https://etcd-2.internal:2379"]
/// service = "orders"              # keys under /config/orders/<env>/
/// user = "orders"                 # password: APP__CONFIG__ETCD__PASSWORD in .secrets
/// ca_file = "/etc/ssl/etcd/ca.pem"
/// snapshot = "/var/lib/orders/etcd-snapshot.json"   # start from it when etcd is down
/// ```
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdSettings {
    /// `http://host:2379` or `https://host:2379`; tried in order.
    pub endpoints: Vec<String>,
    /// The service's name: the keys are read under `/config/<service>/<env>/`.
    pub service: String,
    /// The key prefix, instead of the one made from `service`; ends with `/`.
    pub prefix: String,
    /// The etcd user, when the cluster has authentication on.
    pub user: Option<String>,
    /// That user's password.
    pub password: Option<SecretString>,
    /// The CA certificate(s) the servers' certificates must chain to (PEM);
    /// without it, `https://` endpoints are checked against no root at all
    /// and refused.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), for clusters that ask for one.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// How long one request to etcd may take, in milliseconds. Default 3 000.
    pub timeout_ms: u64,
    /// A file the loader keeps a copy of the prefix in (0600), after every
    /// read. When set, a start with etcd unreachable uses that copy instead
    /// of failing; without it, such a start fails.
    pub snapshot: Option<PathBuf>,
}

impl Default for EtcdSettings {
    fn default() -> EtcdSettings {
        EtcdSettings {
            endpoints: Vec::new(),
            service: String::new(),
            prefix: String::new(),
            user: None,
            password: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            timeout_ms: 3_000,
            snapshot: None,
        }
    }
}

impl EtcdSettings {
    /// Settings for `endpoints`, reading the keys of `service`.
    ///
    /// ```
    /// use core_config::{AppEnv, EtcdSettings};
    ///
    /// let etcd = EtcdSettings::new(["http://127.0.0.1:2379"], "orders");
    /// assert_eq!(etcd.key_prefix(AppEnv::Prod).unwrap(), "/config/orders/prod/");
    /// ```
    pub fn new<E: Into<String>>(
        endpoints: impl IntoIterator<Item = E>,
        service: impl Into<String>,
    ) -> EtcdSettings {
        EtcdSettings {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            service: service.into(),
            ..EtcdSettings::default()
        }
    }

    /// Whether the section asks for etcd at all.
    pub fn is_enabled(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// The prefix read for `env`: [`prefix`](EtcdSettings::prefix), else
    /// `/config/<service>/<env>/`. An error when neither is set.
    pub fn key_prefix(&self, env: AppEnv) -> core_error::Result<String> {
        let prefix = self.prefix.trim();
        if !prefix.is_empty() {
            return Ok(if prefix.ends_with('/') {
                prefix.to_string()
            } else {
                format!("{prefix}/")
            });
        }
        let service = self.service.trim();
        if service.is_empty() || service.contains('/') {
            return Err(core_error::Error::invalid_input(
                "config.etcd needs a service name without '/' (config.etcd.service) or a \
                 key prefix (config.etcd.prefix)",
            )
            .with_key("config.etcd.service")
            .with_operation("config.etcd"));
        }
        Ok(format!("/config/{service}/{env}/"))
    }
}

impl std::fmt::Debug for EtcdSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdSettings")
            .field("endpoints", &self.endpoints)
            .field("service", &self.service)
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("timeout_ms", &self.timeout_ms)
            .field("snapshot", &self.snapshot)
            .finish()
    }
}

impl PartialEq for EtcdSettings {
    fn eq(&self, other: &EtcdSettings) -> bool {
        let password = |settings: &EtcdSettings| {
            settings
                .password
                .as_ref()
                .map(|password| password.expose_secret().to_string())
        };
        self.endpoints == other.endpoints
            && self.service == other.service
            && self.prefix == other.prefix
            && self.user == other.user
            && password(self) == password(other)
            && self.ca_file == other.ca_file
            && self.cert_file == other.cert_file
            && self.key_file == other.key_file
            && self.timeout_ms == other.timeout_ms
            && self.snapshot == other.snapshot
    }
}

impl Eq for EtcdSettings {}
