//! Where settings come from, and the tag each value carries saying so.
//!
//! Lowest to highest precedence:
//!
//! 1. built-in defaults given to the [`Loader`](crate::Loader);
//! 2. `config/default.{toml,yaml,json,ini}`;
//! 3. `config/<env>.{toml,yaml,json,ini}`;
//! 4. flat variables such as `DB_HOST`, when the loader maps them
//!    ([`FlatKeys`](crate::FlatKeys));
//! 5. `.env.<env>`;
//! 6. etcd, when `config.etcd` names it ([`EtcdSettings`](crate::EtcdSettings));
//! 7. `.secrets`;
//! 8. the process environment.
//!
//! Layers 4, 5, 7 and 8 hold variables: `<PREFIX>__DATABASE__PASSWORD` sets
//! `database.password` (the prefix and every nesting step are separated by
//! `__`, and names are lower-cased). Variables without the prefix, such as
//! `APP_ENV` and `AES_SECRET`, never become settings.

mod dotenv;
mod env_vars;
pub(crate) mod etcd;
mod files;
mod flat_keys;
mod origin;

pub(crate) use dotenv::{DotenvEntry, pairs, parse_dotenv, read_dotenv};
pub(crate) use env_vars::{EnvVars, comma_list, setting_key};
pub use etcd::EtcdSettings;
#[cfg(feature = "etcd")]
pub use etcd::{EtcdDiff, EtcdListing, EtcdStore};
pub(crate) use files::FORMATS;
pub(crate) use files::{check_utf8, find_config_file};
pub use flat_keys::{FlatKeys, FlatValue};
pub use origin::Origin;
pub(crate) use origin::Tagged;

/// Settings already gathered into a map (flat variables, etcd's keys), as a
/// `config` source; each value carries its own origin.
#[derive(Debug, Clone)]
pub(crate) struct Prepared(pub(crate) config::Map<String, config::Value>);

impl config::Source for Prepared {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}
