//! A refused "is this enabled?" check must not cost the next event its
//! context.
//!
//! sqlx asks `log::log_enabled!(target: "sqlx::query", Debug)` before every
//! query on PostgreSQL and MariaDB (the SQLite driver asks on its own
//! thread); the `log` bridge turns that into a dispatcher `enabled` call.
//! Under per-layer filters, a check that every layer refuses leaves their
//! "disabled" marks in the thread's filter state; a callsite every layer
//! always takes (the context span, an audit event in the ordinary outputs)
//! skips `enabled` and read those stale marks, so the request's span or its
//! audit line was dropped. This file holds one
//! test because it installs the global subscriber, as a service does: the
//! callsites' cached interest is then the one a service sees.

use std::path::Path;

use core_log::{AuditEvent, AuditOutcome, FileSettings, LogContext, LogSettings, Rotation};
use serde_json::Value;
use tempfile::TempDir;

fn file(directory: &Path) -> FileSettings {
    FileSettings {
        directory: directory.to_path_buf(),
        file_name: "service.log".to_owned(),
        rotation: Rotation::Never,
        keep_files: None,
        keep_days: None,
        ..FileSettings::default()
    }
}

/// sqlx's query logger (sqlx-core's `logger.rs`): ask the `log` facade,
/// then log through `tracing`, whose callsite every output refuses.
fn like_sqlx_before_a_query() {
    if log_facade::log_enabled!(target: "sqlx::query", log_facade::Level::Debug)
        || tracing::enabled!(target: "sqlx::query", tracing::Level::DEBUG)
    {
        tracing::debug!(target: "sqlx::query", "summary");
    }
}

#[test]
fn a_refused_enabled_check_leaves_the_next_events_whole() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        stdout: false,
        level: "info".to_owned(),
        file: Some(file(dir.path())),
        ..LogSettings::default()
    };
    let guard = core_log::init(&settings).unwrap();

    let requests = 20;
    for request in 0..requests {
        like_sqlx_before_a_query();
        LogContext::new()
            .request_id(format!("req-{request}"))
            .in_scope(|| {
                like_sqlx_before_a_query();
                AuditEvent::new("alice", "user.register", AuditOutcome::Success).record();
                tracing::info!("request finished");
            });
    }
    guard.flush();

    let text = std::fs::read_to_string(dir.path().join("service.log")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let audits = lines
        .iter()
        .filter(|line| line["target"] == "audit")
        .count();
    assert_eq!(audits, requests, "audit lines lost:\n{text}");
    assert_eq!(lines.len(), 2 * requests, "lines lost:\n{text}");
    for (index, line) in lines.iter().enumerate() {
        let expected = format!("req-{}", index / 2);
        assert_eq!(
            line["context"]["request_id"], expected,
            "line {index} lost its context:\n{text}"
        );
    }
}
