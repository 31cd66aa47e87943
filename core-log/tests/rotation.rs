//! Rotation by size and by time creates files and deletes beyond retention.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_log::{FileSettings, LogSettings, Rotation};
use tempfile::TempDir;

fn settings(dir: &Path, file: FileSettings) -> LogSettings {
    LogSettings {
        stdout: false,
        file: Some(FileSettings {
            directory: dir.to_path_buf(),
            ..file
        }),
        ..LogSettings::default()
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn size_rotation_keeps_the_configured_number_of_files() {
    let dir = TempDir::new().unwrap();
    let settings = settings(
        dir.path(),
        FileSettings {
            file_name: "service.log".into(),
            rotation: Rotation::Size,
            max_bytes: 2_000,
            keep_files: Some(3),
            keep_days: None,
            ..FileSettings::default()
        },
    );
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for index in 0..300 {
            tracing::info!(index, padding = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sized");
            // Hand each line to the file on its own, as a slow trickle would.
            guard.flush();
        }
    });
    drop(guard);

    assert_eq!(
        files_in(dir.path()),
        ["service.log", "service.log.1", "service.log.2"]
    );
    let mut newest_index = 0;
    for name in files_in(dir.path()) {
        let text = fs::read_to_string(dir.path().join(&name)).unwrap();
        // A rotated file passes the limit by at most one line.
        assert!(text.len() < 2_000 + 400, "{name} has {} bytes", text.len());
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            newest_index = newest_index.max(value["fields"]["index"].as_u64().unwrap());
        }
    }
    assert_eq!(newest_index, 299);
}

#[test]
fn time_rotation_prunes_old_files_beyond_retention() {
    let dir = TempDir::new().unwrap();
    for day in 1..=5 {
        fs::write(
            dir.path().join(format!("service.2020-01-0{day}.log")),
            "old\n",
        )
        .unwrap();
    }
    fs::write(dir.path().join("unrelated.txt"), "keep me").unwrap();
    let settings = settings(
        dir.path(),
        FileSettings {
            file_name: "service.log".into(),
            rotation: Rotation::Daily,
            keep_files: Some(2),
            keep_days: None,
            ..FileSettings::default()
        },
    );
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("today"));
    drop(guard);

    let names = files_in(dir.path());
    let logs: Vec<&String> = names
        .iter()
        .filter(|name| name.starts_with("service."))
        .collect();
    assert_eq!(logs.len(), 2, "{names:?}");
    assert!(names.contains(&"unrelated.txt".to_owned()));
    assert!(!names.contains(&"service.2020-01-01.log".to_owned()));
    let today = logs
        .iter()
        .find(|name| !name.starts_with("service.2020"))
        .unwrap();
    assert!(
        fs::read_to_string(dir.path().join(today))
            .unwrap()
            .contains("today")
    );
}

#[test]
fn time_rotation_starts_a_new_file_each_period() {
    let dir = TempDir::new().unwrap();
    let settings = settings(
        dir.path(),
        FileSettings {
            file_name: "service.log".into(),
            rotation: Rotation::Minutely,
            keep_files: Some(5),
            keep_days: None,
            ..FileSettings::default()
        },
    );
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("first minute");
        guard.flush();
        // Wait for the next minute boundary: the only clock the appender reads.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let to_next_minute = 60 - now.as_secs() % 60;
        std::thread::sleep(Duration::from_secs(to_next_minute) + Duration::from_millis(200));
        tracing::info!("second minute");
    });
    drop(guard);

    let names = files_in(dir.path());
    assert_eq!(names.len(), 2, "{names:?}");
    let first = fs::read_to_string(dir.path().join(&names[0])).unwrap();
    let second = fs::read_to_string(dir.path().join(&names[1])).unwrap();
    assert!(first.contains("first minute") && !first.contains("second minute"));
    assert!(second.contains("second minute"));
}

#[test]
fn size_rotation_by_days_deletes_files_older_than_retention() {
    let dir = TempDir::new().unwrap();
    let planted = dir.path().join("service.log.20200101T000000");
    fs::write(&planted, "{}\n").unwrap();
    let settings = settings(
        dir.path(),
        FileSettings {
            file_name: "service.log".into(),
            rotation: Rotation::Size,
            max_bytes: 500,
            keep_files: None,
            keep_days: Some(1),
            ..FileSettings::default()
        },
    );
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for index in 0..20 {
            tracing::info!(index, "aged");
            guard.flush();
        }
    });
    drop(guard);

    let names = files_in(dir.path());
    assert!(!planted.exists(), "{names:?}");
    assert!(names.len() >= 2, "{names:?}");
    assert!(
        names.iter().all(|name| name.starts_with("service.log")),
        "{names:?}"
    );
}
