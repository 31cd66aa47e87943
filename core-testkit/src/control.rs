//! Stopping, starting and pausing a shared server from a test, for the restart and
//! outage tests (each lives in a test binary of its own: cargo runs test
//! binaries one at a time, so no other test sees the outage).

use std::process::Command;

/// Runs `scripts/services.sh <action> <server>` (`stop redis`, `start
/// redis`) and panics if it fails; `start` returns once the server answers.
///
/// ```no_run
/// core_testkit::services_script("stop", "redis");
/// // ... the outage ...
/// core_testkit::services_script("start", "redis");
/// ```
///
/// # Panics
///
/// When the script cannot be run or reports a failure.
pub fn services_script(action: &str, server: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    let status = Command::new("bash")
        .args([script, action, server])
        .status()
        .expect("run scripts/services.sh");
    assert!(
        status.success(),
        "scripts/services.sh {action} {server} failed"
    );
}

/// Holds every client's commands on the Redis server at `url` for `millis`
/// (the data stays), as a server that hangs would.
///
/// ```no_run
/// core_testkit::pause_redis("redis://127.0.0.1:6379", 2_000);
/// ```
///
/// # Panics
///
/// When `redis-cli` cannot be run or the server refuses the pause.
pub fn pause_redis(url: &str, millis: u64) {
    let status = Command::new("redis-cli")
        .args(["-u", url, "CLIENT", "PAUSE", &millis.to_string(), "ALL"])
        .status()
        .expect("run redis-cli");
    assert!(status.success(), "redis-cli CLIENT PAUSE failed");
}
