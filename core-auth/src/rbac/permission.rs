//! Permission names and the patterns that grant them.

use std::fmt;

use core_error::{Error, Result};

/// A permission such as `orders:read`, or a pattern granting many such as
/// `orders:*` or `*`.
///
/// Segments are separated by `:`. A `*` segment matches exactly one segment,
/// except as the last segment, where it matches one or more: `orders:*`
/// grants `orders:read` and `orders:items:delete`, but not `orders` itself.
///
/// ```
/// use core_auth::rbac::Permission;
///
/// let grant = Permission::parse("orders:*").unwrap();
/// assert!(grant.grants(&Permission::parse("orders:read").unwrap()));
/// assert!(grant.grants(&Permission::parse("orders:items:delete").unwrap()));
/// assert!(!grant.grants(&Permission::parse("invoices:read").unwrap()));
/// assert!(Permission::parse("*:read").unwrap().grants(&Permission::parse("users:read").unwrap()));
/// assert!(Permission::parse("orders:re*d").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    segments: Vec<String>,
}

const WILDCARD: &str = "*";

impl Permission {
    /// Parses `text`: segments of ASCII letters, digits, `_`, `-` and `.`,
    /// or a lone `*`, separated by `:`.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the
    /// permission and what is wrong with it.
    pub fn parse(text: &str) -> Result<Permission> {
        let invalid = |why: &str| {
            Error::invalid_input(format!("the permission {text:?} is invalid: {why}"))
                .with_operation("auth.parse_permission")
        };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        let mut segments = Vec::new();
        for segment in text.split(':') {
            if segment.is_empty() {
                return Err(invalid("a segment between colons is empty"));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if segment != WILDCARD && !segment.chars().all(allowed) {
                return Err(invalid(
                    "segments hold letters, digits, '_', '-', '.', or are a lone '*'",
                ));
            }
            segments.push(segment.to_string());
        }
        Ok(Permission { segments })
    }

    /// Whether this permission, read as a pattern, grants `wanted`.
    pub fn grants(&self, wanted: &Permission) -> bool {
        let last = self.segments.len() - 1;
        for (index, granted) in self.segments.iter().enumerate() {
            let Some(asked) = wanted.segments.get(index) else {
                return false;
            };
            if granted == WILDCARD {
                if index == last {
                    return true;
                }
                continue;
            }
            if granted != asked {
                return false;
            }
        }
        self.segments.len() == wanted.segments.len()
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join(":"))
    }
}
