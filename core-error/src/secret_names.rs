//! Which field and setting names hold secrets.

/// Name fragments that mark a field or setting as holding a secret, matched
/// case-insensitively anywhere in its name (`db_password`, `jwtSecret`).
///
/// One list for the whole SDK: `core-config` hides settings whose names
/// contain one of these, and `core-log` masks log fields the same way.
///
/// ```
/// let name = "DB_PASSWORD".to_ascii_lowercase();
/// assert!(core_error::SECRET_NAME_FRAGMENTS.iter().any(|f| name.contains(f)));
/// ```
pub const SECRET_NAME_FRAGMENTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "credential",
    "private",
    "api_key",
    "apikey",
    "access_key",
    "cookie",
    "authorization",
];
