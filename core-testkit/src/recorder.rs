//! A metrics recorder that keeps what it was asked to register.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};

/// The names and labels of the metrics registered while it is the
/// recorder, and the counters' values: install it with
/// [`metrics::with_local_recorder`] around the calls under test.
///
/// ```
/// use core_testkit::Recorded;
///
/// let recorded = Recorded::default();
/// metrics::with_local_recorder(&recorded, || {
///     metrics::counter!("jobs_total", "outcome" => "ok").increment(2);
/// });
/// assert_eq!(recorded.names(), ["jobs_total{outcome=ok}"]);
/// assert_eq!(recorded.counted("jobs_total{outcome=ok}"), 2);
/// ```
#[derive(Debug, Default)]
pub struct Recorded {
    names: Mutex<Vec<String>>,
    counters: Mutex<Vec<(String, Arc<AtomicU64>)>>,
}

impl Recorded {
    fn note(&self, key: &Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        let entry = format!("{}{{{}}}", key.name(), labels.join(","));
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry.clone());
        entry
    }

    /// Every metric registered, as `name{label=value,…}`, in order (a
    /// metric registered twice is listed twice).
    pub fn names(&self) -> Vec<String> {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The total of the counter `name{label=value,…}` over however many
    /// times it was registered.
    pub fn counted(&self, name: &str) -> u64 {
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(registered, _)| registered == name)
            .map(|(_, value)| value.load(Ordering::SeqCst))
            .sum()
    }
}

impl metrics::Recorder for Recorded {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let name = self.note(key);
        let value = Arc::new(AtomicU64::new(0));
        self.counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, Arc::clone(&value)));
        Counter::from_arc(value)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.note(key);
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.note(key);
        Histogram::noop()
    }
}
