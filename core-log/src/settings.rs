//! The `log` section of a service's settings.
//!
//! Every struct here deserializes with serde and has a [`Default`] that is
//! safe to run in production: JSON to stdout at `info`, no files, no export.
//! `core-config` nests [`LogSettings`] under its `log` key.

use std::path::PathBuf;

use serde::Deserialize;

/// Field names masked by default: a field whose name contains one of these
/// (ignoring ASCII case) is written as `"***"`.
pub const DEFAULT_MASKED_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "card_number",
    "cardnumber",
    "api_key",
    "apikey",
    "private_key",
    "cvv",
];

/// How logging, the audit trail, metrics and trace export are set up.
///
/// ```
/// use core_log::{LogFormat, LogSettings};
///
/// let settings: LogSettings = serde_json::from_str(r#"{ "level": "debug", "format": "text" }"#).unwrap();
/// assert_eq!(settings.level, "debug");
/// assert_eq!(settings.format, LogFormat::Text);
/// assert!(settings.stdout);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Which events are kept, as `tracing` filter directives
    /// (`"info"`, `"warn,my_service=debug"`). `RUST_LOG`, when set and not
    /// empty, replaces it. Default: `"info"`.
    pub level: String,
    /// How events are written to stdout and to the log file. Default: `json`.
    pub format: LogFormat,
    /// Whether events are written to stdout. Default: `true`.
    pub stdout: bool,
    /// The rotated log file, if any. Default: none (no file).
    pub file: Option<FileSettings>,
    /// The audit trail (events with target `audit`). Default: disabled, in
    /// which case audit events go to the ordinary outputs whatever the level.
    pub audit: AuditSettings,
    /// Field names whose values are replaced by `"***"` in every output; a
    /// field is masked when its name contains one of them, ignoring ASCII
    /// case. Default: [`DEFAULT_MASKED_FIELDS`].
    pub masked_fields: Vec<String>,
    /// How many formatted events each output queues before its writer
    /// thread catches up. Default: `65536`.
    pub queue_capacity: usize,
    /// What an ordinary output does when its queue is full. The audit trail
    /// always blocks. Default: `block`.
    pub overflow: OverflowPolicy,
    /// OpenTelemetry span export. Default: disabled.
    pub otlp: OtlpSettings,
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        LogSettings {
            level: "info".to_owned(),
            format: LogFormat::Json,
            stdout: true,
            file: None,
            audit: AuditSettings::default(),
            masked_fields: DEFAULT_MASKED_FIELDS
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            queue_capacity: 65_536,
            overflow: OverflowPolicy::Block,
            otlp: OtlpSettings::default(),
        }
    }
}

/// The shape of each written event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for production and log shippers.
    Json,
    /// Human-readable lines, for development.
    Text,
}

/// What an output does when its queue of formatted events is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// The logging call waits for room: nothing is lost, the caller slows down.
    Block,
    /// The event is dropped; each drop increments the
    /// `log_events_dropped_total{output=...}` counter and a warning naming
    /// the count goes to stderr.
    Drop,
}

/// A log file and how it is rotated and pruned.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// The folder the files are written to; created if missing.
    /// Default: `"logs"`.
    pub directory: PathBuf,
    /// The file name; time-rotated files put the period before the
    /// extension (`service.2025-01-31.log`), size-rotated ones append a
    /// number to older files (`service.log.1`). Default: `"service.log"`.
    pub file_name: String,
    /// When a new file is started. Default: `daily`.
    pub rotation: Rotation,
    /// For `rotation = "size"`: start a new file once the current one
    /// passes this many bytes. Default: `104857600` (100 MiB).
    pub max_bytes: u64,
    /// How many files to keep, the current one included. Set this or
    /// `keep_days`, not both. Default: `7`.
    pub keep_files: Option<usize>,
    /// How many days of files to keep. Set this or `keep_files`, not both.
    /// Default: none.
    pub keep_days: Option<u32>,
}

impl Default for FileSettings {
    fn default() -> FileSettings {
        FileSettings {
            directory: PathBuf::from("logs"),
            file_name: "service.log".to_owned(),
            rotation: Rotation::Daily,
            max_bytes: 100 * 1024 * 1024,
            keep_files: Some(7),
            keep_days: None,
        }
    }
}

/// When a log file is closed and a new one started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// Every minute; meant for tests and very chatty services.
    Minutely,
    /// Every hour.
    Hourly,
    /// Every day (UTC).
    Daily,
    /// When the file passes [`FileSettings::max_bytes`].
    Size,
    /// Never: one file grows forever.
    Never,
}

/// The audit trail: who did what, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Whether audit events get their own file. Default: `false`.
    pub enabled: bool,
    /// The audit file; always JSON, always blocking when its queue is full.
    /// Default: `logs/audit.log`, rotated daily, 90 days kept.
    pub file: FileSettings,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        AuditSettings {
            enabled: false,
            file: FileSettings {
                file_name: "audit.log".to_owned(),
                keep_files: None,
                keep_days: Some(90),
                ..FileSettings::default()
            },
        }
    }
}

/// OpenTelemetry span export over OTLP/HTTP (protobuf). Needs the `otlp`
/// cargo feature; enabling it without the feature is an error. Plain
/// `http://` only: no TLS stack is built in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSettings {
    /// Whether spans are exported. Default: `false`.
    pub enabled: bool,
    /// The collector's traces URL. Default: `"http://127.0.0.1:4318/v1/traces"`.
    pub endpoint: String,
    /// The `service.name` resource attribute. Default: `"service"`.
    pub service_name: String,
}

impl Default for OtlpSettings {
    fn default() -> OtlpSettings {
        OtlpSettings {
            enabled: false,
            endpoint: "http://127.0.0.1:4318/v1/traces".to_owned(),
            service_name: "service".to_owned(),
        }
    }
}
