//! The installed subscriber's stdout, seen from outside: this test binary
//! runs itself as a child process that calls `core_log::init`, because a
//! global subscriber can be installed only once per process.

use std::process::Command;

use serde_json::Value;

const CHILD_ENV: &str = "CORE_LOG_STDOUT_CHILD";
const PLANTED: &str = "PLANT-stdout-secret-42";

/// Not a test on its own: the body of the child process, run only when the
/// tests below start this binary with `CORE_LOG_STDOUT_CHILD` set.
#[test]
fn child_process_body() {
    let Ok(format) = std::env::var(CHILD_ENV) else {
        return;
    };
    if format == "drop" {
        return dropping_child();
    }
    let settings: core_log::LogSettings =
        serde_json::from_str(&format!(r#"{{ "format": "{format}" }}"#)).unwrap();
    let guard = core_log::init(&settings).unwrap();
    let second = core_log::init(&settings).err().unwrap();
    assert_eq!(second.kind(), core_log::ErrorKind::Conflict);

    let secret = secrecy::SecretString::from(PLANTED);
    core_log::LogContext::new()
        .request_id("req-stdout")
        .in_scope(|| {
            tracing::info!(password = PLANTED, session_token = PLANTED, key = ?secret, user = "carol", "signed in");
            tracing::warn!("disk almost full");
        });
    drop(guard);
}

/// Floods a tiny dropping queue, then prints how many events it dropped.
fn dropping_child() {
    let dir = tempfile::TempDir::new().unwrap();
    let settings = core_log::LogSettings {
        stdout: false,
        queue_capacity: 4,
        overflow: core_log::OverflowPolicy::Drop,
        file: Some(core_log::FileSettings {
            directory: dir.path().to_path_buf(),
            rotation: core_log::Rotation::Never,
            keep_files: None,
            ..core_log::FileSettings::default()
        }),
        ..core_log::LogSettings::default()
    };
    let guard = core_log::init(&settings).unwrap();
    for index in 0..50_000 {
        tracing::info!(index, "flood");
    }
    let dropped: u64 = guard.dropped_events().iter().map(|(_, n)| n).sum();
    drop(guard);
    println!("DROPPED={dropped}");
}

#[test]
fn each_drop_is_reported_on_stderr() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_body",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "drop")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let dropped: u64 = stdout
        .lines()
        .find_map(|line| line.split("DROPPED=").nth(1))
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let reported: u64 = stderr
        .lines()
        .filter_map(|line| line.split("queue was full: dropped ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(reported, dropped, "{stderr}");
}

fn run_child(format: &str, rust_log: Option<&str>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_process_body",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format)
        .env_remove("RUST_LOG");
    if let Some(rust_log) = rust_log {
        command.env("RUST_LOG", rust_log);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains(PLANTED), "{stderr}");
    stdout
}

fn json_lines(stdout: &str) -> Vec<Value> {
    // libtest's own "test child_process_body ... " may share the first line.
    stdout
        .lines()
        .filter_map(|line| line.find("{\"timestamp\"").map(|start| &line[start..]))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn stdout_json_carries_context_and_no_secret() {
    let stdout = run_child("json", None);
    assert!(!stdout.contains(PLANTED), "{stdout}");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["fields"]["user"], "carol");
    assert_eq!(lines[0]["fields"]["password"], "***");
    assert_eq!(lines[0]["context"]["request_id"], "req-stdout");
    assert_eq!(lines[1]["level"], "WARN");
}

#[test]
fn stdout_text_is_readable_and_masked() {
    let stdout = run_child("text", None);
    assert!(!stdout.contains(PLANTED), "{stdout}");
    assert!(json_lines(&stdout).is_empty());
    let line = stdout
        .lines()
        .find(|line| line.contains("signed in"))
        .unwrap();
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("request_id=\"req-stdout\""), "{line}");
    assert!(line.contains("password=***"), "{line}");
}

#[test]
fn rust_log_overrides_the_configured_level() {
    let lines = json_lines(&run_child("json", Some("warn")));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "disk almost full");
}
