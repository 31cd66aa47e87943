//! Layered, typed, validated configuration for services built on the SDK.
//!
//! A service defines its own `#[derive(Deserialize)]` settings struct, nesting
//! the sections of the SDK crates it uses (each crate defines its own section
//! where it lives), and loads it with one call:
//!
//! ```no_run
//! use secrecy::SecretString;
//!
//! #[derive(serde::Deserialize)]
//! struct Settings {
//!     server: Server,
//!     database: Database,
//! }
//! #[derive(serde::Deserialize)]
//! struct Server { port: u16 }
//! #[derive(serde::Deserialize)]
//! struct Database { url: core_config::ConnectionUrl, password: SecretString }
//!
//! let settings: Settings = core_config::load()?;
//! # Ok::<(), core_error::Error>(())
//! ```
//!
//! - **Sources** ([`Loader`]), lowest to highest: defaults,
//!   `config/default.*`, `config/<env>.*`, flat variables ([`FlatKeys`],
//!   opt-in), `.env.<env>`, etcd ([`EtcdSettings`], feature `etcd`),
//!   `.secrets`, the process environment (`APP__SECTION__KEY`). Each value
//!   remembers its [`Origin`].
//! - **Environment** ([`AppEnv`]): `APP_ENV` from the process environment,
//!   else from `.secrets`; an unknown name is an error.
//! - **Encrypted values** ([`encrypt`], [`decrypt`], [`rotate_file`]): any
//!   text value may be `ENC(...)`, AES-256-GCM under `AES_SECRET`, decrypted
//!   at load.
//! - **Validation** ([`Rule`], [`rules`], [`ProductionRules`]): every
//!   violation is reported at once, in [`Violations`].
//! - **Connection URLs** ([`ConnectionUrl`]) whose passwords never print.
//! - **Echo** ([`Echo`]): the redacted effective configuration with sources.
//! - **Hot reload** (feature `reload`, [`Loader::watch`], or
//!   [`Loader::watch_if_enabled`] following the `config.watch` setting).
//! - **CLI** (feature `cli`): the `core-config` binary.
// On docs.rs (nightly, `--cfg docsrs`): each item marked with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app_env;
mod config_error;
mod connection;
mod crypto;
mod decrypting;
mod echo;
mod loader;
#[cfg(feature = "reload")]
mod reload;
mod section;
mod sensitive;
mod source;
mod tree;
mod validate;

pub use app_env::{APP_ENV_VAR, AppEnv};
pub use connection::{ConnectionUrl, Driver, Host};
pub use core_error::{Error, ErrorKind, Result};
pub use crypto::{
    AES_SECRET_VAR, AesKey, EncError, EncValue, NONCE_LEN, Rotation, TAG_LEN, decrypt, encrypt,
    is_enc, rotate_file,
};
pub use echo::{Echo, EchoEntry};
pub use loader::{CONFIG_FOLDER, DEFAULT_PREFIX, Loaded, Loader, SECRETS_FILE, load};
#[cfg(feature = "reload")]
pub use reload::{ReloadStatus, Watched};
pub use section::{ConfigSection, ECHO_SETTING, WATCH_SETTING};
#[cfg(feature = "etcd")]
pub use source::{EtcdDiff, EtcdListing, EtcdStore};
pub use source::{EtcdSettings, FlatKeys, FlatValue, Origin};
pub use tree::{ConfigTree, Leaf};
pub use validate::{ALLOW_PLAINTEXT_SETTING, ProductionRules, Rule, Violation, Violations, rules};
