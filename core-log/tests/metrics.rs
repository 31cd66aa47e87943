//! The Prometheus text parses and carries what the crates recorded.

use std::collections::HashMap;

use core_log::Metrics;

/// One sample line: its metric name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the Prometheus text exposition format strictly enough to fail on
/// anything a scraper would reject.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let keyword = parts.next().unwrap();
            let name = parts.next().unwrap_or_default();
            assert!(matches!(keyword, "HELP" | "TYPE"), "bad comment: {line}");
            assert!(is_metric_name(name), "bad name in: {line}");
            if keyword == "TYPE" {
                let kind = parts.next().unwrap_or_default();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "bad type: {line}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("open labels: {line}"));
                let labels = body
                    .split(',')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, quoted) = pair.split_once('=').unwrap();
                        assert!(is_metric_name(key), "bad label: {line}");
                        let value = quoted
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or_else(|| panic!("unquoted label: {line}"));
                        (key.to_owned(), value.to_owned())
                    })
                    .collect();
                (name, labels)
            }
            None => (series, HashMap::new()),
        };
        assert!(is_metric_name(name), "bad name: {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

#[test]
fn rendered_text_parses_and_carries_a_test_counter() {
    let (recorder, metrics) = Metrics::local();
    let rendered = metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("orders_placed_total", "Orders placed.");
        let counter = metrics::counter!("orders_placed_total", "route" => "/orders");
        counter.increment(3);
        counter.increment(4);
        metrics::gauge!("queue_depth").set(12.5);
        metrics::histogram!("request_seconds").record(0.25);
        metrics.render()
    });
    let samples = parse(&rendered);
    let orders = samples
        .iter()
        .find(|sample| sample.name == "orders_placed_total")
        .unwrap_or_else(|| panic!("{rendered}"));
    assert_eq!(orders.value, 7.0);
    assert_eq!(orders.labels["route"], "/orders");
    assert!(
        samples
            .iter()
            .any(|s| s.name == "queue_depth" && s.value == 12.5)
    );
    assert!(rendered.contains("# TYPE orders_placed_total counter"));
}

#[test]
fn latencies_render_as_histograms_with_the_standard_buckets() {
    let (recorder, metrics) = Metrics::local();
    let rendered = metrics::with_local_recorder(&recorder, || {
        let latency = metrics::histogram!("http_request_duration_seconds", "route" => "/users");
        latency.record(0.003);
        latency.record(0.2);
        metrics::histogram!("batch_size").record(40.0);
        metrics.render()
    });
    assert!(
        rendered.contains("# TYPE http_request_duration_seconds histogram"),
        "{rendered}"
    );
    let samples = parse(&rendered);
    let buckets: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "http_request_duration_seconds_bucket")
        .collect();
    assert_eq!(
        buckets.len(),
        core_log::LATENCY_BUCKETS_SECONDS.len() + 1,
        "one bucket per bound and +Inf: {rendered}"
    );
    let at = |le: &str| {
        buckets
            .iter()
            .find(|s| s.labels["le"] == le)
            .unwrap_or_else(|| panic!("no le={le} bucket: {rendered}"))
            .value
    };
    assert_eq!(
        (at("0.0025"), at("0.005"), at("0.25"), at("+Inf")),
        (0.0, 1.0, 2.0, 2.0)
    );
    assert!(
        rendered.contains("# TYPE batch_size summary"),
        "other histograms stay summaries: {rendered}"
    );
}

#[test]
fn counts_and_latencies_recorded_on_many_threads_render_as_their_totals() {
    let (recorder, metrics) = Metrics::local();
    let (jobs, latency) = metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("job_duration_seconds", "How long a job ran.");
        (
            metrics::counter!("jobs_total", "queue" => "mail"),
            metrics::histogram!("job_duration_seconds", "queue" => "mail"),
        )
    });
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    jobs.increment(1);
                    latency.record(0.002);
                }
            });
        }
    });
    // Registering the same key again counts in the same series.
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("jobs_total", "queue" => "mail").increment(5);
    });
    let value = |rendered: &str, name: &str, le: Option<&str>| {
        parse(rendered)
            .iter()
            .find(|s| {
                s.name == name
                    && le.is_none_or(|le| s.labels.get("le").map(String::as_str) == Some(le))
            })
            .unwrap_or_else(|| panic!("no {name} {le:?}: {rendered}"))
            .value
    };
    let rendered = metrics.render();
    assert_eq!(value(&rendered, "jobs_total", None), 4005.0);
    assert_eq!(value(&rendered, "job_duration_seconds_count", None), 4000.0);
    assert_eq!(
        value(&rendered, "job_duration_seconds_bucket", Some("0.001")),
        0.0
    );
    assert_eq!(
        value(&rendered, "job_duration_seconds_bucket", Some("0.0025")),
        4000.0
    );
    assert!((value(&rendered, "job_duration_seconds_sum", None) - 8.0).abs() < 1e-9);
    assert!(
        rendered.contains("# HELP job_duration_seconds How long a job ran."),
        "{rendered}"
    );
    // A second render counts nothing twice.
    assert_eq!(value(&metrics.render(), "jobs_total", None), 4005.0);
}

#[test]
fn latency_names_and_labels_outside_prometheus_syntax_render_sanitized() {
    let (recorder, metrics) = Metrics::local();
    let rendered = metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("jobs.run_seconds", "How long a job ran.");
        metrics::histogram!("jobs.run_seconds", "queue.name" => "mail").record(0.002);
        metrics.render()
    });
    // `parse` fails on any name or label a scraper would reject.
    let samples = parse(&rendered);
    let count = samples
        .iter()
        .find(|s| s.name == "jobs_run_seconds_count")
        .unwrap_or_else(|| panic!("{rendered}"));
    assert_eq!(count.value, 1.0);
    assert_eq!(count.labels["queue_name"], "mail", "{rendered}");
    assert!(
        rendered.contains("# HELP jobs_run_seconds How long a job ran."),
        "{rendered}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn process_metrics_are_rendered() {
    let (recorder, metrics) = Metrics::local();
    let rendered = metrics::with_local_recorder(&recorder, || metrics.render());
    let samples = parse(&rendered);
    let resident = samples
        .iter()
        .find(|sample| sample.name == "process_resident_memory_bytes")
        .unwrap_or_else(|| panic!("{rendered}"));
    assert!(resident.value > 0.0);
    assert!(
        samples
            .iter()
            .any(|s| s.name == "process_cpu_seconds_total")
    );
}

#[test]
fn the_global_recorder_installs_once() {
    let metrics = Metrics::install().unwrap();
    metrics::counter!("installed_total").increment(1);
    assert!(
        parse(&metrics.render())
            .iter()
            .any(|s| s.name == "installed_total" && s.value == 1.0)
    );
    let err = Metrics::install().err().unwrap();
    assert_eq!(err.kind(), core_log::ErrorKind::Conflict);
}
