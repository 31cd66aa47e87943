//! The error type every `core-*` crate returns.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::{ErrorKind, redact_endpoint};

/// A boxed driver error kept as the [`source`](StdError::source) of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from any `core-*` crate: a [`kind`](Error::kind), a message, the
/// context it happened in, and the driver error underneath.
///
/// Built fluently at the place the driver error is mapped:
///
/// ```
/// use core_error::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Unavailable, "connection refused")
///     .with_operation("cache.get")
///     .with_backend("redis")
///     .with_key("user:42")
///     .with_endpoint("redis://:hunter2@10.0.0.7:6379/0");
///
/// assert_eq!(err.code(), "unavailable");
/// assert!(err.is_temporary());
/// assert_eq!(err.context_value("key"), Some("user:42"));
/// let shown = err.to_string();
/// assert!(shown.contains("10.0.0.7:6379"));
/// assert!(!shown.contains("hunter2"));
/// ```
///
/// The driver's own error types never appear in this type's signature, so a
/// backend can change driver versions without breaking its callers; the
/// driver error is still reachable through [`StdError::source`] for logs.
///
/// `Debug` prints what `Display` does, so that `fn main() -> Result<()>`
/// ends with the message and its context rather than a struct dump:
///
/// ```
/// let err = core_error::Error::invalid_input("must be a port").with_key("server.port");
/// assert_eq!(format!("{err:?}"), err.to_string());
/// ```
#[derive(thiserror::Error)]
#[error("{kind}: {message}{context}")]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    temporary: bool,
    /// Set by a retry layer that gave up on it: see [`Error::retries_exhausted`].
    retries_exhausted: bool,
    context: Context,
    #[source]
    source: Option<BoxError>,
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Creates an error of `kind`; it is temporary if the kind usually is.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            message: message.into(),
            temporary: kind.is_temporary(),
            retries_exhausted: false,
            context: Context::default(),
            source: None,
        }
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Unauthenticated`].
    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Unauthenticated, message)
    }

    /// Shorthand for [`ErrorKind::PermissionDenied`].
    pub fn permission_denied(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::PermissionDenied, message)
    }

    /// Shorthand for [`ErrorKind::Timeout`].
    pub fn timeout(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Timeout, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Unavailable, message)
    }

    /// Shorthand for [`ErrorKind::RateLimited`], with the seconds to wait
    /// before trying again in its context (`retry_after_secs`, which an HTTP
    /// service sends as `Retry-After`).
    ///
    /// ```
    /// let err = core_error::Error::rate_limited("too many attempts", 30);
    /// assert_eq!(err.http_status(), 429);
    /// assert_eq!(err.context_value("retry_after_secs"), Some("30"));
    /// ```
    pub fn rate_limited(message: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Error {
        Error::new(ErrorKind::RateLimited, message)
            .with_context("retry_after_secs", retry_after_secs)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Unsupported, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// Marks the error as worth retrying, or not, overriding its kind's default.
    ///
    /// ```
    /// use core_error::Error;
    ///
    /// // A serialization failure conflicts now but may well succeed on retry.
    /// let err = Error::conflict("could not serialize access").with_temporary(true);
    /// assert!(err.is_temporary());
    /// ```
    #[must_use]
    pub fn with_temporary(mut self, temporary: bool) -> Error {
        self.temporary = temporary;
        self
    }

    /// Marks the error as one a retry loop already retried until it gave up.
    ///
    /// It stays [temporary](Error::is_temporary) (the server may well come
    /// back, and an API still answers 503), but it is no longer
    /// [retryable](Error::is_retryable): an outer retry layer passes it on
    /// instead of multiplying the attempts, and a message consumer waits its
    /// longest backoff before trying the message again.
    ///
    /// ```
    /// use core_error::Error;
    ///
    /// let err = Error::unavailable("redis is down").with_retries_exhausted();
    /// assert!(err.is_temporary() && !err.is_retryable());
    /// ```
    #[must_use]
    pub fn with_retries_exhausted(mut self) -> Error {
        self.retries_exhausted = true;
        self
    }

    /// Records the operation that failed, such as `"cache.get"` or `"db.execute"`.
    #[must_use]
    pub fn with_operation(self, operation: &'static str) -> Error {
        self.with_context("operation", operation)
    }

    /// Records the backend that failed, such as `"redis"` or `"postgres"`.
    #[must_use]
    pub fn with_backend(self, backend: &'static str) -> Error {
        self.with_context("backend", backend)
    }

    /// Records the key, topic, table or config path the operation was about.
    #[must_use]
    pub fn with_key(self, key: impl Into<String>) -> Error {
        self.with_context("key", key.into())
    }

    /// Records the server the operation talked to.
    ///
    /// Accepts a URL or a bare `host:port`; user names, passwords and query
    /// strings are dropped first, so a connection URL is safe to pass.
    #[must_use]
    pub fn with_endpoint(self, endpoint: &str) -> Error {
        self.with_context("endpoint", redact_endpoint(endpoint))
    }

    /// Records any other fact about where the error happened.
    ///
    /// The value is shown verbatim in `Display`: never pass a secret.
    #[must_use]
    pub fn with_context(mut self, name: &'static str, value: impl fmt::Display) -> Error {
        let value = value.to_string();
        match self
            .context
            .0
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some(slot) => slot.1 = value,
            None => self.context.0.push((name, value)),
        }
        self
    }

    /// Keeps the driver error that caused this one.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable machine-readable code, the same as `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The HTTP status an API answers with, the same as `self.kind().http_status()`.
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }

    /// Whether the same call may succeed if retried.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// Whether a retry loop should try again now: temporary, and not
    /// already given up on by another retry loop ([`Error::with_retries_exhausted`]).
    pub fn is_retryable(&self) -> bool {
        self.temporary && !self.retries_exhausted
    }

    /// Whether a retry loop already gave up on this error.
    pub fn retries_exhausted(&self) -> bool {
        self.retries_exhausted
    }

    /// The human-readable message, without kind or context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The value recorded under `name` by one of the `with_*` methods.
    pub fn context_value(&self, name: &str) -> Option<&str> {
        self.context
            .0
            .iter()
            .find(|(existing, _)| *existing == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every recorded context pair, in the order they were first added.
    pub fn context(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.context
            .0
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        use std::io::ErrorKind as Io;
        let kind = match err.kind() {
            Io::NotFound => ErrorKind::NotFound,
            Io::AlreadyExists => ErrorKind::Conflict,
            Io::PermissionDenied => ErrorKind::PermissionDenied,
            Io::TimedOut | Io::WouldBlock => ErrorKind::Timeout,
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::AddrNotAvailable
            | Io::UnexpectedEof
            | Io::Interrupted => ErrorKind::Unavailable,
            Io::InvalidInput | Io::InvalidData => ErrorKind::InvalidInput,
            Io::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, err.to_string()).with_source(err)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The `name=value` pairs shown after an error's message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Context(Vec<(&'static str, String)>);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (name, value)) in self.0.iter().enumerate() {
            let separator = if index == 0 { " (" } else { ", " };
            write!(f, "{separator}{name}={value}")?;
        }
        if !self.0.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}
