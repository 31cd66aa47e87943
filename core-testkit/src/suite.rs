//! The conformance-suite pattern: behaviour written once, run per backend.
//!
//! Each trait (`CacheBase`, `DatabaseBase`, `MessageQueueBase`) has one suite
//! of cases in its crate's `tests/` folder. A case is a plain async function
//! taking the subject under test, written against the trait only:
//!
//! ```ignore
//! pub async fn set_then_get(cache: &dyn CacheBase) { /* ... */ }
//! ```
//!
//! [`conformance_suite!`](crate::conformance_suite) turns the list of cases
//! into one `#[tokio::test]` per case and backend, so `cargo test redis` runs
//! every case against Redis and a failure names both the backend and the case.
//! A backend is done when every case passes against its real server.

/// Instantiates every case of a behaviour suite for one backend.
///
/// - `suite`: the module holding the case functions (an absolute path such as
///   `crate::suite`).
/// - `backend`: the name of the module generated for this backend.
/// - `setup`: an async function returning `Option<Subject>`; `None` means the
///   server is unreachable and the cases are skipped (see
///   [`require_service!`](crate::require_service)).
/// - `cases`: the case functions, each `async fn(&Subject)`.
///
/// ```
/// mod suite {
///     pub async fn holds_what_was_pushed(list: &Vec<u32>) {
///         assert_eq!(list.first(), Some(&1));
///     }
/// }
///
/// async fn in_memory() -> Option<Vec<u32>> {
///     Some(vec![1, 2, 3])
/// }
///
/// core_testkit::conformance_suite! {
///     suite: crate::suite,
///     backend: memory,
///     setup: crate::in_memory,
///     cases: [holds_what_was_pushed],
/// }
/// # fn main() {}
/// ```
///
/// A crate with many backends wraps this in a macro of its own that lists the
/// cases once, so adding a backend is a single line.
#[macro_export]
macro_rules! conformance_suite {
    (
        suite: $suite:path,
        backend: $backend:ident,
        setup: $setup:path,
        cases: [$($case:ident),+ $(,)?] $(,)?
    ) => {
        #[allow(non_snake_case)]
        mod $backend {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    use $suite as suite;
                    let Some(subject) = $setup().await else {
                        return;
                    };
                    suite::$case(&subject).await;
                }
            )+
        }
    };
}
