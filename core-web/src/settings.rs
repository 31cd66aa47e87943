//! The `server` section every service shares, and loading a service's
//! settings from `configs/<service>/` through core-config.

use std::net::SocketAddr;
use std::path::PathBuf;

use core_config::{AppEnv, Loader, ProductionRules};
use core_error::{Error, Result};
use core_log::LogSettings;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Overrides `server.bind_addr` (`BIND_ADDR=127.0.0.1:0` lets the OS pick a
/// free port; the real one is printed).
pub const BIND_ADDR_VAR: &str = "BIND_ADDR";
/// Overrides the folder the settings are read from.
pub const CONFIG_DIR_VAR: &str = "APP_CONFIG_DIR";

/// The `server` section: where to listen and how to treat requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Where to listen; `BIND_ADDR` overrides it. Default `127.0.0.1:8080`.
    pub bind_addr: String,
    /// Requests running longer are answered 408; 0: no deadline (one
    /// timer less per request, for a service whose proxy keeps the
    /// deadline). Default 30 000 ms.
    pub request_timeout_ms: u64,
    /// Each dependency checked by `/ready` must answer within this. Default 2 000 ms.
    pub ready_timeout_ms: u64,
    /// After SIGTERM, how long `/ready` answers 503 while requests are still
    /// served, before the listener closes: the time a load balancer needs to
    /// stop sending new ones. Default 0.
    pub drain_delay_ms: u64,
    /// In-flight requests get this long to finish after SIGTERM. Default 10 000 ms.
    pub shutdown_timeout_ms: u64,
    /// Largest request body accepted; a bigger one is answered 413 (at
    /// once when its Content-Length says so). Default 2 MiB.
    pub max_body_bytes: usize,
    /// Requests handled at once; past it a request is answered 503 with
    /// `Retry-After` at once instead of queueing (0: no limit). Default 1 024.
    pub max_concurrent_requests: usize,
    /// Cross-origin requests.
    pub cors: CorsSettings,
    /// A per-client limit on the service's own routes (off by default).
    pub rate_limit: crate::RateLimitSettings,
    /// The standard layers around the service's routes (request id, trace
    /// context, access log and HTTP metrics, CORS, limits, panic answer,
    /// rate limit). Default true. False only to measure what they cost
    /// (`scripts/peers.sh`); refused in prod.
    pub standard_layers: bool,
}

impl Default for ServerSettings {
    fn default() -> ServerSettings {
        ServerSettings {
            bind_addr: "127.0.0.1:8080".to_string(),
            request_timeout_ms: 30_000,
            ready_timeout_ms: 2_000,
            drain_delay_ms: 0,
            shutdown_timeout_ms: 10_000,
            max_body_bytes: 2 * 1024 * 1024,
            max_concurrent_requests: 1024,
            cors: CorsSettings::default(),
            rate_limit: crate::RateLimitSettings::default(),
            standard_layers: true,
        }
    }
}

/// The `server.cors` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser (`https://app.example.com`);
    /// `*` allows any and is refused in prod. Empty: no cross-origin access.
    /// From the environment as a comma-separated list
    /// (`APP__SERVER__CORS__ALLOWED_ORIGINS=https://a,https://b`).
    pub allowed_origins: Vec<String>,
}

impl ServerSettings {
    /// `ready_timeout_ms` as a duration, for [`Probes::new`](crate::Probes::new).
    pub fn ready_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ready_timeout_ms)
    }

    /// The address to bind: `BIND_ADDR` if set, else `bind_addr`.
    pub fn bind_addr(&self) -> Result<SocketAddr> {
        let (text, key) = match std::env::var(BIND_ADDR_VAR) {
            Ok(value) if !value.trim().is_empty() => (value, BIND_ADDR_VAR),
            _ => (self.bind_addr.clone(), "server.bind_addr"),
        };
        // The value is not repeated: it may have been decrypted from ENC(...).
        text.trim().parse().map_err(|_| {
            Error::invalid_input("this is not a socket address like 127.0.0.1:8080")
                .with_key(key)
                .with_operation("server.bind")
        })
    }
}

/// What the shared plumbing needs from a service's own settings type.
pub trait ServiceSettings: DeserializeOwned {
    /// Whether the service checks JWTs. Prod refuses to start a service that
    /// does without a JWT key; one that does not (the notification worker)
    /// must not be made to hold a key it never uses.
    const USES_JWT: bool = true;

    /// The `log` section.
    fn log(&self) -> &LogSettings;
    /// The `server` section.
    fn server(&self) -> &ServerSettings;
}

/// The settings of `service`, with the environment they were loaded for.
///
/// Read from `APP_CONFIG_DIR` or `configs/<service>/` (relative to the
/// working folder): `config/default.toml`,
/// `config/<env>.toml`, `.env.<env>`, `.secrets`, then `APP__*` variables.
/// `APP_ENV` names the environment; unset, it is `local`. In prod,
/// core-config's production rules apply (among them: no `*` CORS origin, a
/// JWT key unless [`ServiceSettings::USES_JWT`] is false).
pub fn load<S: ServiceSettings>(service: &str) -> Result<(S, AppEnv)> {
    let mut loader = Loader::new()
        .dir(config_dir(service))
        .fallback_env(AppEnv::Local)
        .list_key("server.cors.allowed_origins");
    if !S::USES_JWT {
        loader = loader.production_rules(ProductionRules {
            jwt_key_paths: Vec::new(),
            ..ProductionRules::default()
        });
    }
    let loaded = loader.load::<S>()?;
    let env = loaded.env();
    let settings = loaded.into_settings();
    refuse_bare_in_prod(env, settings.server())?;
    Ok((settings, env))
}

/// Prod never runs without the standard layers.
fn refuse_bare_in_prod(env: AppEnv, server: &ServerSettings) -> Result<()> {
    if env == AppEnv::Prod && !server.standard_layers {
        return Err(Error::invalid_input(
            "server.standard_layers = false leaves requests without ids, logs, metrics and limits; \
             it is for measuring the layers, never for prod",
        )
        .with_key("server.standard_layers")
        .with_operation("config.load"));
    }
    Ok(())
}

fn config_dir(service: &str) -> PathBuf {
    match std::env::var(CONFIG_DIR_VAR) {
        Ok(dir) if !dir.trim().is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("configs").join(service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prod_refuses_a_server_without_its_standard_layers() {
        let bare = ServerSettings {
            standard_layers: false,
            ..ServerSettings::default()
        };
        let err = refuse_bare_in_prod(AppEnv::Prod, &bare).unwrap_err();
        assert_eq!(err.context_value("key"), Some("server.standard_layers"));
        assert!(refuse_bare_in_prod(AppEnv::Local, &bare).is_ok());
        assert!(refuse_bare_in_prod(AppEnv::Prod, &ServerSettings::default()).is_ok());
    }
}
