//! The recorder [`Metrics`](super::Metrics) installs: the Prometheus
//! exporter's, with counters and latency histograms kept per thread.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use metrics_exporter_prometheus::formatting::{
    sanitize_label_key, sanitize_label_value, sanitize_metric_name, write_help_line,
    write_type_line,
};

use super::LATENCY_BUCKETS_SECONDS;
use super::per_thread::{ThreadCounter, ThreadHistogram};

/// The suffix of the histograms bucketed by [`LATENCY_BUCKETS_SECONDS`]; the
/// exporter renders other histograms as summaries.
pub(super) const LATENCY_SUFFIX: &str = "_seconds";

/// The `metrics` recorder behind [`Metrics`](super::Metrics): gauges and
/// summaries go to the Prometheus exporter; counters and latency histograms
/// (names ending in `_seconds`) are kept per thread, so that request threads
/// never write to one another's memory, and are read when the text is
/// rendered.
///
/// Install it with [`Metrics::install`](super::Metrics::install), or use it
/// locally from [`Metrics::local`](super::Metrics::local).
#[derive(Debug)]
pub struct MetricsRecorder {
    exporter: PrometheusRecorder,
    series: Arc<PerThreadSeries>,
}

impl MetricsRecorder {
    pub(super) fn new(exporter: PrometheusRecorder) -> MetricsRecorder {
        MetricsRecorder {
            exporter,
            series: Arc::default(),
        }
    }

    /// What the renders read.
    pub(super) fn series(&self) -> Arc<PerThreadSeries> {
        Arc::clone(&self.series)
    }
}

/// The per-thread series, by key, and the latency histograms' descriptions.
#[derive(Debug, Default)]
pub(super) struct PerThreadSeries {
    counters: RwLock<HashMap<Key, Arc<ThreadCounter>>>,
    histograms: RwLock<HashMap<Key, Arc<ThreadHistogram>>>,
    descriptions: RwLock<HashMap<KeyName, SharedString>>,
}

/// The series kept for `key`, made by `make` the first time: code that calls
/// `counter!` on every use registers the same key again each time.
fn series_for<T>(
    series: &RwLock<HashMap<Key, Arc<T>>>,
    key: &Key,
    make: impl FnOnce() -> T,
) -> Arc<T> {
    if let Some(kept) = series
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
    {
        return Arc::clone(kept);
    }
    let mut series = series.write().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        series
            .entry(key.clone())
            .or_insert_with(|| Arc::new(make())),
    )
}

impl PerThreadSeries {
    /// Adds the counts kept per thread to the exporter's counters.
    pub(super) fn flush_counters(&self) {
        let counters = self.counters.read().unwrap_or_else(PoisonError::into_inner);
        for counter in counters.values() {
            counter.flush();
        }
    }

    /// Appends the latency histograms to `text` in the Prometheus text
    /// format, grouped by name as the format requires.
    pub(super) fn render_histograms(&self, text: &mut String) {
        let histograms = self
            .histograms
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        // By the name as rendered: `jobs.run_seconds` and `jobs_run_seconds`
        // are one family in the text, as the exporter makes them.
        let mut by_name: BTreeMap<String, Vec<(&Key, _)>> = BTreeMap::new();
        for (key, histogram) in histograms.iter() {
            let totals = histogram.totals();
            // As the exporter: a histogram shows once it has a sample.
            if totals.count() > 0 {
                by_name
                    .entry(sanitize_metric_name(key.name()))
                    .or_default()
                    .push((key, totals));
            }
        }
        let descriptions = self
            .descriptions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (name, mut series) in by_name {
            series.sort_by(|(a, _), (b, _)| a.labels().cmp(b.labels()));
            let description = series
                .iter()
                .find_map(|(key, _)| descriptions.get(key.name()));
            if let Some(description) = description {
                write_help_line(text, &name, None, None, description);
            }
            write_type_line(text, &name, None, None, "histogram");
            for (key, totals) in series {
                let labels = label_text(key);
                let bounds = LATENCY_BUCKETS_SECONDS.iter().map(ToString::to_string);
                let le = bounds.chain(std::iter::once("+Inf".to_owned()));
                for (le, count) in le.zip(totals.at_or_below) {
                    write_line(text, &name, "_bucket", &labels, Some(&le), count);
                }
                write_line(text, &name, "_sum", &labels, None, totals.sum);
                write_line(text, &name, "_count", &labels, None, totals.count());
            }
            text.push('\n');
        }
    }
}

/// `key`'s labels as `name="value"` pairs joined by commas, sanitized as the
/// exporter sanitizes its own.
fn label_text(key: &Key) -> String {
    let mut text = String::new();
    for label in key.labels() {
        if !text.is_empty() {
            text.push(',');
        }
        let _ = write!(
            text,
            "{}=\"{}\"",
            sanitize_label_key(label.key()),
            sanitize_label_value(label.value())
        );
    }
    text
}

/// One sample line: `name` with `suffix`, the `labels` and the `le` bound.
fn write_line(
    text: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    le: Option<&str>,
    value: impl std::fmt::Display,
) {
    text.push_str(name);
    text.push_str(suffix);
    match (labels.is_empty(), le) {
        (true, None) => {}
        (false, None) => {
            let _ = write!(text, "{{{labels}}}");
        }
        (true, Some(le)) => {
            let _ = write!(text, "{{le=\"{le}\"}}");
        }
        (false, Some(le)) => {
            let _ = write!(text, "{{{labels},le=\"{le}\"}}");
        }
    }
    let _ = writeln!(text, " {value}");
}

impl Recorder for MetricsRecorder {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, description: SharedString) {
        self.exporter.describe_counter(name, unit, description);
    }

    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, description: SharedString) {
        self.exporter.describe_gauge(name, unit, description);
    }

    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, description: SharedString) {
        if name.as_str().ends_with(LATENCY_SUFFIX) {
            self.series
                .descriptions
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, description);
        } else {
            self.exporter.describe_histogram(name, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(series_for(&self.series.counters, key, || {
            ThreadCounter::new(self.exporter.register_counter(key, metadata))
        }))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.exporter.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if key.name().ends_with(LATENCY_SUFFIX) {
            Histogram::from_arc(series_for(
                &self.series.histograms,
                key,
                ThreadHistogram::default,
            ))
        } else {
            self.exporter.register_histogram(key, metadata)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_line;

    #[test]
    fn lines_are_written_in_the_prometheus_text_format() {
        let mut text = String::new();
        write_line(&mut text, "a_seconds", "_bucket", "", Some("0.5"), 3);
        write_line(&mut text, "a_seconds", "_sum", "route=\"/x\"", None, 1.5);
        write_line(&mut text, "a_seconds", "_count", "", None, 3);
        assert_eq!(
            text,
            "a_seconds_bucket{le=\"0.5\"} 3\na_seconds_sum{route=\"/x\"} 1.5\na_seconds_count 3\n"
        );
    }
}
