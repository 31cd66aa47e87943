//! The service's word on what a subject holds now.

use async_trait::async_trait;
use core_error::Result;

/// A subject's current roles and scopes, as the service's user store says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectRights {
    /// Role names, as [`Claims::roles`](crate::jwt::Claims::roles).
    pub roles: Vec<String>,
    /// Permission patterns granted directly.
    pub scopes: Vec<String>,
}

/// Where [`TokenService::refresh`](super::TokenService::refresh) looks up a
/// subject before issuing its next pair, so that a session never carries
/// more than the user holds now.
///
/// ```
/// use core_auth::tokens::{SubjectDirectory, SubjectRights};
///
/// struct Users;
///
/// #[async_trait::async_trait]
/// impl SubjectDirectory for Users {
///     async fn current_rights(&self, subject: &str) -> core_error::Result<Option<SubjectRights>> {
///         // Read the user's row; None when it is gone or disabled.
///         Ok((subject == "user-42").then(|| SubjectRights {
///             roles: vec!["user".into()],
///             scopes: vec![],
///         }))
///     }
/// }
/// ```
#[async_trait]
pub trait SubjectDirectory: Send + Sync + 'static {
    /// The rights `subject` holds now; `None` when it no longer exists or
    /// may not log in (disabled), which ends the session.
    ///
    /// # Errors
    ///
    /// The store's errors; the refresh then fails with them and the
    /// refresh token stays retired.
    async fn current_rights(&self, subject: &str) -> Result<Option<SubjectRights>>;
}
