//! Stopping and starting a shared server under a live client, for the
//! restart test binaries.

use std::future::Future;
use std::process::Command;
use std::time::Duration;

use core_testkit::Service;

fn services(action: &str, server: &str) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/services.sh");
    Command::new("bash")
        .args([script, action, server])
        .status()
        .is_ok_and(|status| status.success())
}

/// Starts the server again however the test ends.
struct Restart(&'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        assert!(
            services("start", self.0),
            "scripts/services.sh start {} failed",
            self.0
        );
    }
}

/// Whether `url` points at the local server `scripts/services.sh` controls;
/// a remote one is never stopped.
pub(crate) fn is_local(service: Service, url: &str) -> bool {
    let local =
        Service::first_address(service, url) == format!("127.0.0.1:{}", service.default_port());
    if !local {
        eprintln!("SKIPPED: {service} is not the local server this test can restart");
    }
    local
}

/// Stops `server`, runs `during_outage` under a 30-second deadline (calls
/// must fail fast, not hang), and starts the server again however that ends.
pub(crate) async fn during_outage(server: &'static str, during_outage: impl Future<Output = ()>) {
    let _restart = Restart(server);
    assert!(
        services("stop", server),
        "scripts/services.sh stop {server} failed"
    );
    tokio::time::timeout(Duration::from_secs(30), during_outage)
        .await
        .expect("calls during the outage returned within the deadline");
}

/// Retries `attempt` for up to 30 seconds until it succeeds: the same client
/// must work again once the server is back.
pub(crate) async fn recovered<T, F, Fut>(server: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = core_db::Result<T>>,
{
    let mut last = None;
    for _ in 0..150 {
        match attempt().await {
            Ok(value) => return value,
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the same client did not recover after {server} came back: {last:?}");
}
