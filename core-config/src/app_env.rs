//! Which deployment environment a service runs in.

use std::fmt;
use std::str::FromStr;

use core_error::{Error, Result};

/// The variable that names the environment, read from the process
/// environment first and from `.secrets` second.
pub const APP_ENV_VAR: &str = "APP_ENV";

/// A deployment environment.
///
/// Parsed case-insensitively; `development` and `production` are accepted as
/// aliases of `dev` and `prod`. Anything else is an error that names the value
/// and the allowed list: an unknown name never falls back to `dev`.
///
/// ```
/// use core_config::AppEnv;
///
/// assert_eq!("production".parse::<AppEnv>().unwrap(), AppEnv::Prod);
/// assert_eq!("Dev".parse::<AppEnv>().unwrap(), AppEnv::Dev);
/// let err = "qa".parse::<AppEnv>().unwrap_err();
/// assert!(err.to_string().contains("\"qa\""));
/// assert!(err.to_string().contains("local, dev, test, staging, prod"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppEnv {
    /// A developer's machine.
    Local,
    /// A shared development deployment.
    Dev,
    /// Automated tests.
    Test,
    /// Pre-production.
    Staging,
    /// Production: the production validation rules apply.
    Prod,
}

impl AppEnv {
    /// Every environment, in the order they are listed in messages.
    pub const ALL: [AppEnv; 5] = [
        AppEnv::Local,
        AppEnv::Dev,
        AppEnv::Test,
        AppEnv::Staging,
        AppEnv::Prod,
    ];

    /// The canonical name, used in file names (`config/prod.toml`, `.env.prod`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AppEnv::Local => "local",
            AppEnv::Dev => "dev",
            AppEnv::Test => "test",
            AppEnv::Staging => "staging",
            AppEnv::Prod => "prod",
        }
    }

    /// The other names accepted for this environment (`production` for
    /// `prod`). Files are never named after them.
    pub const fn aliases(self) -> &'static [&'static str] {
        match self {
            AppEnv::Dev => &["development"],
            AppEnv::Prod => &["production"],
            _ => &[],
        }
    }

    /// Whether the production rules apply.
    pub const fn is_production(self) -> bool {
        matches!(self, AppEnv::Prod)
    }

    fn allowed_list() -> String {
        AppEnv::ALL.map(AppEnv::as_str).join(", ")
    }
}

impl FromStr for AppEnv {
    type Err = Error;

    fn from_str(value: &str) -> Result<AppEnv> {
        let normalized = value.trim().to_ascii_lowercase();
        let env = match normalized.as_str() {
            "local" => AppEnv::Local,
            "dev" | "development" => AppEnv::Dev,
            "test" => AppEnv::Test,
            "staging" => AppEnv::Staging,
            "prod" | "production" => AppEnv::Prod,
            _ => {
                return Err(Error::invalid_input(format!(
                    "unknown environment {value:?}; expected one of {} \
                     (or the aliases development, production)",
                    AppEnv::allowed_list()
                ))
                .with_key(APP_ENV_VAR)
                .with_operation("config.select_env"));
            }
        };
        Ok(env)
    }
}

impl fmt::Display for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AppEnv;

    #[test]
    fn every_canonical_name_round_trips() {
        for env in AppEnv::ALL {
            assert_eq!(env.as_str().parse::<AppEnv>().unwrap(), env);
        }
    }

    #[test]
    fn empty_is_an_error_not_a_default() {
        assert!("".parse::<AppEnv>().is_err());
    }
}
