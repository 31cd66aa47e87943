//! Reads that go around an unavailable cache, and invalidations that wait
//! for its return.
//!
//! A cache in front of a database is an optimisation: while its server is
//! down, [`get_or_set`](crate::Cache::get_or_set) serves from the loader
//! rather than fail the request. After one call finds the backend
//! unavailable, the circuit opens: for [`BypassSettings::open_for`] every
//! `get_or_set` goes straight to the loader without waiting for the
//! backend's timeout, then one call probes the backend again. Keys whose
//! [`invalidate`](crate::Cache::invalidate) failed meanwhile are remembered
//! and deleted before the cache serves anything again, so an entry that
//! went stale during the outage does not survive its end on this instance.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When `get_or_set` stops asking an unavailable backend, and for how long.
///
/// ```
/// use std::time::Duration;
/// use core_cache::BypassSettings;
///
/// let settings = BypassSettings::default();
/// assert!(settings.enabled);
/// assert_eq!(settings.open_for, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BypassSettings {
    /// Whether `get_or_set` falls back to the loader at all; off, it fails
    /// with the backend's error.
    pub enabled: bool,
    /// How long the loader alone serves after a failure before the backend
    /// is tried again.
    pub open_for: Duration,
}

impl Default for BypassSettings {
    fn default() -> BypassSettings {
        BypassSettings {
            enabled: true,
            open_for: Duration::from_secs(1),
        }
    }
}

/// What `get_or_set` should do with the backend now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Ask the backend.
    Backend,
    /// The circuit is open: go straight to the loader.
    Loader,
}

#[derive(Debug)]
pub(crate) struct Bypass {
    settings: BypassSettings,
    /// Whether the circuit is open or invalidations wait: the one check
    /// (no lock) a read pays while the backend is healthy.
    degraded: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    open_until: Option<Instant>,
    /// Full keys to delete once the backend answers again.
    pending: HashSet<String>,
}

impl Bypass {
    pub(crate) fn new(settings: BypassSettings) -> Bypass {
        Bypass {
            settings,
            degraded: AtomicBool::new(false),
            state: Mutex::default(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn route(&self) -> Route {
        if !self.is_degraded() {
            return Route::Backend;
        }
        let mut state = self.state();
        match state.open_until {
            Some(until) if Instant::now() < until => Route::Loader,
            Some(_) => {
                // Half-open: this call probes; the others keep bypassing
                // until it has answered.
                state.open_until = Some(Instant::now() + self.settings.open_for);
                Route::Backend
            }
            None => Route::Backend,
        }
    }

    /// The backend failed with a temporary error: open the circuit.
    pub(crate) fn failed(&self, prefix: &str) {
        let mut state = self.state();
        if state.open_until.is_none() {
            tracing::warn!(
                namespace = prefix,
                "the cache is unavailable; get_or_set reads from the loader until it answers again"
            );
            metrics::counter!("cache_bypass_opened_total").increment(1);
        }
        state.open_until = Some(Instant::now() + self.settings.open_for);
        self.degraded.store(true, Ordering::Release);
    }

    /// The keys still to invalidate; they stay pending (bypassed) until
    /// [`forget`](Bypass::forget).
    pub(crate) fn pending_keys(&self) -> Vec<String> {
        self.state().pending.iter().cloned().collect()
    }

    /// The backend answered: the circuit closes.
    pub(crate) fn answered(&self) {
        if !self.is_degraded() {
            return;
        }
        let mut state = self.state();
        if state.open_until.take().is_some() {
            tracing::info!("the cache answers again; get_or_set uses it");
        }
        self.degraded
            .store(!state.pending.is_empty(), Ordering::Release);
    }

    /// `full_key`'s deferred invalidation is done.
    pub(crate) fn forget(&self, full_key: &str) {
        let mut state = self.state();
        state.pending.remove(full_key);
        let degraded = state.open_until.is_some() || !state.pending.is_empty();
        self.degraded.store(degraded, Ordering::Release);
    }

    /// Whether the circuit is open or invalidations wait: the cheap test
    /// before [`answered`](Bypass::answered) on every successful read.
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    /// Remembers `full_key` to delete when the backend is back.
    pub(crate) fn defer_invalidation(&self, full_key: String) {
        let mut state = self.state();
        state.pending.insert(full_key);
        if state.open_until.is_none() {
            state.open_until = Some(Instant::now() + self.settings.open_for);
        }
        self.degraded.store(true, Ordering::Release);
    }

    /// Whether `full_key` waits for an invalidation: it must not be served
    /// from the cache, which may still hold the old value.
    pub(crate) fn is_pending(&self, full_key: &str) -> bool {
        self.is_degraded() && self.state().pending.contains(full_key)
    }
}

/// Whether `err` means the backend could not be reached (so bypass it)
/// rather than a problem with the call itself.
pub(crate) fn is_outage(err: &core_error::Error) -> bool {
    matches!(
        err.kind(),
        core_error::ErrorKind::Unavailable | core_error::ErrorKind::Timeout
    )
}
