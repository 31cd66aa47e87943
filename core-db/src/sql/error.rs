//! Mapping sqlx errors into the shared kinds.
//!
//! Server error codes are read per engine (SQLSTATE for PostgreSQL, error
//! numbers for MySQL/MariaDB, extended result codes for SQLite). Messages
//! are generic on purpose: a server's own message may quote the row's
//! values (`Duplicate entry 'ann@example.com'`), which belong in logs via
//! [`source`](std::error::Error::source), not in an API answer.

use core_error::{Error, ErrorKind};
use sqlx::error::{DatabaseError, ErrorKind as SqlxKind};

use crate::Backend;

/// Where an error happened, for its context.
pub(crate) struct Site<'a> {
    pub(crate) backend: Backend,
    pub(crate) operation: &'static str,
    /// The statement text (never parameters), if one was running.
    pub(crate) statement: Option<&'a str>,
    /// The pool the call waited on, if any: tells exhaustion from outage.
    pub(crate) pool: Option<&'a super::SqlPool>,
}

/// Maps a driver error, recording which operation and statement it was about.
pub(crate) fn map(err: sqlx::Error, site: &Site<'_>) -> Error {
    let (kind, temporary, message) = classify(&err, site);
    let mut mapped = Error::new(kind, message)
        .with_temporary(temporary)
        .with_operation(site.operation)
        .with_backend(site.backend.name());
    if let Some(statement) = site.statement {
        mapped = mapped.with_key(crate::layers::statement_context(statement));
    }
    if let sqlx::Error::Database(db) = &err {
        if let Some(constraint) = db.constraint() {
            mapped = mapped.with_context("constraint", constraint);
        }
        if let Some(code) = db.code() {
            mapped = mapped.with_context("code", code);
        }
    }
    mapped.with_source(err)
}

type Class = (ErrorKind, bool, &'static str);

fn class(kind: ErrorKind, message: &'static str) -> Class {
    (kind, kind.is_temporary(), message)
}

fn classify(err: &sqlx::Error, site: &Site<'_>) -> Class {
    use sqlx::Error as E;
    match err {
        E::RowNotFound => class(ErrorKind::NotFound, "the query returned no row"),
        E::PoolTimedOut => match site.pool {
            Some(pool) if !pool.is_saturated() => class(
                ErrorKind::Unavailable,
                "no connection to the database could be opened within the acquire timeout",
            ),
            _ => class(
                ErrorKind::Timeout,
                "every pooled connection stayed busy for the whole acquire timeout",
            ),
        },
        E::PoolClosed => (
            ErrorKind::Unavailable,
            false,
            "the connection pool has been closed",
        ),
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            class(ErrorKind::Timeout, "the database did not answer in time")
        }
        // rustls reports a refused certificate through the stream, as I/O.
        E::Tls(tls) => classify_tls(&format!("{tls:?}")),
        E::Io(io) if format!("{io:?}").contains("Certificate") => classify_tls(&format!("{io:?}")),
        E::Io(_) | E::Protocol(_) | E::WorkerCrashed => class(
            ErrorKind::Unavailable,
            "the connection to the database failed or was lost",
        ),
        E::Configuration(_) => class(
            ErrorKind::InvalidInput,
            "the database connection settings are invalid",
        ),
        E::ColumnDecode { .. }
        | E::Decode(_)
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. }
        | E::TypeNotFound { .. } => class(
            ErrorKind::InvalidInput,
            "the row does not match the type it was fetched into",
        ),
        E::Encode(_) => class(ErrorKind::InvalidInput, "a parameter could not be encoded"),
        E::Migrate(_) => class(ErrorKind::Internal, "a migration failed"),
        E::Database(db) => classify_database(db.as_ref(), site.backend),
        _ => class(ErrorKind::Internal, "the database driver failed"),
    }
}

/// A TLS failure, by its cause (the driver's `Debug` text, which names the
/// rustls variant): a certificate problem is not temporary (retrying cannot
/// fix it), so it is not retried forever.
fn classify_tls(cause: &str) -> Class {
    let permanent = |message| (ErrorKind::Unavailable, false, message);
    if cause.contains("UnknownIssuer") {
        permanent(
            "the database's TLS certificate is not trusted (unknown issuer); \
             name the CA that signed it (sslrootcert=, ssl-ca=)",
        )
    } else if cause.contains("NotValidForName") {
        permanent(
            "the database's TLS certificate does not name the host connected to \
             (sslmode=verify-full / ssl-mode=VERIFY_IDENTITY check it)",
        )
    } else if cause.contains("Expired") {
        permanent("the database's TLS certificate has expired")
    } else if cause.contains("CertificateRequired")
        || cause.contains("BadCertificate")
        || cause.contains("UnknownCA")
        || cause.contains("AccessDenied")
    {
        permanent("the database refused the client certificate, or none was sent")
    } else if cause.contains("not support") {
        permanent("the database server does not speak TLS, and the URL requires it")
    } else if cause.contains("No such file") || cause.contains("PEM") || cause.contains("pem") {
        permanent("a TLS certificate or key file named in the URL cannot be read")
    } else {
        class(
            ErrorKind::Unavailable,
            "the TLS handshake with the database failed",
        )
    }
}

fn classify_database(db: &dyn DatabaseError, backend: Backend) -> Class {
    let code = db.code().unwrap_or_default();
    let by_engine = match backend {
        Backend::Postgres => postgres(&code),
        Backend::MySql => mysql(db, &code),
        Backend::Sqlite => sqlite(&code),
        Backend::MongoDb => None,
    };
    if let Some(found) = by_engine {
        return found;
    }
    match db.kind() {
        SqlxKind::UniqueViolation => {
            class(ErrorKind::Conflict, "a row with this key already exists")
        }
        SqlxKind::ForeignKeyViolation => class(
            ErrorKind::Conflict,
            "the change would break a reference between rows",
        ),
        SqlxKind::NotNullViolation | SqlxKind::CheckViolation => class(
            ErrorKind::InvalidInput,
            "a value breaks a constraint of the table",
        ),
        _ => class(ErrorKind::Internal, "the database refused the statement"),
    }
}

/// Retryable conflicts: another transaction won, running again may succeed.
fn lost_race(message: &'static str) -> Class {
    (ErrorKind::Conflict, true, message)
}

fn postgres(sqlstate: &str) -> Option<Class> {
    Some(match sqlstate {
        "23505" => class(ErrorKind::Conflict, "a row with this key already exists"),
        "23503" => class(
            ErrorKind::Conflict,
            "the change would break a reference between rows",
        ),
        "23502" | "23514" => class(
            ErrorKind::InvalidInput,
            "a value breaks a constraint of the table",
        ),
        "40001" => lost_race("a concurrent transaction made this one impossible to serialize"),
        "40P01" => lost_race("the transaction was chosen as a deadlock victim"),
        "55P03" => lost_race("a row or table lock could not be taken"),
        "57014" => class(
            ErrorKind::Timeout,
            "the statement ran past its timeout and was cancelled",
        ),
        "42501" => class(
            ErrorKind::PermissionDenied,
            "the database user may not do this",
        ),
        _ if sqlstate.starts_with("28") => class(
            ErrorKind::Unauthenticated,
            "the database rejected the credentials",
        ),
        _ if sqlstate.starts_with("08")
            || sqlstate.starts_with("53")
            || sqlstate.starts_with("57P") =>
        {
            class(
                ErrorKind::Unavailable,
                "the database is shutting down, starting or out of resources",
            )
        }
        _ if sqlstate.starts_with("22") => class(
            ErrorKind::InvalidInput,
            "a value does not fit its column or operation",
        ),
        _ if sqlstate.starts_with("42") => class(
            ErrorKind::InvalidInput,
            "the statement is invalid or names something that does not exist",
        ),
        _ => return None,
    })
}

fn mysql(db: &dyn DatabaseError, sqlstate: &str) -> Option<Class> {
    #[cfg(feature = "mysql")]
    let number = db
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|err| err.number());
    #[cfg(not(feature = "mysql"))]
    let number: Option<u16> = {
        let _ = db;
        None
    };
    Some(match number? {
        1062 | 1586 => class(ErrorKind::Conflict, "a row with this key already exists"),
        1451 | 1452 => class(
            ErrorKind::Conflict,
            "the change would break a reference between rows",
        ),
        1213 => lost_race("the transaction was chosen as a deadlock victim"),
        1205 => lost_race("a row lock could not be taken in time"),
        1969 | 3024 => class(
            ErrorKind::Timeout,
            "the statement ran past its timeout and was cancelled",
        ),
        1045 => class(
            ErrorKind::Unauthenticated,
            "the database rejected the credentials",
        ),
        1044 | 1142 | 1143 | 1227 => class(
            ErrorKind::PermissionDenied,
            "the database user may not do this",
        ),
        1040 | 1053 | 1927 | 2006 | 2013 => class(
            ErrorKind::Unavailable,
            "the database is shutting down or out of connections",
        ),
        1048 | 1264 | 1292 | 1366 | 1406 | 3819 => class(
            ErrorKind::InvalidInput,
            "a value does not fit its column or breaks a constraint",
        ),
        1054 | 1064 | 1146 | 1149 => class(
            ErrorKind::InvalidInput,
            "the statement is invalid or names something that does not exist",
        ),
        _ if sqlstate == "40001" => lost_race("a concurrent transaction won"),
        _ => return None,
    })
}

fn sqlite(code: &str) -> Option<Class> {
    // Extended result codes; the primary code is the low byte.
    let extended: u32 = code.parse().ok()?;
    Some(match (extended, extended & 0xff) {
        (2067 | 1555, _) => class(ErrorKind::Conflict, "a row with this key already exists"),
        (787, _) => class(
            ErrorKind::Conflict,
            "the change would break a reference between rows",
        ),
        (1299 | 275, _) => class(
            ErrorKind::InvalidInput,
            "a value breaks a constraint of the table",
        ),
        (_, 5 | 6) => lost_race("the database file is locked by another connection"),
        (_, 8) => class(
            ErrorKind::PermissionDenied,
            "the database file is read-only",
        ),
        (_, 13 | 10 | 14) => class(
            ErrorKind::Unavailable,
            "the database file cannot be read or written",
        ),
        (_, 1) => class(
            ErrorKind::InvalidInput,
            "the statement is invalid or names something that does not exist",
        ),
        (_, 20 | 25) => class(
            ErrorKind::InvalidInput,
            "a value does not fit its column or parameter",
        ),
        _ => return None,
    })
}
