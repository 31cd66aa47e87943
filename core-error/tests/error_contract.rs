//! The promises the shared error type makes to every crate and service.

use std::collections::HashSet;
use std::error::Error as _;

use core_error::{Error, ErrorKind};

#[test]
fn codes_are_unique_and_round_trip() {
    let codes: HashSet<_> = ErrorKind::ALL.iter().map(|kind| kind.code()).collect();
    assert_eq!(codes.len(), ErrorKind::ALL.len());
    for kind in ErrorKind::ALL {
        assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
    }
}

#[test]
fn only_timeout_unavailable_and_rate_limited_are_temporary_by_default() {
    let temporary: Vec<_> = ErrorKind::ALL
        .into_iter()
        .filter(|kind| kind.is_temporary())
        .collect();
    assert_eq!(
        temporary,
        [
            ErrorKind::Timeout,
            ErrorKind::Unavailable,
            ErrorKind::RateLimited
        ]
    );
    assert!(Error::timeout("slow").is_temporary());
    assert!(!Error::not_found("gone").is_temporary());
    assert!(!Error::timeout("slow").with_temporary(false).is_temporary());
}

#[test]
fn http_statuses_follow_the_kind() {
    let statuses: Vec<_> = ErrorKind::ALL
        .iter()
        .map(|kind| kind.http_status())
        .collect();
    assert_eq!(statuses, [404, 409, 400, 401, 403, 504, 503, 429, 501, 500]);
}

#[test]
fn display_names_kind_message_and_context() {
    let err = Error::invalid_input("value is 2 MiB, the limit is 1 MiB")
        .with_operation("cache.set")
        .with_backend("memory")
        .with_key("session:9");
    assert_eq!(
        err.to_string(),
        "invalid_input: value is 2 MiB, the limit is 1 MiB \
         (operation=cache.set, backend=memory, key=session:9)"
    );
}

#[test]
fn context_set_twice_keeps_the_latest_value_in_place() {
    let err = Error::internal("x")
        .with_key("a")
        .with_operation("op")
        .with_key("b");
    let pairs: Vec<_> = err.context().collect();
    assert_eq!(pairs, [("key", "b"), ("operation", "op")]);
}

#[test]
fn source_is_kept_for_logs() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let err = Error::from(io).with_operation("connect");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary());
    assert_eq!(
        err.source().map(|source| source.to_string()),
        Some("refused".to_string())
    );
}

#[test]
fn a_planted_secret_never_shows_in_display_or_debug() {
    let secret = "pl4nted-S3CRET-9f1c";
    let endpoints = [
        format!("postgres://app:{secret}@db.internal:5432/app"),
        format!("amqp://guest:{secret}@mq:5672/%2f"),
        format!("redis://:{secret}@cache:6379/0?password={secret}"),
        format!("{secret}@broker:9092"),
    ];
    for endpoint in endpoints {
        let err = Error::unavailable("connection refused").with_endpoint(&endpoint);
        for shown in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(
                !shown.contains(secret),
                "secret leaked from {endpoint}: {shown}"
            );
        }
    }
}

#[test]
fn errors_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
}
