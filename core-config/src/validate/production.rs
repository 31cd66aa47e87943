//! The rules that apply when the environment is `prod`.

use super::{Rule, Violations};
use crate::sensitive::{is_strong_secret_name, last_segment};
use crate::{AppEnv, ConfigTree};

/// Where core-auth reads JWT keys: the one-key shorthand
/// (`APP__AUTH__JWT__SECRET`) and the full key list.
const DEFAULT_JWT_KEY_PATHS: [&str; 2] = ["auth.jwt.secret", "auth.jwt.keys"];

/// What production demands of every service; on by default, checked only
/// when the environment is [`AppEnv::Prod`].
///
/// - no setting named `debug` (at any depth) is on;
/// - no text setting holds a placeholder such as `CHANGE_ME`;
/// - every shared secret (a setting named `secret`, `*_secret`, `token`,
///   `*_token`, `*api_key`, `*signing_key`) is at least
///   [`min_secret_len`](ProductionRules::min_secret_len) bytes;
/// - no setting under a `cors` section allows the origin `*`;
/// - JWT key material is present at one of
///   [`jwt_key_paths`](ProductionRules::jwt_key_paths) (by default core-auth's
///   `auth.jwt.secret` shorthand or a non-empty `auth.jwt.keys` list);
/// - the config echo ([`echo`](ProductionRules::echo)) is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionRules {
    /// Whether these rules run at all in prod.
    pub enabled: bool,
    /// Text that marks a value as never filled in, compared case-insensitively.
    pub placeholders: Vec<String>,
    /// The shortest shared secret accepted, in bytes.
    pub min_secret_len: usize,
    /// Where JWT key material may live; prod requires at least one of these
    /// paths to hold a non-empty value, and reports the violation at the
    /// first. Empty for a service without JWTs.
    pub jwt_key_paths: Vec<String>,
    /// The switch that prints the effective config at start-up.
    pub echo: String,
}

impl Default for ProductionRules {
    fn default() -> ProductionRules {
        ProductionRules {
            enabled: true,
            placeholders: [
                "CHANGE_ME",
                "CHANGEME",
                "REPLACE_ME",
                "PLACEHOLDER",
                "<secret>",
                "<password>",
            ]
            .map(String::from)
            .to_vec(),
            min_secret_len: 32,
            jwt_key_paths: DEFAULT_JWT_KEY_PATHS.map(String::from).to_vec(),
            echo: crate::ECHO_SETTING.to_string(),
        }
    }
}

impl Rule for ProductionRules {
    fn check(&self, tree: &ConfigTree, env: AppEnv, out: &mut Violations) {
        if !self.enabled || !env.is_production() {
            return;
        }
        let placeholders: Vec<String> = self
            .placeholders
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        for (path, leaf) in tree.leaves() {
            let name = last_segment(&path);
            if name.eq_ignore_ascii_case("debug") && leaf.as_bool() == Some(true) {
                out.push(path.clone(), "debug must be off in prod");
            }
            let Some(text) = leaf.as_str() else {
                continue;
            };
            let lower = text.to_ascii_lowercase();
            if placeholders.iter().any(|p| lower.contains(p.as_str())) {
                out.push(path.clone(), "holds a placeholder value; set the real one");
            }
            if is_strong_secret_name(name) && text.len() < self.min_secret_len {
                out.push(
                    path.clone(),
                    format!("secret is shorter than {} bytes", self.min_secret_len),
                );
            }
            let in_cors = path
                .split('.')
                .any(|segment| segment.to_ascii_lowercase().contains("cors"));
            if in_cors && text.split(',').any(|origin| origin.trim() == "*") {
                out.push(
                    path.clone(),
                    "wildcard CORS origin \"*\" is not allowed in prod",
                );
            }
        }
        if let Some(first) = self.jwt_key_paths.first()
            && !self.jwt_key_paths.iter().any(|path| tree.contains(path))
        {
            let message = if self.jwt_key_paths.len() == 1 {
                "JWT key is required in prod".to_string()
            } else {
                format!(
                    "JWT key is required in prod: set one of {}",
                    self.jwt_key_paths.join(", ")
                )
            };
            out.push(first.clone(), message);
        }
        if tree.get_bool(&self.echo) == Some(true) {
            out.push(self.echo.clone(), "config echo must be off in prod");
        }
    }
}
