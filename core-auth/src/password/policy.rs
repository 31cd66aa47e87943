//! What a new password must satisfy.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use core_error::{Error, Result};
use serde::Deserialize;

/// A small list of the most common passwords, lowercased on load.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn common_passwords() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(|line| line.trim().to_lowercase())
            .filter(|line| !line.is_empty())
            .collect()
    })
}

/// The configurable rules of a [`PasswordPolicy`].
///
/// The defaults follow NIST SP 800-63B: a length range and a check against
/// common passwords, with no composition rules (they make passwords harder
/// to remember, not to guess); turn those on where a regulation demands them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Fewest characters. Default 12.
    pub min_length: usize,
    /// Most characters. Default 128.
    pub max_length: usize,
    /// Refuse passwords on the embedded list of common ones. Default true.
    pub reject_common: bool,
    /// Refuse passwords containing the user name or e-mail (when given). Default true.
    pub reject_user_inputs: bool,
    /// Require a lowercase letter. Default false.
    pub require_lowercase: bool,
    /// Require an uppercase letter. Default false.
    pub require_uppercase: bool,
    /// Require a digit. Default false.
    pub require_digit: bool,
    /// Require a character that is neither a letter nor a digit. Default false.
    pub require_symbol: bool,
    /// Fewest distinct characters. Default 4 (refuses `aaaaaaaaaaaa`).
    pub min_distinct: usize,
}

impl Default for PolicySettings {
    fn default() -> PolicySettings {
        PolicySettings {
            min_length: 12,
            max_length: 128,
            reject_common: true,
            reject_user_inputs: true,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
            min_distinct: 4,
        }
    }
}

/// A rule of the service's own: `Some(reason)` when the password breaks it.
pub type CustomRule = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Checks new passwords against [`PolicySettings`] and custom rules.
///
/// The error lists every broken rule and never the password.
///
/// ```
/// use core_auth::password::{PasswordPolicy, PolicySettings};
/// use core_auth::ErrorKind;
///
/// let policy = PasswordPolicy::new(PolicySettings::default())
///     .with_rule(|password| password.contains("acme").then(|| "must not contain the company name".into()));
///
/// assert!(policy.check("violet tractor umbrella", &["ada@example.com"]).is_ok());
///
/// let err = policy.check("Password123", &[]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("at least 12 characters"));
/// assert!(err.to_string().contains("too common"));
/// assert!(!err.to_string().contains("Password123"));
///
/// assert!(policy.check("my acme password 7", &[]).is_err());
/// ```
#[derive(Clone, Default)]
pub struct PasswordPolicy {
    settings: PolicySettings,
    rules: Vec<CustomRule>,
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("settings", &self.settings)
            .field("custom_rules", &self.rules.len())
            .finish()
    }
}

impl PasswordPolicy {
    /// A policy enforcing `settings`.
    pub fn new(settings: PolicySettings) -> PasswordPolicy {
        PasswordPolicy {
            settings,
            rules: Vec::new(),
        }
    }

    /// Adds a rule of the service's own.
    #[must_use]
    pub fn with_rule(
        mut self,
        rule: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> PasswordPolicy {
        self.rules.push(Arc::new(rule));
        self
    }

    /// Every rule `password` breaks, as sentences; empty when it passes.
    ///
    /// `user_inputs` are the account's user name, e-mail and the like; the
    /// password may not contain any of them (nor an e-mail's local part).
    pub fn violations(&self, password: &str, user_inputs: &[&str]) -> Vec<String> {
        let s = &self.settings;
        let mut broken = Vec::new();
        let length = password.chars().count();
        if length < s.min_length {
            broken.push(format!("must be at least {} characters long", s.min_length));
        }
        if length > s.max_length {
            broken.push(format!("must be at most {} characters long", s.max_length));
        }
        let lowered = password.to_lowercase();
        if s.reject_common && common_passwords().contains(&lowered) {
            broken.push("is too common".to_string());
        }
        if s.reject_user_inputs && contains_user_input(&lowered, user_inputs) {
            broken.push("must not contain the user name or e-mail".to_string());
        }
        let has = |test: fn(char) -> bool| password.chars().any(test);
        if s.require_lowercase && !has(char::is_lowercase) {
            broken.push("must contain a lowercase letter".to_string());
        }
        if s.require_uppercase && !has(char::is_uppercase) {
            broken.push("must contain an uppercase letter".to_string());
        }
        if s.require_digit && !has(char::is_numeric) {
            broken.push("must contain a digit".to_string());
        }
        if s.require_symbol && !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            broken.push("must contain a character that is not a letter or digit".to_string());
        }
        let distinct: HashSet<char> = password.chars().collect();
        if distinct.len() < s.min_distinct {
            broken.push(format!(
                "must use at least {} different characters",
                s.min_distinct
            ));
        }
        broken.extend(self.rules.iter().filter_map(|rule| rule(password)));
        broken
    }

    /// `Ok` when `password` passes every rule.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming every
    /// broken rule (key `password`), never the password itself.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<()> {
        let broken = self.violations(password, user_inputs);
        if broken.is_empty() {
            return Ok(());
        }
        Err(
            Error::invalid_input(format!("the password {}", broken.join("; ")))
                .with_operation("auth.password_policy")
                .with_key("password"),
        )
    }
}

fn contains_user_input(lowered_password: &str, user_inputs: &[&str]) -> bool {
    user_inputs.iter().any(|input| {
        let input = input.trim().to_lowercase();
        let local = input.split('@').next().unwrap_or_default();
        [input.as_str(), local]
            .iter()
            .any(|part| part.chars().count() >= 3 && lowered_password.contains(part))
    })
}
