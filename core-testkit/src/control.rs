//! Stopping and starting a shared server from a test, for the restart and
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
