//! Ready-made rules: required settings, integer ranges, URLs.

use std::ops::RangeInclusive;

use super::{Rule, Violations};
use crate::{AppEnv, ConfigTree};

/// `path` must hold a non-empty value.
///
/// ```
/// use core_config::{AppEnv, Loader, Violations, rules};
///
/// let dir = tempfile::tempdir().unwrap();
/// let err = Loader::new()
///     .dir(dir.path())
///     .env(AppEnv::Dev)
///     .environment::<&str, &str>([])
///     .rule(rules::required("database.url"))
///     .rule(rules::required("cache.url"))
///     .load_untyped()
///     .unwrap_err();
/// let found = Violations::from_error(&err).unwrap();
/// assert!(found.mentions("database.url") && found.mentions("cache.url"));
/// ```
pub fn required(path: impl Into<String>) -> impl Rule {
    let path = path.into();
    move |tree: &ConfigTree, _: AppEnv, out: &mut Violations| {
        if !tree.contains(&path) {
            out.push(path.clone(), "is required but not set");
        }
    }
}

/// `path`, when set, must be an integer within `range`.
pub fn range(path: impl Into<String>, range: RangeInclusive<i64>) -> impl Rule {
    let path = path.into();
    move |tree: &ConfigTree, _: AppEnv, out: &mut Violations| {
        let Some(leaf) = tree.get(&path) else {
            return;
        };
        if leaf.is_empty() {
            return;
        }
        match leaf.as_i64() {
            Some(number) if range.contains(&number) => {}
            Some(_) => out.push(
                path.clone(),
                format!("must be between {} and {}", range.start(), range.end()),
            ),
            None => out.push(path.clone(), "must be an integer"),
        }
    }
}

/// `path`, when set, must be an absolute URL whose scheme is one of `schemes`
/// (any scheme if `schemes` is empty).
pub fn url(path: impl Into<String>, schemes: &[&str]) -> impl Rule {
    let path = path.into();
    let schemes: Vec<String> = schemes.iter().map(|s| s.to_ascii_lowercase()).collect();
    move |tree: &ConfigTree, _: AppEnv, out: &mut Violations| {
        let Some(text) = tree.get(&path).and_then(|leaf| leaf.as_str()) else {
            if tree.contains(&path) {
                out.push(path.clone(), "must be a URL");
            }
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        // The URL may carry a password: the message never repeats it.
        match ::url::Url::parse(text.trim()) {
            Ok(parsed) if schemes.is_empty() || schemes.iter().any(|s| s == parsed.scheme()) => {}
            Ok(parsed) => out.push(
                path.clone(),
                format!(
                    "has scheme {:?}; expected one of {}",
                    parsed.scheme(),
                    schemes.join(", ")
                ),
            ),
            Err(err) => out.push(path.clone(), format!("is not a valid URL ({err})")),
        }
    }
}
