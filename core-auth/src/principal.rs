//! Who is making a request, once their credentials have been checked.

use crate::jwt::Claims;

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An access token; its id and login session (family).
    AccessToken {
        /// The token's `jti`.
        token_id: String,
        /// The token family (login session), if any.
        family: Option<String>,
    },
    /// An API key, by its public id.
    ApiKey {
        /// The key's id (the visible part, not the secret).
        key_id: String,
    },
}

/// An authenticated caller: a subject, its roles and its scopes.
///
/// ```
/// use core_auth::Principal;
///
/// let principal = Principal::new("user-42").with_roles(["editor"]);
/// assert_eq!(principal.subject, "user-42");
/// assert!(principal.roles.contains(&"editor".to_string()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user or service id.
    pub subject: String,
    /// Role names; [`Rbac`](crate::rbac::Rbac) resolves them to permissions.
    pub roles: Vec<String>,
    /// Permission patterns granted directly (API key scopes, token scopes).
    pub scopes: Vec<String>,
    /// How the principal authenticated.
    pub kind: PrincipalKind,
}

impl Principal {
    /// A principal with no roles or scopes, as if from an access token
    /// without an id; useful in tests and for internal callers.
    pub fn new(subject: impl Into<String>) -> Principal {
        Principal {
            subject: subject.into(),
            roles: Vec::new(),
            scopes: Vec::new(),
            kind: PrincipalKind::AccessToken {
                token_id: String::new(),
                family: None,
            },
        }
    }

    /// Sets the roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Principal
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl From<Claims> for Principal {
    fn from(claims: Claims) -> Principal {
        Principal {
            subject: claims.sub,
            roles: claims.roles,
            scopes: claims.scopes,
            kind: PrincipalKind::AccessToken {
                token_id: claims.jti,
                family: claims.fam,
            },
        }
    }
}
