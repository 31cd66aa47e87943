//! How an engine makes itself known to [`connect`](crate::connect): each
//! engine's module in `backends/` declares a [`Registration`] (always
//! compiled, so a URL names it whatever the features), and
//! `backends/mod.rs` lists them, one line each.

use core_error::{Error, Result};
#[allow(unused_imports, reason = "unused when no engine is compiled in")]
use futures::future::BoxFuture;

use crate::{Backend, Capabilities};

/// Opens one pool of a SQL engine for a URL (the primary's or a replica's).
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) type OpenSql =
    for<'a> fn(&'a str, &'a crate::DatabaseSettings) -> BoxFuture<'a, Result<crate::sql::SqlPool>>;

/// Opens a document store from the whole `database` section.
#[cfg(feature = "mongodb")]
pub(crate) type OpenDocument = for<'a> fn(
    &'a crate::DatabaseSettings,
) -> BoxFuture<'a, Result<crate::document::DocumentStore>>;

/// How a compiled-in engine is opened, by data model.
#[derive(Clone, Copy)]
pub(crate) enum Open {
    /// A SQL engine, reached through [`SqlDatabase`](crate::sql::SqlDatabase).
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    Sql(OpenSql),
    /// A document database, reached through
    /// [`DocumentStore`](crate::document::DocumentStore).
    #[cfg(feature = "mongodb")]
    Document(OpenDocument),
}

/// One engine, whether or not its cargo feature is on.
pub(crate) struct Registration {
    pub(crate) backend: Backend,
    /// The URL schemes it answers to, lower case, the first one canonical.
    pub(crate) schemes: &'static [&'static str],
    /// The cargo feature that compiles it.
    pub(crate) feature: &'static str,
    pub(crate) capabilities: Capabilities,
    /// `None` when the feature is off: the scheme is known, and the error
    /// can say which feature adds it.
    pub(crate) open: Option<Open>,
}

impl Registration {
    /// `open`, or the error naming the feature that would compile it in.
    pub(crate) fn open(&self) -> Result<Open> {
        self.open.ok_or_else(|| {
            Error::unsupported(format!(
                "the {} backend is not compiled in; enable the core-db feature `{}`",
                self.backend, self.feature
            ))
            .with_operation("db.connect")
            .with_backend(self.backend.name())
            .with_key("database.url")
        })
    }
}

/// The lower-case scheme of a database URL (`sqlite::memory:` has `sqlite`).
pub(crate) fn scheme_of(url: &str) -> String {
    url.split_once(':')
        .map_or(url, |(scheme, _)| scheme)
        .to_ascii_lowercase()
}

/// The registration whose schemes include `url`'s, from `registry`; `key`
/// names the setting in the error for an unknown scheme, which lists the
/// schemes this build can open and the features of those it cannot.
pub(crate) fn find<'r>(
    registry: &'r [Registration],
    url: &str,
    key: &str,
) -> Result<&'r Registration> {
    let scheme = scheme_of(url);
    registry
        .iter()
        .find(|registration| registration.schemes.contains(&scheme.as_str()))
        .ok_or_else(|| unknown_scheme(registry, &scheme, key))
}

#[cold]
fn unknown_scheme(registry: &[Registration], scheme: &str, key: &str) -> Error {
    let listed = |compiled: bool| {
        registry
            .iter()
            .filter(|registration| registration.open.is_some() == compiled)
            .map(|registration| match compiled {
                true => format!("{}://", registration.schemes.join("://, ")),
                false => format!(
                    "{}:// (feature `{}`)",
                    registration.schemes[0], registration.feature
                ),
            })
            .collect::<Vec<_>>()
    };
    let compiled = listed(true);
    let not_compiled = listed(false);
    let mut message = format!("{key}: unknown database URL scheme {scheme:?}; ");
    if compiled.is_empty() {
        message.push_str("this build has no database engine");
    } else {
        message.push_str(&format!("this build opens {}", compiled.join(", ")));
    }
    if !not_compiled.is_empty() {
        message.push_str(&format!("; not compiled in: {}", not_compiled.join(", ")));
    }
    Error::invalid_input(message)
        .with_operation("db.connect")
        .with_key(key)
}

/// `Some($open)` when `feature` is on, else `None` (and `$open` is never
/// named), as an `Option<Open>`.
macro_rules! when_feature {
    ($feature:literal, $open:expr) => {{
        #[cfg(feature = $feature)]
        let open: Option<$crate::registration::Open> = Some($open);
        #[cfg(not(feature = $feature))]
        let open: Option<$crate::registration::Open> = None;
        open
    }};
}

pub(crate) use when_feature;

#[cfg(test)]
mod tests {
    use super::{Registration, find};
    use crate::{Backend, Capabilities};

    /// A registry whose one engine is not compiled in.
    const WITHOUT_POSTGRES: &[Registration] = &[Registration {
        backend: Backend::Postgres,
        schemes: &["postgres", "postgresql"],
        feature: "postgres",
        capabilities: Capabilities::ALL,
        open: None,
    }];

    #[test]
    fn a_known_engine_that_is_not_compiled_in_names_its_feature() {
        let registration = find(WITHOUT_POSTGRES, "PostgreSQL://db/app", "database.url")
            .expect("the scheme is known, in any case");
        let err = registration.open().err().expect("not compiled in");
        assert_eq!(err.kind(), core_error::ErrorKind::Unsupported);
        assert!(err.to_string().contains("feature `postgres`"), "{err}");
    }

    #[test]
    fn an_unknown_scheme_lists_the_engines_not_compiled_in_with_their_features() {
        let err = find(WITHOUT_POSTGRES, "db2://db/app", "database.url")
            .err()
            .expect("unknown");
        let message = err.to_string();
        assert!(
            message.contains("this build has no database engine"),
            "{message}"
        );
        assert!(
            message.contains("not compiled in: postgres:// (feature `postgres`)"),
            "{message}"
        );
    }
}
