//! JSON lines, bound context, level filter, masking, audit routing and the
//! bounded queue, each checked in the files the subscriber writes.

use std::fs;
use std::path::{Path, PathBuf};

use core_log::{
    AuditEvent, AuditOutcome, AuditSettings, ErrorKind, FileSettings, LogContext, LogFormat,
    LogSettings, Metrics, OverflowPolicy, Rotation,
};
use secrecy::SecretString;
use serde_json::Value;
use tempfile::TempDir;

fn plain_file(directory: &Path, name: &str) -> FileSettings {
    FileSettings {
        directory: directory.to_path_buf(),
        file_name: name.to_owned(),
        rotation: Rotation::Never,
        keep_files: None,
        keep_days: None,
        ..FileSettings::default()
    }
}

fn file_settings(dir: &TempDir) -> LogSettings {
    LogSettings {
        stdout: false,
        file: Some(plain_file(dir.path(), "service.log")),
        ..LogSettings::default()
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

fn run_logged(settings: &LogSettings, work: impl FnOnce()) {
    let (dispatch, guard) = core_log::build(settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, work);
    drop(guard);
}

fn log_path(dir: &TempDir) -> PathBuf {
    dir.path().join("service.log")
}

#[test]
fn json_lines_carry_level_target_message_fields_and_context() {
    let dir = TempDir::new().unwrap();
    run_logged(&file_settings(&dir), || {
        LogContext::new()
            .request_id("req-1")
            .user_id("alice")
            .trace_id("trace-9")
            .in_scope(|| {
                let inner = tracing::info_span!("handler", route = "/orders");
                inner.in_scope(|| {
                    tracing::info!(target: "orders", count = 3_u64, ok = true, ratio = 0.5, who = "bob", "placed \"order\"\n");
                });
            });
        tracing::warn!(code = -7_i64, "outside");
    });

    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["target"], "orders");
    assert_eq!(first["message"], "placed \"order\"\n");
    assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["fields"]["count"], 3);
    assert_eq!(first["fields"]["ok"], true);
    assert_eq!(first["fields"]["ratio"], 0.5);
    assert_eq!(first["fields"]["who"], "bob");
    assert_eq!(first["span"], "handler");
    assert_eq!(first["context"]["request_id"], "req-1");
    assert_eq!(first["context"]["user_id"], "alice");
    assert_eq!(first["context"]["trace_id"], "trace-9");
    assert_eq!(first["context"]["route"], "/orders");

    let second = &lines[1];
    assert_eq!(second["level"], "WARN");
    assert_eq!(second["fields"]["code"], -7);
    assert!(second.get("context").is_none());
}

#[test]
fn nested_spans_give_each_context_name_once_innermost_winning() {
    let dir = TempDir::new().unwrap();
    run_logged(&file_settings(&dir), || {
        LogContext::new()
            .request_id("outer-req")
            .user_id("alice")
            .in_scope(|| {
                let step = tracing::info_span!("step", route = "/a", attempt = 1_u64);
                step.record("attempt", 2_u64);
                step.in_scope(|| {
                    LogContext::new()
                        .request_id("inner-req")
                        .trace_id("trace-n")
                        .in_scope(|| {
                            tracing::info_span!("leaf", route = "/b")
                                .in_scope(|| tracing::info!("nested"));
                        });
                });
            });
    });
    let raw = fs::read_to_string(log_path(&dir)).unwrap();
    let line = raw.lines().next().unwrap();
    for name in ["request_id", "user_id", "trace_id", "route", "attempt"] {
        assert_eq!(
            line.matches(&format!("\"{name}\":")).count(),
            1,
            "{name} not exactly once: {line}"
        );
    }
    let parsed: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
    let context = parsed["context"].as_object().unwrap();
    assert_eq!(context["request_id"], "inner-req");
    assert_eq!(context["user_id"], "alice");
    assert_eq!(context["trace_id"], "trace-n");
    assert_eq!(context["route"], "/b");
    assert_eq!(context["attempt"], 2);
    assert_eq!(parsed["span"], "leaf");
}

#[tokio::test]
async fn bound_fields_follow_awaits_and_spawned_tasks() {
    let dir = TempDir::new().unwrap();
    let (dispatch, guard) = core_log::build(&file_settings(&dir)).unwrap();
    let _default = tracing::dispatcher::set_default(&dispatch);

    LogContext::new()
        .request_id("req-async")
        .scope(async {
            tokio::task::yield_now().await;
            tracing::info!("after await");
            core_log::spawn(async { tracing::info!("in helper task") })
                .await
                .unwrap();
            // Control: a bare tokio::spawn loses the span.
            tokio::spawn(async { tracing::info!("in bare task") })
                .await
                .unwrap();
        })
        .await;
    drop(guard);

    let lines = read_lines(&log_path(&dir));
    let by_message = |message: &str| {
        lines
            .iter()
            .find(|line| line["message"] == message)
            .unwrap_or_else(|| panic!("no line {message:?} in {lines:?}"))
            .clone()
    };
    assert_eq!(
        by_message("after await")["context"]["request_id"],
        "req-async"
    );
    assert_eq!(
        by_message("in helper task")["context"]["request_id"],
        "req-async"
    );
    assert!(by_message("in bare task").get("context").is_none());
}

#[test]
fn the_level_filter_keeps_only_what_it_names() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        level: "warn,chatty=debug".into(),
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        tracing::info!("quiet info");
        tracing::warn!("loud warn");
        tracing::debug!(target: "chatty", "chatty debug");
        tracing::trace!(target: "chatty", "chatty trace");
    });
    let messages: Vec<String> = read_lines(&log_path(&dir))
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["loud warn", "chatty debug"]);
}

#[test]
fn a_warn_level_still_carries_the_bound_context() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        level: "warn".into(),
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        LogContext::new()
            .request_id("req-w")
            .in_scope(|| tracing::error!("failed"));
    });
    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines[0]["context"]["request_id"], "req-w");
}

#[test]
fn a_target_only_filter_keeps_the_bound_context() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        level: "my_service=debug".into(),
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        LogContext::new()
            .request_id("req-t")
            .user_id("alice")
            .trace_id("trace-t")
            .in_scope(|| {
                tracing::debug!(target: "my_service", "handled");
                tracing::error!(target: "other_crate", "filtered out");
            });
    });
    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "handled");
    assert_eq!(lines[0]["context"]["request_id"], "req-t");
    assert_eq!(lines[0]["context"]["user_id"], "alice");
    assert_eq!(lines[0]["context"]["trace_id"], "trace-t");
}

#[test]
fn a_bare_target_filter_logs_that_target_at_every_level() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        level: "my_crate".into(),
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        tracing::trace!(target: "my_crate::db", "deep");
        tracing::error!(target: "elsewhere", "not mine");
    });
    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "deep");
}

const PLANTS: [&str; 7] = [
    "PLANT-password-1",
    "PLANT-token-2",
    "PLANT-bearer-3",
    "PLANT-4111111111111111",
    "PLANT-cookie-5",
    "PLANT-secrecy-6",
    "PLANT-span-key-7",
];

fn log_planted_secrets() {
    let secret = SecretString::from(PLANTS[5]);
    let span = tracing::info_span!("login", api_key = PLANTS[6], user = "alice");
    span.in_scope(|| {
        tracing::info!(
            password = PLANTS[0],
            access_token = PLANTS[1],
            Authorization = PLANTS[2],
            card_number = PLANTS[3],
            cookie = ?PLANTS[4],
            // An unmasked name: the secrecy value hides itself.
            pin = ?secret,
            user = "alice",
            "login attempt"
        );
    });
}

#[test]
fn planted_secrets_never_reach_json_or_text_files() {
    for format in [LogFormat::Json, LogFormat::Text] {
        let dir = TempDir::new().unwrap();
        let settings = LogSettings {
            format,
            ..file_settings(&dir)
        };
        run_logged(&settings, log_planted_secrets);
        let written = fs::read_to_string(log_path(&dir)).unwrap();
        assert!(written.contains("alice"), "{format:?}: {written}");
        assert!(written.contains("***"), "{format:?}: {written}");
        assert!(written.contains("[REDACTED]"), "{format:?}: {written}");
        for plant in PLANTS {
            assert!(
                !written.contains(plant),
                "{format:?} leaked {plant}: {written}"
            );
        }
    }
}

#[test]
fn masked_names_are_configurable() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        masked_fields: vec!["ssn".into()],
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        tracing::info!(customer_ssn = "123-45-6789", password = "visible-now", "x")
    });
    let line = &read_lines(&log_path(&dir))[0];
    assert_eq!(line["fields"]["customer_ssn"], "***");
    assert_eq!(line["fields"]["password"], "visible-now");
}

#[test]
fn default_masks_cover_the_secret_names_core_config_hides() {
    let dir = TempDir::new().unwrap();
    run_logged(&file_settings(&dir), || {
        tracing::info!(
            db_pwd = "PLANT-pwd",
            aws_access_key = "PLANT-access-key",
            client_credentials = "PLANT-credential",
            private_pem = "PLANT-private",
            session_id = "PLANT-session",
            "set-cookie" = "PLANT-set-cookie",
            stripe_api_key = "PLANT-api-key",
            cache_key = "user:42",
            "x"
        )
    });
    let written = fs::read_to_string(log_path(&dir)).unwrap();
    assert!(!written.contains("PLANT"), "{written}");
    let line = &read_lines(&log_path(&dir))[0];
    for name in [
        "db_pwd",
        "aws_access_key",
        "client_credentials",
        "private_pem",
        "session_id",
        "set-cookie",
        "stripe_api_key",
    ] {
        assert_eq!(line["fields"][name], "***", "{name}: {line}");
    }
    // Keys of caches and messages stay readable.
    assert_eq!(line["fields"]["cache_key"], "user:42");
}

fn audit_settings(dir: &TempDir) -> LogSettings {
    let mut audit = AuditSettings {
        enabled: true,
        ..AuditSettings::default()
    };
    audit.file.directory = dir.path().join("audit");
    audit.file.file_name = "audit.log".into();
    audit.file.rotation = Rotation::Never;
    LogSettings {
        level: "error".into(),
        audit,
        ..file_settings(dir)
    }
}

#[test]
fn audit_events_go_only_to_the_audit_file() {
    let dir = TempDir::new().unwrap();
    run_logged(&audit_settings(&dir), || {
        tracing::error!("ordinary error");
        AuditEvent::new("alice", "user.delete", AuditOutcome::Success)
            .resource("user:42")
            .record();
        AuditEvent::new("mallory", "user.delete", AuditOutcome::Denied)
            .resource("user:1")
            .reason("missing role admin")
            .record();
    });

    let ordinary = read_lines(&log_path(&dir));
    assert_eq!(ordinary.len(), 1, "{ordinary:?}");
    assert_eq!(ordinary[0]["message"], "ordinary error");

    let audit = read_lines(&dir.path().join("audit").join("audit.log"));
    assert_eq!(audit.len(), 2, "{audit:?}");
    for entry in &audit {
        assert_eq!(entry["target"], "audit");
        assert!(entry["timestamp"].is_string());
    }
    assert_eq!(audit[0]["fields"]["actor"], "alice");
    assert_eq!(audit[0]["fields"]["action"], "user.delete");
    assert_eq!(audit[0]["fields"]["resource"], "user:42");
    assert_eq!(audit[0]["fields"]["outcome"], "success");
    assert_eq!(audit[1]["fields"]["outcome"], "denied");
    assert_eq!(audit[1]["fields"]["reason"], "missing role admin");
}

#[test]
fn audit_lines_carry_the_bound_context() {
    let dir = TempDir::new().unwrap();
    run_logged(&audit_settings(&dir), || {
        LogContext::new()
            .request_id("req-a")
            .trace_id("trace-a")
            .in_scope(|| AuditEvent::new("alice", "user.delete", AuditOutcome::Success).record());
    });
    let audit = read_lines(&dir.path().join("audit").join("audit.log"));
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["context"]["request_id"], "req-a");
    assert_eq!(audit[0]["context"]["trace_id"], "trace-a");
    assert_eq!(audit[0]["fields"]["actor"], "alice");
    // The ordinary file (level `error`) still gets neither.
    assert!(read_lines(&log_path(&dir)).is_empty());
}

#[test]
fn without_an_audit_file_audit_events_pass_any_level() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        level: "error".into(),
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        AuditEvent::new("alice", "login", AuditOutcome::Failure).record();
        tracing::info!("filtered out");
    });
    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["target"], "audit");
}

const BURST: usize = 100_000;

#[test]
fn a_blocking_burst_loses_nothing() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        queue_capacity: 256,
        overflow: OverflowPolicy::Block,
        ..audit_settings(&dir)
    };
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for index in 0..BURST {
            AuditEvent::new("load", "burst", AuditOutcome::Success)
                .resource(if index % 2 == 0 { "even" } else { "odd" })
                .record();
        }
    });
    assert!(
        guard
            .dropped_events()
            .iter()
            .all(|(_, dropped)| *dropped == 0)
    );
    drop(guard);
    let written = fs::read_to_string(dir.path().join("audit").join("audit.log")).unwrap();
    assert_eq!(written.lines().count(), BURST);
}

#[test]
fn without_an_audit_file_audit_events_still_never_drop() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        queue_capacity: 8,
        overflow: OverflowPolicy::Drop,
        ..file_settings(&dir)
    };
    assert!(!settings.audit.enabled);
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..BURST {
            AuditEvent::new("load", "burst", AuditOutcome::Success).record();
        }
    });
    assert_eq!(guard.dropped_events(), [("file", 0)]);
    drop(guard);
    let written = fs::read_to_string(log_path(&dir)).unwrap();
    assert_eq!(written.lines().count(), BURST);
}

#[test]
fn a_dropping_burst_counts_every_drop_in_the_guard_and_the_metric() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        queue_capacity: 8,
        overflow: OverflowPolicy::Drop,
        ..file_settings(&dir)
    };
    let (recorder, metrics) = Metrics::local();
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    metrics::with_local_recorder(&recorder, || {
        tracing::dispatcher::with_default(&dispatch, || {
            for index in 0..BURST {
                tracing::info!(index, "burst");
            }
        });
    });
    let dropped: u64 = guard
        .dropped_events()
        .iter()
        .map(|(_, dropped)| dropped)
        .sum();
    drop(guard);

    let written = fs::read_to_string(log_path(&dir)).unwrap().lines().count();
    assert_eq!(
        written as u64 + dropped,
        BURST as u64,
        "written {written}, dropped {dropped}"
    );
    let rendered = metrics::with_local_recorder(&recorder, || metrics.render());
    let metric = rendered
        .lines()
        .find(|line| line.starts_with("log_events_dropped_total{output=\"file\"}"))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .unwrap_or(0);
    assert_eq!(metric, dropped, "{rendered}");
}

#[test]
fn bad_settings_are_refused_naming_the_setting() {
    let dir = TempDir::new().unwrap();

    let settings = LogSettings {
        level: "verbose".into(),
        ..file_settings(&dir)
    };
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("log.level"));

    let blocker = dir.path().join("a-file");
    fs::write(&blocker, "").unwrap();
    let mut settings = file_settings(&dir);
    settings.file.as_mut().unwrap().directory = blocker.join("logs");
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.context_value("key"), Some("log.file.directory"));
    assert!(err.to_string().contains("a-file"), "{err}");

    let mut settings = file_settings(&dir);
    let file = settings.file.as_mut().unwrap();
    file.keep_files = Some(3);
    file.keep_days = Some(3);
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("log.file.keep_files"));

    let mut settings = file_settings(&dir);
    let file = settings.file.as_mut().unwrap();
    file.rotation = Rotation::Size;
    file.max_bytes = 0;
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.context_value("key"), Some("log.file.max_bytes"));

    let settings = LogSettings {
        queue_capacity: 0,
        ..file_settings(&dir)
    };
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.context_value("key"), Some("log.queue_capacity"));
}

#[cfg(not(feature = "otlp"))]
#[test]
fn span_export_without_the_feature_is_unsupported() {
    let mut settings = LogSettings {
        stdout: false,
        ..LogSettings::default()
    };
    settings.otlp.enabled = true;
    let err = core_log::build(&settings).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn settings_deserialize_with_documented_defaults() {
    let settings: LogSettings = serde_json::from_str(
        r#"{ "format": "text", "file": { "rotation": "size", "max_bytes": 1000, "keep_files": 3 },
             "audit": { "enabled": true }, "overflow": "drop" }"#,
    )
    .unwrap();
    assert_eq!(settings.level, "info");
    assert_eq!(settings.format, LogFormat::Text);
    let file = settings.file.unwrap();
    assert_eq!(file.rotation, Rotation::Size);
    assert_eq!(file.directory, PathBuf::from("logs"));
    assert_eq!(settings.audit.file.keep_days, Some(90));
    assert_eq!(settings.overflow, OverflowPolicy::Drop);
    assert!(serde_json::from_str::<LogSettings>(r#"{ "format": "xml" }"#).is_err());
    assert!(serde_json::from_str::<LogSettings>(r#"{ "levle": "info" }"#).is_err());
}

/// The outputs read the bound fields from the scope: under core-log's
/// subscriber (no span exporter) the scope's span is not even created, so
/// a request costs no span.
#[test]
fn the_outputs_take_the_bound_fields_without_a_span() {
    let dir = TempDir::new().unwrap();
    let mut span_made = true;
    run_logged(&file_settings(&dir), || {
        LogContext::new().request_id("req-s").in_scope(|| {
            span_made = !tracing::Span::current().is_none();
            tracing::info!("inside");
        });
    });
    assert!(!span_made, "the context span was created");
    let lines = read_lines(&log_path(&dir));
    assert_eq!(lines[0]["context"]["request_id"], "req-s");
    assert!(lines[0].get("span").is_none(), "{}", lines[0]);
}

/// A subscriber built elsewhere (or a span exporter) still gets the bound
/// fields, in the span the scope opens.
#[test]
fn a_subscriber_built_elsewhere_sees_the_bound_fields_in_the_context_span() {
    let captured = core_testkit::Captured::default();
    tracing::subscriber::with_default(captured.subscriber(tracing::Level::INFO), || {
        LogContext::new().request_id("req-e").in_scope(|| {
            core_log::bind_user_id("alice");
            tracing::info!("inside");
        });
    });
    let text = captured.text();
    assert!(
        text.contains(r#"context{request_id="req-e" user_id="alice"}"#),
        "{text}"
    );
}

#[test]
fn text_lines_show_the_bound_fields_as_the_outermost_span() {
    let dir = TempDir::new().unwrap();
    let settings = LogSettings {
        format: LogFormat::Text,
        masked_fields: vec!["tenant_id".into()],
        ..file_settings(&dir)
    };
    run_logged(&settings, || {
        LogContext::new()
            .request_id("req-x")
            .tenant_id("acme")
            .in_scope(|| {
                tracing::info_span!("handler", route = "/a")
                    .in_scope(|| tracing::warn!(target: "svc", count = 2_u64, "slow"));
            });
        tracing::warn!(target: "svc", "outside");
    });
    let text = fs::read_to_string(log_path(&dir)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].ends_with(
            r#" WARN context{request_id="req-x" tenant_id=***}:handler{route="/a"}: svc: slow count=2"#
        ),
        "{text}"
    );
    assert!(lines[1].ends_with(" WARN svc: outside"), "{text}");
}
