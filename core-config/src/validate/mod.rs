//! Validation at load: every violation is collected and reported together.

mod production;
mod report;
pub mod rules;

pub use production::{ALLOW_PLAINTEXT_SETTING, ProductionRules};
pub use report::{Violation, Violations};

use crate::{AppEnv, ConfigTree};

/// A check run on the effective settings at every load and reload.
///
/// Any `Fn(&ConfigTree, AppEnv, &mut Violations)` is a rule, so a service adds
/// its own with a closure:
///
/// ```
/// use core_config::{AppEnv, ConfigTree, Loader, Violations};
///
/// let loader = Loader::new().rule(|tree: &ConfigTree, _env: AppEnv, out: &mut Violations| {
///     if tree.get_i64("pool.min") > tree.get_i64("pool.max") {
///         out.push("pool.min", "must not exceed pool.max");
///     }
/// });
/// # drop(loader);
/// ```
pub trait Rule: Send + Sync {
    /// Adds a [`Violation`] for everything wrong with `tree`.
    fn check(&self, tree: &ConfigTree, env: AppEnv, violations: &mut Violations);
}

impl<F> Rule for F
where
    F: Fn(&ConfigTree, AppEnv, &mut Violations) + Send + Sync,
{
    fn check(&self, tree: &ConfigTree, env: AppEnv, violations: &mut Violations) {
        self(tree, env, violations);
    }
}
