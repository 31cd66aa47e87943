//! Where lines end up: stdout, or a file rotated by time or by size.
//!
//! Time rotation uses `tracing-appender`'s rolling appender (its
//! `max_log_files` prunes old files); size rotation uses `file-rotate`, the
//! maintained crate for it (`rolling-file` has had no release since 2022).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use core_error::{Error, Result};
use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendCount, AppendTimestamp, FileLimit};
use file_rotate::{ContentLimit, FileRotate};
use tracing_appender::rolling::{RollingFileAppender, Rotation as TimeRotation};

use crate::settings::{FileSettings, Rotation};

/// Opens the file `settings` describe, checking every value first.
///
/// `section` names the settings section (`log.file`, `log.audit.file`) in
/// errors.
pub(crate) fn open_file(settings: &FileSettings, section: &str) -> Result<Box<dyn Write + Send>> {
    let retention = Retention::from_settings(settings, section)?;
    let name = &settings.file_name;
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(
            Error::invalid_input("the log file name must be a plain file name")
                .with_key(format!("{section}.file_name"))
                .with_context("value", name),
        );
    }
    prepare_directory(&settings.directory, section)?;

    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem, Some(extension)),
        _ => (name.as_str(), None),
    };
    let period = match settings.rotation {
        Rotation::Minutely => TimeRotation::MINUTELY,
        Rotation::Hourly => TimeRotation::HOURLY,
        Rotation::Daily => TimeRotation::DAILY,
        Rotation::Never => return open_plain(settings, section),
        Rotation::Size => return open_size_rotated(settings, section, retention),
    };
    let mut builder = RollingFileAppender::builder()
        .rotation(period)
        .filename_prefix(stem);
    if let Some(extension) = extension {
        builder = builder.filename_suffix(extension);
    }
    let periods_per_day = match settings.rotation {
        Rotation::Minutely => 24 * 60,
        Rotation::Hourly => 24,
        _ => 1,
    };
    match retention {
        Retention::Files(files) => builder = builder.max_log_files(files),
        Retention::Days(days) => {
            builder = builder.max_log_files((days as usize).saturating_mul(periods_per_day));
        }
        Retention::Forever => {}
    }
    let appender = builder.build(&settings.directory).map_err(|err| {
        Error::unavailable("cannot open the log file")
            .with_key(format!("{section}.directory"))
            .with_context("path", settings.directory.display())
            .with_source(err)
    })?;
    Ok(Box::new(appender))
}

fn open_plain(settings: &FileSettings, section: &str) -> Result<Box<dyn Write + Send>> {
    let path = settings.directory.join(&settings.file_name);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| file_error(err, section, &path))?;
    Ok(Box::new(file))
}

fn open_size_rotated(
    settings: &FileSettings,
    section: &str,
    retention: Retention,
) -> Result<Box<dyn Write + Send>> {
    let path = settings.directory.join(&settings.file_name);
    let max_bytes = usize::try_from(settings.max_bytes).unwrap_or(usize::MAX);
    if max_bytes == 0 {
        return Err(
            Error::invalid_input("size rotation needs max_bytes above zero")
                .with_key(format!("{section}.max_bytes")),
        );
    }
    // file-rotate panics on an unusable path; find out here and say so.
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| file_error(err, section, &path))?;
    let limit = ContentLimit::BytesSurpassed(max_bytes);
    let sink: Box<dyn Write + Send> = match retention {
        // file-rotate counts only the rotated files; ours include the live one.
        Retention::Files(files) => Box::new(FileRotate::new(
            &path,
            AppendCount::new(files - 1),
            limit,
            Compression::None,
            None,
        )),
        Retention::Days(days) => Box::new(FileRotate::new(
            &path,
            AppendTimestamp::default(FileLimit::Age(chrono::Duration::days(i64::from(days)))),
            limit,
            Compression::None,
            None,
        )),
        Retention::Forever => Box::new(FileRotate::new(
            &path,
            AppendTimestamp::default(FileLimit::Unlimited),
            limit,
            Compression::None,
            None,
        )),
    };
    Ok(sink)
}

fn prepare_directory(directory: &Path, section: &str) -> Result<()> {
    fs::create_dir_all(directory).map_err(|err| file_error(err, section, directory))?;
    let metadata = fs::metadata(directory).map_err(|err| file_error(err, section, directory))?;
    if metadata.permissions().readonly() {
        return Err(Error::permission_denied("the log directory is read-only")
            .with_key(format!("{section}.directory"))
            .with_context("path", directory.display()));
    }
    Ok(())
}

fn file_error(err: std::io::Error, section: &str, path: &Path) -> Error {
    Error::from(err)
        .with_key(format!("{section}.directory"))
        .with_context("path", path.display())
}

/// How many old files a rotated output keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retention {
    Files(usize),
    Days(u32),
    Forever,
}

impl Retention {
    fn from_settings(settings: &FileSettings, section: &str) -> Result<Retention> {
        match (settings.keep_files, settings.keep_days) {
            (Some(_), Some(_)) => Err(Error::invalid_input(
                "set keep_files or keep_days, not both",
            )
            .with_key(format!("{section}.keep_files"))),
            (Some(0), None) => Err(Error::invalid_input("keep_files must be at least 1")
                .with_key(format!("{section}.keep_files"))),
            (None, Some(0)) => Err(Error::invalid_input("keep_days must be at least 1")
                .with_key(format!("{section}.keep_days"))),
            (Some(files), None) => Ok(Retention::Files(files)),
            (None, Some(days)) => Ok(Retention::Days(days)),
            (None, None) => Ok(Retention::Forever),
        }
    }
}
