//! Counters and latency histograms that each thread writes in its own
//! memory.
//!
//! The exporter's own handles are shared atomics: a counter is two atomic
//! additions and a histogram sample a push onto a lock-free list (an epoch
//! pin, a fence and three atomic operations), each on a cache line every
//! worker thread writes, and the list holds every sample until an upkeep
//! folds it. Here a thread adds to its own slot with a plain load and store,
//! a latency sample is one count in its bucket, and a render sums the
//! slots: nothing grows with the requests (on servers, RSS after load 19.9
//! MiB instead of 22.0; BENCHMARKS.md, "Metrics kept per thread"). The
//! slots are [`CachePadded`]: those of different threads sit side by side,
//! and two threads writing one cache line would pass it between their cores.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use crossbeam_utils::CachePadded;
use metrics::{CounterFn, HistogramFn};
use thread_local::ThreadLocal;

use super::LATENCY_BUCKETS_SECONDS;

/// Adds `amount` to a slot only its own thread writes: no atomic
/// read-modify-write is needed, and readers see either value.
fn add(slot: &AtomicU64, amount: u64) {
    slot.store(slot.load(Relaxed).wrapping_add(amount), Relaxed);
}

/// A counter whose increments stay in the incrementing thread's slot until
/// [`flush`](ThreadCounter::flush) adds them to the exporter's counter.
#[derive(Debug)]
pub(super) struct ThreadCounter {
    counts: ThreadLocal<CachePadded<AtomicU64>>,
    /// The slots' total the exporter's counter holds already.
    flushed: AtomicU64,
    exporter: metrics::Counter,
}

impl ThreadCounter {
    pub(super) fn new(exporter: metrics::Counter) -> ThreadCounter {
        ThreadCounter {
            counts: ThreadLocal::new(),
            flushed: AtomicU64::new(0),
            exporter,
        }
    }

    /// The sum of every thread's slot: counts never leave a slot, so a
    /// thread that ended keeps its share (its slot goes to the next thread).
    fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0, |sum, slot| sum.wrapping_add(slot.load(Relaxed)))
    }

    /// Adds what was counted since the last flush to the exporter's counter.
    pub(super) fn flush(&self) {
        let total = self.total();
        // Two renders may flush at once: only the larger total is added, once.
        let flushed = self.flushed.fetch_max(total, Relaxed);
        if total > flushed {
            self.exporter.increment(total - flushed);
        }
    }
}

impl CounterFn for ThreadCounter {
    fn increment(&self, value: u64) {
        add(self.counts.get_or_default(), value);
    }

    /// Raises the exporter's counter to `value`; increments counted since
    /// the last render are added on top at the next one.
    fn absolute(&self, value: u64) {
        self.exporter.absolute(value);
    }
}

/// Slots per latency histogram: one per bucket bound and one above the last.
const BUCKETS: usize = LATENCY_BUCKETS_SECONDS.len() + 1;

/// One thread's samples: a count per bucket (not cumulative) and the sum.
#[derive(Debug, Default)]
struct Samples {
    counts: [AtomicU64; BUCKETS],
    /// An `f64`'s bits.
    sum: AtomicU64,
}

/// A histogram over [`LATENCY_BUCKETS_SECONDS`] kept as counts per bucket in
/// each recording thread's slot; the exporter never sees its samples, and
/// the recorder renders it.
#[derive(Debug, Default)]
pub(super) struct ThreadHistogram {
    samples: ThreadLocal<CachePadded<Samples>>,
}

/// What a render reads from a [`ThreadHistogram`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Totals {
    /// Cumulative: the samples at or below each bound, then all of them.
    pub(super) at_or_below: [u64; BUCKETS],
    pub(super) sum: f64,
}

impl Totals {
    /// How many samples were recorded.
    pub(super) fn count(&self) -> u64 {
        self.at_or_below[BUCKETS - 1]
    }
}

impl ThreadHistogram {
    /// The totals over every thread's slot.
    pub(super) fn totals(&self) -> Totals {
        let mut counts = [0_u64; BUCKETS];
        let mut sum = 0.0;
        for slot in &self.samples {
            for (total, count) in counts.iter_mut().zip(&slot.counts) {
                *total = total.wrapping_add(count.load(Relaxed));
            }
            sum += f64::from_bits(slot.sum.load(Relaxed));
        }
        let mut at_or_below = [0_u64; BUCKETS];
        let mut running = 0_u64;
        for (cumulative, count) in at_or_below.iter_mut().zip(counts) {
            running = running.wrapping_add(count);
            *cumulative = running;
        }
        Totals { at_or_below, sum }
    }
}

impl HistogramFn for ThreadHistogram {
    fn record(&self, value: f64) {
        // A NaN is counted above every bound, as the exporter counts it in
        // the total only; it makes the sum NaN there too.
        let bucket = if value.is_nan() {
            BUCKETS - 1
        } else {
            LATENCY_BUCKETS_SECONDS.partition_point(|bound| *bound < value)
        };
        let samples = self.samples.get_or_default();
        add(&samples.counts[bucket], 1);
        let sum = f64::from_bits(samples.sum.load(Relaxed)) + value;
        samples.sum.store(sum.to_bits(), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use metrics::{CounterFn, HistogramFn};

    use super::{ThreadCounter, ThreadHistogram};

    #[test]
    fn counts_from_many_threads_add_up_and_flush_once() {
        let counter = Arc::new(ThreadCounter::new(metrics::Counter::noop()));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let counter = Arc::clone(&counter);
                scope.spawn(move || {
                    for _ in 0..10_000 {
                        counter.increment(1);
                    }
                });
            }
        });
        assert_eq!(counter.total(), 80_000);
        counter.flush();
        counter.flush();
        assert_eq!(
            counter.flushed.load(std::sync::atomic::Ordering::Relaxed),
            80_000
        );
    }

    #[test]
    fn samples_land_in_the_first_bucket_whose_bound_holds_them() {
        let histogram = ThreadHistogram::default();
        // 0.0005 is a bound: a sample equal to it belongs to its bucket.
        for value in [0.0001, 0.0005, 0.003, 0.2, 11.0, f64::INFINITY] {
            histogram.record(value);
        }
        let totals = histogram.totals();
        assert_eq!(totals.at_or_below[0], 2, "{totals:?}");
        assert_eq!(totals.at_or_below[3], 3, "{totals:?}"); // le 0.005
        assert_eq!(totals.at_or_below[8], 4, "{totals:?}"); // le 0.25
        assert_eq!(totals.at_or_below[13], 4, "{totals:?}"); // le 10
        assert_eq!(totals.count(), 6);
        assert_eq!(totals.sum, f64::INFINITY);
    }
}
