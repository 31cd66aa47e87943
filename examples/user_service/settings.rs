//! The user service's settings: one section per building block, plus the
//! service's own (`users`, `admin`).

use std::num::NonZeroU32;

use core_sdk::auth::AuthSettings;
use core_sdk::cache::CacheSettings;
use core_sdk::config::ConfigSection;
use core_sdk::db::DatabaseSettings;
use core_sdk::log::LogSettings;
use core_sdk::mq::MqSettings;
use secrecy::SecretString;
use serde::Deserialize;

use core_sdk::web::{ServerSettings, ServiceSettings};

/// Everything the service reads from `configs/user_service/` and `APP__*`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    pub(crate) config: ConfigSection,
    pub(crate) server: ServerSettings,
    pub(crate) log: LogSettings,
    pub(crate) database: DatabaseSettings,
    pub(crate) cache: CacheSettings,
    pub(crate) mq: MqSettings,
    pub(crate) auth: AuthSettings,
    pub(crate) users: UsersSettings,
    pub(crate) admin: AdminSettings,
}

impl ServiceSettings for Settings {
    fn log(&self) -> &LogSettings {
        &self.log
    }

    fn server(&self) -> &ServerSettings {
        &self.server
    }
}

/// The `users` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct UsersSettings {
    /// How long a user read stays cached. Default 300 s.
    pub(crate) cache_ttl_secs: u64,
    /// The largest page `GET /api/v1/users` returns. Default 100; zero is
    /// refused when the settings load.
    pub(crate) max_page_size: NonZeroU32,
    /// The topic `user.registered` events go to. Default `user.registered`.
    pub(crate) registered_topic: String,
}

impl Default for UsersSettings {
    fn default() -> UsersSettings {
        UsersSettings {
            cache_ttl_secs: 300,
            max_page_size: NonZeroU32::new(100).expect("100 is not zero"),
            registered_topic: "user.registered".to_string(),
        }
    }
}

/// The `admin` section: the administrator created at start-up when its
/// password is set (`APP__ADMIN__PASSWORD`, from a secret store or
/// `.secrets`) and no user has its name yet. Without a password, no admin
/// is created.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AdminSettings {
    /// Default `admin`.
    pub(crate) username: String,
    /// Default `admin@example.com`.
    pub(crate) email: String,
    /// Default none: no bootstrap admin.
    pub(crate) password: Option<SecretString>,
}

impl Default for AdminSettings {
    fn default() -> AdminSettings {
        AdminSettings {
            username: "admin".to_string(),
            email: "admin@example.com".to_string(),
            password: None,
        }
    }
}
