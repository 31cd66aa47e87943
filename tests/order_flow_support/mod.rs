//! What `order_flow_e2e` needs around the services: running an example
//! binary, a PostgreSQL database of its own, waiting on a condition.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A built example (`<target>/debug/examples/<name>`) running with its own
/// settings; killed when dropped.
pub(crate) struct Binary {
    name: &'static str,
    child: Option<Child>,
    base_url: String,
}

impl Binary {
    /// Starts `name` with `env` (and `BIND_ADDR=127.0.0.1:0`) in `dir`, and
    /// waits for its `listening on http://<addr>` line. Its output goes to
    /// `dir/<name>.log`.
    pub(crate) fn spawn(name: &'static str, env: &[(String, String)], dir: &Path) -> Binary {
        let path = example_path(name);
        assert!(
            path.exists(),
            "{} is not built (cargo test builds the examples)",
            path.display()
        );
        let log_path = dir.join(format!("{name}.log"));
        let mut child = Command::new(&path)
            .current_dir(dir)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("APP_CONFIG_DIR", config_dir(name))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let (found, listening) = mpsc::channel();
        for (stream, found) in [
            (
                Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
                Some(found),
            ),
            (Box::new(child.stderr.take().expect("stderr")), None),
        ] {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let (Some(found), Some(addr)) = (&found, line.strip_prefix("listening on "))
                    {
                        let _ = found.send(addr.trim().to_string());
                    }
                    let _ = writeln!(log, "{line}");
                }
            });
        }
        let base_url = listening
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("{name} did not print its address; its output:\n{log}")
            });
        Binary {
            name,
            child: Some(child),
            base_url,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// SIGKILL: no shutdown code runs.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then the exit code (`None`: killed after 30 s, or by a signal).
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "SIGTERM to {}", self.name);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

fn example_path(name: &str) -> PathBuf {
    // <target>/debug/deps/<this test> → <target>/debug/examples/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    profile.join("examples").join(name)
}

fn config_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
}

/// A fresh folder under the system's temporary one.
pub(crate) fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(core_testkit::unique_name(prefix));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Polls `check` every 50 ms until it answers `Some`, or `None` after `limit`.
pub(crate) async fn wait_until<T>(
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A database of its own on the PostgreSQL server; dropped by [`drop`](Self::drop).
#[cfg(feature = "postgres")]
pub(crate) struct PostgresDatabase {
    server: core_sdk::db::sql::SqlDatabase,
    name: String,
    /// Its URL.
    pub(crate) url: String,
}

#[cfg(feature = "postgres")]
impl PostgresDatabase {
    pub(crate) async fn create(server_url: &str) -> PostgresDatabase {
        use core_sdk::db::DatabaseSettings;
        let server =
            core_sdk::db::sql::SqlDatabase::connect(&DatabaseSettings::from_url(server_url))
                .await
                .expect("postgres");
        let name = core_testkit::unique_name("orders");
        server
            .query(&format!("CREATE DATABASE {name}"))
            .execute()
            .await
            .expect("create database");
        let (base, query) = server_url
            .split_once('?')
            .map_or((server_url, None), |(b, q)| (b, Some(q)));
        let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
        let url = match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        };
        PostgresDatabase { server, name, url }
    }

    pub(crate) async fn drop(self) {
        use core_sdk::db::DatabaseBase as _;
        let _ = self
            .server
            .query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute()
            .await;
        self.server.close().await;
    }
}

/// Publishes a message that is not an order event to `topic` and reports
/// whether it reached `<topic>.dead-letter`.
#[cfg(feature = "rabbitmq")]
pub(crate) async fn poison_is_dead_lettered(amqp_url: &str, topic: &str) -> bool {
    use core_sdk::mq::{ConsumeOptions, Message, MqSettings, Outcome, handler_fn};
    let queue = core_sdk::mq::connect(&MqSettings::from_url(amqp_url))
        .await
        .expect("rabbitmq");
    let (seen, mut dead) = tokio::sync::mpsc::unbounded_channel();
    // The dead-letter group must exist before the message is dead-lettered.
    let watcher = queue
        .consume(
            &ConsumeOptions::default().dead_letter_topic_for(topic),
            &core_testkit::unique_name("dead_letters"),
            handler_fn(move |delivery| {
                let seen = seen.clone();
                async move {
                    let _ = seen.send(delivery.message.id);
                    Ok(Outcome::Ack)
                }
            }),
            ConsumeOptions::default(),
        )
        .await
        .expect("consume dead letters");
    let poison = Message::new(topic.to_string(), "this is not JSON");
    let poison_id = poison.id;
    queue.publish(poison).await.expect("publish");
    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(id) = dead.recv().await {
            if id == poison_id {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    let _ = watcher.shutdown(Duration::from_secs(5)).await;
    let _ = queue.close().await;
    arrived
}
