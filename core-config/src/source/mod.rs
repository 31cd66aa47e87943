//! Where settings come from, and the tag each value carries saying so.
//!
//! Lowest to highest precedence:
//!
//! 1. built-in defaults given to the [`Loader`](crate::Loader);
//! 2. `config/default.{toml,yaml,json,ini}`;
//! 3. `config/<env>.{toml,yaml,json,ini}`;
//! 4. `.env.<env>`;
//! 5. `.secrets`;
//! 6. the process environment.
//!
//! Layers 4 to 6 hold variables: `<PREFIX>__DATABASE__PASSWORD` sets
//! `database.password` (the prefix and every nesting step are separated by
//! `__`, and names are lower-cased). Variables without the prefix, such as
//! `APP_ENV` and `AES_SECRET`, never become settings.

mod dotenv;
mod env_vars;
mod files;
mod origin;

pub(crate) use dotenv::{DotenvEntry, pairs, parse_dotenv, read_dotenv};
pub(crate) use env_vars::{EnvVars, setting_key};
pub(crate) use files::FORMATS;
pub(crate) use files::{check_utf8, find_config_file};
pub use origin::Origin;
pub(crate) use origin::Tagged;
