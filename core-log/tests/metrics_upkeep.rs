//! An installed recorder stays flat in memory when nobody reads
//! `/metrics`: the exporter keeps each raw histogram sample until an
//! upkeep folds it into the buckets, and before the upkeep thread only a
//! render did that. This file holds one test because it installs the
//! global recorder, as a service does.

use std::time::Duration;

use core_log::Metrics;

/// Resident memory of this process in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn histogram_samples_do_not_accumulate_without_a_scrape() {
    let interval = Duration::from_millis(50);
    let metrics = Metrics::install_with_upkeep(interval).unwrap();
    let record = |count: u32| {
        let latency = metrics::histogram!("http_request_duration_seconds", "route" => "/x");
        let size = metrics::histogram!("payload_bytes");
        for n in 0..count {
            latency.record(f64::from(n % 1000) / 1e4);
            size.record(f64::from(n));
        }
    };
    // Warm up allocations, then measure 8 M samples recorded with pauses
    // longer than the upkeep interval and never a render.
    record(200_000);
    std::thread::sleep(interval * 4);
    let before = rss_kib();
    for _ in 0..20 {
        record(200_000);
        std::thread::sleep(interval * 3);
    }
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    eprintln!("8 M histogram samples without a scrape: RSS +{grown_mib} MiB");
    // Kept until a scrape, 8 M samples hold well over 60 MiB.
    assert!(grown_mib < 16, "RSS grew by {grown_mib} MiB");
    assert!(
        metrics
            .render()
            .contains("http_request_duration_seconds_bucket")
    );
}
