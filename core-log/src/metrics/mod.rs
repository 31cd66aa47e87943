//! Prometheus metrics for every crate, through the `metrics` facade.
//!
//! Any crate records with `metrics::counter!`/`gauge!`/`histogram!`; once a
//! [`Metrics`] recorder is installed, [`Metrics::render`] gives the text a
//! `/metrics` handler returns. The exporter is built without its HTTP
//! listener: the service's own HTTP server serves the text.

mod per_thread;
mod recorder;

use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, Result};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_process::Collector;

pub use self::recorder::MetricsRecorder;
use self::recorder::PerThreadSeries;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The histogram buckets, in seconds, of every metric whose name ends in
/// `_seconds` (request and call latencies): from half a millisecond, where
/// cache hits land, to ten seconds, where timeouts do. Other histograms
/// render as summaries.
pub const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often an installed recorder folds the summaries' samples recorded
/// since into their quantiles. The exporter keeps every raw sample until
/// then; without it, a service whose `/metrics` nobody reads grew by every
/// sample it ever recorded (~56 bytes a request, when latencies were
/// exporter histograms too). Every second: at 44 k requests a second, 5 s
/// of samples held 3.5 MiB more (`SCRAPE=0` against `SCRAPE=1`,
/// `scripts/peers.sh`), and folding takes microseconds. Latency
/// histograms keep no samples: each thread counts its own per bucket.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A handle on the Prometheus recorder, rendering the `/metrics` text.
///
/// ```
/// use core_log::Metrics;
///
/// let (recorder, metrics) = Metrics::local();
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("orders_placed_total").increment(2);
///     assert!(metrics.render().contains("orders_placed_total 2"));
/// });
/// ```
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    series: Arc<PerThreadSeries>,
    process: Collector,
}

impl Metrics {
    /// Installs the process-wide recorder, with standard process metrics
    /// (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
    /// `process_open_fds`, ...) refreshed on every render.
    ///
    /// Fails with [`Conflict`](core_error::ErrorKind::Conflict) when a
    /// recorder is installed already.
    pub fn install() -> Result<Metrics> {
        Metrics::install_with_upkeep(UPKEEP_INTERVAL)
    }

    /// [`install`](Metrics::install), folding samples every `interval`
    /// instead of every [`UPKEEP_INTERVAL`].
    ///
    /// # Errors
    ///
    /// As for `install`; [`Internal`](core_error::ErrorKind::Internal) if
    /// the upkeep thread cannot be started.
    pub fn install_with_upkeep(interval: Duration) -> Result<Metrics> {
        let (recorder, metrics) = Metrics::local();
        metrics::set_global_recorder(recorder).map_err(|_| {
            Error::conflict("a metrics recorder is installed already")
                .with_operation("metrics.install")
        })?;
        metrics.process.describe();
        // The recorder is global, so the thread lives as long as the process.
        let handle = metrics.handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    handle.run_upkeep();
                }
            })
            .map_err(|err| {
                Error::internal(format!("cannot start the metrics upkeep thread: {err}"))
                    .with_operation("metrics.install")
            })?;
        Ok(metrics)
    }

    /// A recorder that is not installed, for tests and for composing with
    /// other recorders; use it with `metrics::with_local_recorder`.
    pub fn local() -> (MetricsRecorder, Metrics) {
        // The exporter never sees a latency histogram: it renders the others
        // as summaries.
        let exporter = PrometheusBuilder::new().build_recorder();
        let handle = exporter.handle();
        let recorder = MetricsRecorder::new(exporter);
        let metrics = Metrics {
            handle,
            series: recorder.series(),
            process: Collector::default(),
        };
        (recorder, metrics)
    }

    /// The Prometheus text exposition of every metric recorded so far.
    pub fn render(&self) -> String {
        self.process.collect();
        self.series.flush_counters();
        self.handle.run_upkeep();
        let mut text = self.handle.render();
        self.series.render_histograms(&mut text);
        text
    }
}
