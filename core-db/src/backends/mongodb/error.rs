//! Mapping `mongodb` errors into the shared kinds.

use core_error::{Error, ErrorKind};
use mongodb::error::{Error as MongoError, ErrorKind as MongoKind, WriteFailure};

use crate::Backend;

/// Maps a driver error, recording which operation and collection it was about.
pub(crate) fn map(err: MongoError, operation: &'static str, collection: &str) -> Error {
    // rustls' verdict travels as text inside the I/O or server-selection
    // error; a certificate problem is said plainly and not retried.
    let (kind, temporary, message) = match core_error::TlsFailure::classify(&err.to_string()) {
        Some(failure) => (
            ErrorKind::Unavailable,
            failure.is_temporary(),
            std::borrow::Cow::Owned(failure.describe("MongoDB")),
        ),
        None => {
            let (kind, temporary, message) = classify(&err);
            (kind, temporary, std::borrow::Cow::Borrowed(message))
        }
    };
    let mut mapped = Error::new(kind, message)
        .with_temporary(temporary)
        .with_operation(operation)
        .with_backend(Backend::MongoDb.name());
    if !collection.is_empty() {
        mapped = mapped.with_key(collection);
    }
    if let Some(code) = code_of(&err) {
        mapped = mapped.with_context("code", code);
    }
    mapped.with_source(err)
}

/// The server's error code, from whichever shape the error came in.
pub(crate) fn code_of(err: &MongoError) -> Option<i32> {
    match err.kind.as_ref() {
        MongoKind::Command(command) => Some(command.code),
        MongoKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        MongoKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        MongoKind::InsertMany(many) => many
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|first| first.code)
            .or_else(|| {
                many.write_concern_error
                    .as_ref()
                    .map(|concern| concern.code)
            }),
        _ => None,
    }
}

type Class = (ErrorKind, bool, &'static str);

fn class(kind: ErrorKind, message: &'static str) -> Class {
    (kind, kind.is_temporary(), message)
}

fn classify(err: &MongoError) -> Class {
    match err.kind.as_ref() {
        MongoKind::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            return class(ErrorKind::Timeout, "MongoDB did not answer in time");
        }
        MongoKind::Io(_)
        | MongoKind::ConnectionPoolCleared { .. }
        | MongoKind::ServerSelection { .. }
        | MongoKind::DnsResolve { .. } => {
            return class(
                ErrorKind::Unavailable,
                "MongoDB is unreachable or has no usable server",
            );
        }
        MongoKind::Shutdown => {
            return (
                ErrorKind::Unavailable,
                false,
                "the MongoDB client was shut down",
            );
        }
        MongoKind::Authentication { .. } => {
            return class(
                ErrorKind::Unauthenticated,
                "MongoDB rejected the credentials",
            );
        }
        MongoKind::InvalidArgument { .. } | MongoKind::Transaction { .. } => {
            return class(ErrorKind::InvalidInput, "the request is invalid");
        }
        MongoKind::BsonDeserialization(_) => {
            return class(
                ErrorKind::InvalidInput,
                "a document does not match the type it was read into",
            );
        }
        MongoKind::BsonSerialization(_) => {
            return class(
                ErrorKind::InvalidInput,
                "a value could not be encoded as BSON",
            );
        }
        MongoKind::SessionsNotSupported | MongoKind::IncompatibleServer { .. } => {
            return class(
                ErrorKind::Unsupported,
                "the MongoDB server does not support this operation",
            );
        }
        _ => {}
    }
    if let Some(found) = code_of(err).and_then(by_code) {
        return found;
    }
    if err.contains_label("TransientTransactionError") {
        return (
            ErrorKind::Conflict,
            true,
            "the transaction met a transient conflict; running it again may succeed",
        );
    }
    class(ErrorKind::Internal, "MongoDB failed the operation")
}

fn by_code(code: i32) -> Option<Class> {
    Some(match code {
        11000 | 11001 | 12582 => class(
            ErrorKind::Conflict,
            "a document with this unique key already exists",
        ),
        112 | 24 | 251 => (
            ErrorKind::Conflict,
            true,
            "a concurrent transaction won; running it again may succeed",
        ),
        50 | 262 => class(ErrorKind::Timeout, "the operation ran past its time limit"),
        18 => class(
            ErrorKind::Unauthenticated,
            "MongoDB rejected the credentials",
        ),
        13 | 8000 => class(
            ErrorKind::PermissionDenied,
            "the MongoDB user may not do this",
        ),
        26 => class(
            ErrorKind::NotFound,
            "the collection or namespace does not exist",
        ),
        2 | 9 | 14 | 40 | 52 | 66 | 121 => class(
            ErrorKind::InvalidInput,
            "the filter, update or document is invalid",
        ),
        91 | 189 | 10107 | 11600 | 11602 | 13435 | 13436 => class(
            ErrorKind::Unavailable,
            "the MongoDB server is stepping down or shutting down",
        ),
        _ => return None,
    })
}
