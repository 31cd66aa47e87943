//! What the API sends and receives, and the checks on what it receives.
//!
//! The requests that carry a password or a token derive no `Debug`, so
//! that none can end up in a log line.

use core_sdk::auth::tokens::TokenPair;
use serde::{Deserialize, Serialize};

use core_sdk::web::ApiError;

/// The roles a user can hold; `auth.rbac.roles` grants their permissions.
pub(crate) const ROLES: [&str; 2] = ["admin", "user"];
/// The role every registered user gets.
pub(crate) const DEFAULT_ROLE: &str = "user";

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) roles: Vec<String>,
    /// RFC 3339.
    pub(crate) created_at: String,
    /// RFC 3339.
    pub(crate) updated_at: String,
}

/// `POST /api/v1/auth/register`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) password: String,
}

/// `POST /api/v1/users/` (admin): a registration that may name roles.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) password: String,
    pub(crate) roles: Option<Vec<String>>,
}

/// `PUT /api/v1/users/{id}`: the fields to change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateUserRequest {
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) roles: Option<Vec<String>>,
}

/// `POST /api/v1/auth/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: String,
}

/// `POST /api/v1/auth/refresh` and `/logout`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    #[serde(default)]
    pub(crate) refresh_token: String,
}

/// The answer to login and refresh.
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> TokenResponse {
        TokenResponse {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "bearer",
            expires_in: pair.expires_in,
        }
    }
}

/// `GET /api/v1/users?page=&size=`: pages count from 1.
#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) page: Option<String>,
    pub(crate) size: Option<String>,
}

/// One page of users.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    pub(crate) items: Vec<User>,
    pub(crate) page: u32,
    pub(crate) size: u32,
    pub(crate) total: u64,
}

/// A user name: 3 to 32 of `a-z 0-9 . _ -`, compared in lowercase.
pub(crate) fn username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() {
        return Err(ApiError::invalid_field("username", "is required"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !(3..=32).contains(&name.len()) || !name.chars().all(allowed) {
        return Err(ApiError::invalid_field(
            "username",
            "must be 3 to 32 letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(name)
}

/// An e-mail address, in lowercase: something@domain.tld, at most 254 bytes.
pub(crate) fn email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(ApiError::invalid_field("email", "is required"));
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').all(|label| !label.is_empty())
                && domain.contains('.')
        });
    if !valid {
        return Err(ApiError::invalid_field("email", "is not an e-mail address"));
    }
    Ok(email)
}

/// Role names, each one of [`ROLES`], without repeats.
pub(crate) fn roles(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut roles: Vec<String> = Vec::new();
    for role in raw {
        let role = role.trim().to_lowercase();
        if !ROLES.contains(&role.as_str()) {
            return Err(ApiError::invalid_field(
                "roles",
                format!(
                    "unknown role {role:?}; expected one of {}",
                    ROLES.join(", ")
                ),
            ));
        }
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(ApiError::invalid_field(
            "roles",
            "must name at least one role",
        ));
    }
    Ok(roles)
}

/// A page number or size from the query string, within `1..=max`.
pub(crate) fn page_number(
    field: &str,
    raw: Option<&str>,
    default: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<u32>() {
        Ok(value) if (1..=max).contains(&value) => Ok(value),
        _ => Err(ApiError::invalid_field(
            field,
            format!("must be a whole number from 1 to {max}"),
        )),
    }
}
