//! Skip a test whose server is down, or fail it when servers are required.

use std::io::Write as _;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::Service;

/// The environment variable that turns "skip" into "fail".
pub const REQUIRE_SERVICES_VAR: &str = "CORE_REQUIRE_SERVICES";

/// How long a reachability probe waits for a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `CORE_REQUIRE_SERVICES=1` (or `true`) is set, as `.ci/run` does.
pub fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES_VAR)
        .map(|value| matches!(value.trim(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Returns the URL of `service` if it accepts TCP connections.
///
/// When it does not, the test should end early: this prints the reason to
/// stderr (past the test harness's output capture, so it shows in every run)
/// and returns `None` — or panics with the same reason when
/// [`services_required`] is true, so CI cannot pass by skipping.
///
/// Use the [`require_service!`](crate::require_service) macro rather than
/// calling this directly.
pub async fn require(service: Service, test: &str) -> Option<String> {
    require_at(service, &service.url(), services_required(), test).await
}

/// [`require`] with the URL and the skip-or-fail choice given explicitly.
///
/// ```
/// use core_testkit::{Service, require_at};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Nothing listens on port 1, so the test would be skipped.
/// let url = require_at(Service::Redis, "redis://127.0.0.1:1", false, "doc").await;
/// assert_eq!(url, None);
/// # }
/// ```
///
/// # Panics
///
/// When the server is unreachable and `required` is true.
pub async fn require_at(service: Service, url: &str, required: bool, test: &str) -> Option<String> {
    let address = service.first_address(url);
    let probe = tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(address.as_str())).await;
    let failure = match probe {
        Ok(Ok(_)) => return Some(url.to_string()),
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {PROBE_TIMEOUT:?}"),
    };
    let reason = format!(
        "{service} is unreachable at {address} ({failure}); set {} or run scripts/services.sh",
        service.env_var()
    );
    if required {
        panic!("{test}: {reason} [{REQUIRE_SERVICES_VAR}=1 makes this a failure]");
    }
    // Written to stderr directly: libtest captures `eprintln!`, and a skip
    // that nobody sees is indistinguishable from a pass.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {reason} [set {REQUIRE_SERVICES_VAR}=1 to fail instead]"
    );
    None
}

/// The path of the enclosing function, such as `smoke::redis_round_trip`.
#[doc(hidden)]
#[macro_export]
macro_rules! __test_name {
    () => {{
        fn here() {}
        let name = ::std::any::type_name_of_val(&here);
        let name = name.strip_suffix("::here").unwrap_or(name);
        name.trim_end_matches("::{{closure}}")
    }};
}

/// Evaluates to the URL of a service, or ends the enclosing test early.
///
/// Expands to a call to [`require`] named after the enclosing function;
/// `return`s from the (async) test function when the service is unreachable
/// and not required.
///
/// ```no_run
/// use core_testkit::{Service, require_service};
///
/// #[tokio::test]
/// async fn redis_round_trip() {
///     let url = require_service!(Service::Redis);
///     // ... connect to `url` with the backend under test ...
/// }
/// ```
///
/// In a function that returns a value, give what to return when skipping:
///
/// ```no_run
/// use core_testkit::{Service, require_service};
///
/// async fn redis_url() -> Option<String> {
///     let url = require_service!(Service::Redis, None);
///     Some(url)
/// }
/// ```
#[macro_export]
macro_rules! require_service {
    ($service:expr) => {
        $crate::require_service!($service, ())
    };
    ($service:expr, $skipped:expr) => {
        match $crate::require($service, $crate::__test_name!()).await {
            Some(url) => url,
            None => return $skipped,
        }
    };
}
