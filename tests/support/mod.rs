//! Running an example service as a real process for end-to-end tests.
//!
//! A plain `cargo test` builds the examples before the tests, so each binary
//! is at `<target>/debug/examples/<name>`. Narrowed to one file with `--test`,
//! cargo builds only that file: run `cargo build --all-features --examples`
//! first, or the test drives an example binary from an earlier build. [`ServiceProcess::start`] runs one with
//! a clean `APP_*` environment plus the variables given, on a free port
//! (`BIND_ADDR=127.0.0.1:0`), and waits for its `listening on http://…`
//! line; [`ServiceProcess::terminate`] sends SIGTERM and waits for the exit.
//! [`Api`] talks JSON to it; [`wait_until`] awaits a condition;
//! `ScratchDatabase` gives a run a PostgreSQL or MariaDB database of its own.

#![allow(dead_code, reason = "each end-to-end test uses the part it needs")]

mod api;
#[cfg(feature = "postgres")]
mod scratch_database;
mod wait;

pub(crate) use api::Api;
#[cfg(feature = "postgres")]
pub(crate) use scratch_database::ScratchDatabase;
pub(crate) use wait::wait_until;

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a service may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const LISTENING: &str = "listening on http://";

/// The path of the example binary `name`, next to the test binary's folder.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    // <target>/debug/deps/<test> → <target>/debug/examples/<name>
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A running example service; killed on drop if not terminated.
pub(crate) struct ServiceProcess {
    name: String,
    child: Child,
    base_url: String,
    output: Arc<Mutex<Vec<String>>>,
    /// The threads copying stdout and stderr, done once the process exits.
    collectors: Vec<std::thread::JoinHandle<()>>,
}

impl ServiceProcess {
    /// Starts example `name` from the repository root with `env` on top of
    /// the inherited environment minus every `APP_*` / `APP__*` variable
    /// and `BIND_ADDR`. Panics, with the service's output, when it does not
    /// announce its address in time.
    pub(crate) fn start(name: &str, env: &[(&str, String)]) -> ServiceProcess {
        let binary = example_binary(name);
        assert!(
            binary.is_file(),
            "{} is missing; `cargo test` builds it (run with --all-features)",
            binary.display()
        );
        let mut command = Command::new(&binary);
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("APP_") || key == "BIND_ADDR" || key == "RUST_LOG" {
                command.env_remove(key.as_ref());
            }
        }
        command.env("BIND_ADDR", "127.0.0.1:0");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));

        let output = Arc::new(Mutex::new(Vec::new()));
        let (announced, address) = mpsc::channel();
        let collectors = [
            collect(child.stdout.take(), &output, Some(announced.clone())),
            collect(child.stderr.take(), &output, None),
        ]
        .into_iter()
        .flatten()
        .collect();
        drop(announced);
        let mut process = ServiceProcess {
            name: name.to_string(),
            child,
            base_url: String::new(),
            output,
            collectors,
        };
        match address.recv_timeout(START_TIMEOUT) {
            Ok(url) => process.base_url = url,
            Err(_) => panic!(
                "{name} printed no `{LISTENING}…` line within {START_TIMEOUT:?}; output:\n{}",
                process.output()
            ),
        }
        process
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of `path` (starting with `/`) on this service.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Everything the service wrote so far, stdout and stderr interleaved.
    pub(crate) fn output(&self) -> String {
        self.output.lock().expect("output lock").join("\n")
    }

    /// [`terminate`](ServiceProcess::terminate), then everything the
    /// service wrote until it exited: what it flushed on the way out too.
    pub(crate) fn terminate_with_output(mut self) -> (ExitStatus, String) {
        let status = self.wait_for_exit();
        for collector in std::mem::take(&mut self.collectors) {
            let _ = collector.join();
        }
        (status, self.output())
    }

    /// Sends SIGTERM and waits for the exit; panics if it takes too long.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        self.wait_for_exit()
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        signal_terminate(self.child.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the service") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still runs {STOP_TIMEOUT:?} after SIGTERM; output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGTERM through kill(1): the crates forbid `unsafe`, and no
/// signal crate is a dependency.
fn signal_terminate(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("run kill -TERM");
    assert!(status.success(), "kill -TERM {pid} failed: {status}");
}

/// Copies each line of `stream` into `output` on a thread of its own, so
/// the service never blocks on a full pipe; sends the announced URL once.
fn collect(
    stream: Option<impl Read + Send + 'static>,
    output: &Arc<Mutex<Vec<String>>>,
    mut announced: Option<mpsc::Sender<String>>,
) -> Option<std::thread::JoinHandle<()>> {
    let stream = stream?;
    let output = Arc::clone(output);
    Some(std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(LISTENING)
                && let Some(sender) = announced.take()
            {
                let _ = sender.send(format!("http://{}", rest.trim()));
            }
            output.lock().expect("output lock").push(line);
        }
    }))
}

/// A folder under the system temp folder, removed on drop.
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new empty folder named after `prefix` and a unique suffix.
    pub(crate) fn new(prefix: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(core_testkit::unique_name(prefix));
        std::fs::create_dir_all(&path).expect("create a scratch folder");
        ScratchDir(path)
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
