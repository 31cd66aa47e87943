//! The `log` section of a service's settings.
//!
//! Every struct here deserializes with serde and has a [`Default`] that is
//! safe to run in production: JSON to stdout at `info`, no files, no export.
//! `core-config` nests [`LogSettings`] under its `log` key.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

/// Field names masked in logs on top of the SDK-wide
/// [`SECRET_NAME_FRAGMENTS`](core_error::SECRET_NAME_FRAGMENTS): session ids
/// are bearer credentials, and card data must never reach a log.
///
/// A field whose name contains one of either list (ignoring ASCII case) is
/// written as `"***"`. `core-config` also hides any setting called `key` or
/// `*_key`; logs do not, because cache, message and idempotency keys are
/// logged under those names on purpose — secret keys are still caught by
/// `api_key`, `access_key`, `private` and `secret`.
pub const LOG_MASKED_FIELDS: &[&str] = &["session", "card_number", "cardnumber", "cvv"];

/// The default of [`LogSettings::masked_fields`]: every
/// [`SECRET_NAME_FRAGMENTS`](core_error::SECRET_NAME_FRAGMENTS) entry and
/// [`LOG_MASKED_FIELDS`].
///
/// ```
/// let masked = core_log::default_masked_fields();
/// assert!(masked.iter().any(|field| field == "password"));
/// assert!(masked.iter().any(|field| field == "cvv"));
/// ```
pub fn default_masked_fields() -> Vec<String> {
    core_error::SECRET_NAME_FRAGMENTS
        .iter()
        .chain(LOG_MASKED_FIELDS)
        .map(|name| (*name).to_owned())
        .collect()
}

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
    /// Which events are kept, as `tracing` `EnvFilter` directives
    /// (`"info"`, `"warn,my_service=debug"`, or a bare target: `"my_crate"`
    /// keeps every level of `my_crate` and nothing else). Misspelt levels
    /// (`"infoo"`, `"warning"`) and directives with spaces inside are
    /// refused rather than read as targets. `RUST_LOG`, when set and not
    /// empty, replaces it. Events keep the fields bound with
    /// [`LogContext`](crate::LogContext) whatever the filter. Default: `"info"`.
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
    /// case. Default: [`default_masked_fields`].
    pub masked_fields: Vec<String>,
    /// How many formatted events each output queues before its writer
    /// thread catches up. Default: `65536`.
    pub queue_capacity: usize,
    /// What an ordinary output does when its queue is full. Audit events
    /// (target `audit`) never follow it: they wait for room in every queue
    /// they go to, the audit file's or, without one, stdout's and the log
    /// file's. Default: `block`.
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
            masked_fields: default_masked_fields(),
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
///
/// Keys left out of a settings file keep their defaults — for the audit
/// file the audit defaults (`audit.log`, 90 days), not the ones below.
/// Setting `keep_files` or `keep_days` alone drops the other's default.
///
/// ```
/// use core_log::{AuditSettings, FileSettings};
///
/// let file: FileSettings = serde_json::from_str(r#"{ "keep_days": 30 }"#).unwrap();
/// assert_eq!((file.keep_files, file.keep_days), (None, Some(30)));
///
/// let audit: AuditSettings =
///     serde_json::from_str(r#"{ "file": { "directory": "/var/log/app" } }"#).unwrap();
/// assert_eq!(audit.file.file_name, "audit.log");
/// assert_eq!(audit.file.keep_days, Some(90));
/// ```
#[derive(Debug, Clone, PartialEq)]
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
    /// `keep_days`, not both; in a settings file, setting `keep_days` alone
    /// drops this default (in Rust code set it to `None` yourself). With
    /// `keep_days` also `None`, every file is kept. Default: `7`.
    pub keep_files: Option<usize>,
    /// How many days of files to keep. Set this or `keep_files`, not both;
    /// in a settings file, setting `keep_files` alone drops this default.
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

impl<'de> Deserialize<'de> for FileSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FileSettings, D::Error> {
        FileSettingsKeys::deserialize(deserializer).map(|keys| keys.over(FileSettings::default()))
    }
}

/// A file section as written: only the keys present, so that what is left
/// out keeps the defaults of the section it belongs to.
#[derive(Deserialize)]
#[serde(rename = "FileSettings", deny_unknown_fields)]
struct FileSettingsKeys {
    directory: Option<PathBuf>,
    file_name: Option<String>,
    rotation: Option<Rotation>,
    max_bytes: Option<u64>,
    // Outer `Some`: the key is present (an explicit JSON `null` included).
    #[serde(default, deserialize_with = "present")]
    keep_files: Option<Option<usize>>,
    #[serde(default, deserialize_with = "present")]
    keep_days: Option<Option<u32>>,
}

fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl FileSettingsKeys {
    /// `defaults` with the keys present replaced. A retention limit set on
    /// its own replaces the other limit's default rather than clashing with
    /// it; both set explicitly stay both, and are refused when opened.
    fn over(self, defaults: FileSettings) -> FileSettings {
        let mut file = defaults;
        if let Some(directory) = self.directory {
            file.directory = directory;
        }
        if let Some(file_name) = self.file_name {
            file.file_name = file_name;
        }
        if let Some(rotation) = self.rotation {
            file.rotation = rotation;
        }
        if let Some(max_bytes) = self.max_bytes {
            file.max_bytes = max_bytes;
        }
        match (self.keep_files, self.keep_days) {
            (Some(files), Some(days)) => (file.keep_files, file.keep_days) = (files, days),
            (Some(Some(files)), None) => (file.keep_files, file.keep_days) = (Some(files), None),
            (None, Some(Some(days))) => (file.keep_files, file.keep_days) = (None, Some(days)),
            (Some(None), None) => file.keep_files = None,
            (None, Some(None)) => file.keep_days = None,
            (None, None) => {}
        }
        file
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
    /// Default: `logs/audit.log`, rotated daily, 90 days kept; keys left out
    /// of the settings keep these defaults.
    #[serde(deserialize_with = "audit_file")]
    pub file: FileSettings,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        AuditSettings {
            enabled: false,
            file: default_audit_file(),
        }
    }
}

fn default_audit_file() -> FileSettings {
    FileSettings {
        file_name: "audit.log".to_owned(),
        keep_files: None,
        keep_days: Some(90),
        ..FileSettings::default()
    }
}

fn audit_file<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FileSettings, D::Error> {
    FileSettingsKeys::deserialize(deserializer).map(|keys| keys.over(default_audit_file()))
}

/// OpenTelemetry span export over OTLP/HTTP (protobuf). Needs the `otlp`
/// cargo feature; enabling it without the feature is an error. `https://`
/// collectors are verified against the system's roots and `ca_file`
/// (rustls with ring), optionally with a client certificate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSettings {
    /// Whether spans are exported. Default: `false`.
    pub enabled: bool,
    /// The collector's traces URL. Default: `"http://127.0.0.1:4318/v1/traces"`.
    pub endpoint: String,
    /// The `service.name` resource attribute. Default: `"service"`.
    pub service_name: String,
    /// A CA (PEM) trusted beside the system's roots for an `https://` collector.
    pub ca_file: Option<std::path::PathBuf>,
    /// A client certificate (PEM), for a collector that asks for one.
    pub cert_file: Option<std::path::PathBuf>,
    /// The client certificate's key (PEM).
    pub key_file: Option<std::path::PathBuf>,
}

impl Default for OtlpSettings {
    fn default() -> OtlpSettings {
        OtlpSettings {
            enabled: false,
            endpoint: "http://127.0.0.1:4318/v1/traces".to_owned(),
            service_name: "service".to_owned(),
            ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }
}
