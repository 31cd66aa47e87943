//! Cost per JSON event with five fields written to a file: core-log against
//! plain `tracing-subscriber` JSON (`fmt().json()`) on the same run, both
//! behind a non-blocking writer that blocks rather than drops.

use std::fs::File;
use std::hint::black_box;

use core_log::{FileSettings, LogContext, LogSettings, OverflowPolicy, Rotation};
use criterion::{Criterion, criterion_group, criterion_main};
use tempfile::TempDir;
use tracing::Dispatch;

fn emit(index: u64) {
    tracing::info!(
        user_id = "user-1234",
        order_id = black_box(index),
        amount = 99.5,
        paid = true,
        route = "/orders",
        "order placed"
    );
}

fn bench_events(c: &mut Criterion) {
    let dir = TempDir::new().unwrap();
    let mut group = c.benchmark_group("json_event_5_fields_to_file");

    let (writer, _plain_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(File::create(dir.path().join("plain.log")).unwrap());
    let plain = Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("info")
            .with_writer(writer)
            .finish(),
    );

    let settings = LogSettings {
        stdout: false,
        overflow: OverflowPolicy::Block,
        file: Some(FileSettings {
            directory: dir.path().to_path_buf(),
            file_name: "core-log.log".into(),
            rotation: Rotation::Never,
            keep_files: None,
            keep_days: None,
            ..FileSettings::default()
        }),
        ..LogSettings::default()
    };
    let (core, _core_guard) = core_log::build(&settings).unwrap();

    for (name, dispatch) in [("plain_tracing_subscriber", &plain), ("core_log", &core)] {
        tracing::dispatcher::with_default(dispatch, || {
            let mut index = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    index += 1;
                    emit(index);
                })
            });
        });
    }

    // The same event inside a bound context (two fields): core-log reads
    // them from the scope, the plain subscriber from the scope's span.
    for (name, dispatch) in [
        ("plain_tracing_subscriber_in_span", &plain),
        ("core_log_in_span", &core),
    ] {
        tracing::dispatcher::with_default(dispatch, || {
            LogContext::new()
                .request_id("req-1")
                .user_id("alice")
                .in_scope(|| {
                    let mut index = 0;
                    group.bench_function(name, |b| {
                        b.iter(|| {
                            index += 1;
                            emit(index);
                        })
                    });
                });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_events);
criterion_main!(benches);
