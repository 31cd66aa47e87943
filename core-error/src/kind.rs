//! The closed set of error kinds every backend maps its driver errors into.

use std::fmt;

/// What went wrong, in terms a caller can act on.
///
/// Every `core-*` crate maps its driver's errors into one of these kinds, so a
/// service handles "not found" or "try again later" the same way whether the
/// value lives in PostgreSQL, Redis or Kafka.
///
/// ```
/// use core_error::ErrorKind;
///
/// assert_eq!(ErrorKind::NotFound.code(), "not_found");
/// assert_eq!(ErrorKind::Unavailable.http_status(), 503);
/// assert!(ErrorKind::Timeout.is_temporary());
/// assert!(!ErrorKind::InvalidInput.is_temporary());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The key, row, message or resource does not exist.
    NotFound,
    /// The thing being created exists already, or a concurrent change won
    /// (unique violation, failed compare-and-set, serialization failure).
    Conflict,
    /// The caller sent something malformed or out of range.
    InvalidInput,
    /// No valid credentials were presented.
    Unauthenticated,
    /// The credentials are valid but do not allow this operation.
    PermissionDenied,
    /// The operation did not finish within its deadline.
    Timeout,
    /// The server or a resource it needs cannot be reached right now.
    Unavailable,
    /// The caller sent too much too fast (a rate limit, a login lock-out);
    /// worth retrying after the `retry_after_secs` its context names.
    RateLimited,
    /// The backend does not offer this operation.
    Unsupported,
    /// A bug or an unexpected state; not the caller's fault.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::InvalidInput,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::RateLimited,
        ErrorKind::Unsupported,
        ErrorKind::Internal,
    ];

    /// The stable, machine-readable code of this kind.
    ///
    /// Codes are part of the public contract: services put them in HTTP
    /// bodies and dashboards group by them, so they never change.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status code an API answers with for this kind.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::InvalidInput => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::Timeout => 504,
            ErrorKind::Unavailable => 503,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unsupported => 501,
            ErrorKind::Internal => 500,
        }
    }

    /// Whether an error of this kind is temporary unless said otherwise.
    ///
    /// Timeouts, unavailable servers and rate limits are worth retrying
    /// (the last after the wait it names); everything else
    /// fails the same way the second time. A single error may override this
    /// (a serialization failure is a [`Conflict`](ErrorKind::Conflict) that
    /// *is* worth retrying), see [`Error::temporary`](crate::Error::temporary).
    pub const fn is_temporary(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::RateLimited
        )
    }

    /// Looks a kind up by its [`code`](ErrorKind::code).
    ///
    /// ```
    /// use core_error::ErrorKind;
    ///
    /// assert_eq!(ErrorKind::from_code("conflict"), Some(ErrorKind::Conflict));
    /// assert_eq!(ErrorKind::from_code("teapot"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
