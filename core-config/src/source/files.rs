//! Finding `config/<name>.<format>`.

use std::path::{Path, PathBuf};

use config::FileFormat;
use core_error::{Error, Result};

/// The file formats read, by extension.
pub(crate) const FORMATS: [(&str, FileFormat); 5] = [
    ("toml", FileFormat::Toml),
    ("yaml", FileFormat::Yaml),
    ("yml", FileFormat::Yaml),
    ("json", FileFormat::Json),
    ("ini", FileFormat::Ini),
];

/// The one file `<folder>/<stem>.<ext>` that exists, if any. Two formats of
/// the same stem are refused rather than silently picking one.
pub(crate) fn find_config_file(folder: &Path, stem: &str) -> Result<Option<(PathBuf, FileFormat)>> {
    // A folder (or a socket...) where a file is expected is a mistake, not
    // an absent file: skipping it would start on the defaults.
    if let Some((path, _)) = FORMATS
        .iter()
        .map(|(ext, format)| (folder.join(format!("{stem}.{ext}")), *format))
        .find(|(path, _)| path.exists() && !path.is_file())
    {
        return Err(Error::invalid_input(format!(
            "{} is not a file; the settings of {stem:?} must be a file",
            path.display()
        ))
        .with_key(path.display().to_string())
        .with_operation("config.load"));
    }
    let mut found = FORMATS
        .iter()
        .map(|(ext, format)| (folder.join(format!("{stem}.{ext}")), *format))
        .filter(|(path, _)| path.is_file());
    let first = found.next();
    if let Some((second, _)) = found.next() {
        let first_path = first.as_ref().map(|(path, _)| path.display().to_string());
        return Err(Error::conflict(format!(
            "two config files for {stem:?}: {} and {}; keep one",
            first_path.unwrap_or_default(),
            second.display()
        ))
        .with_operation("config.load"));
    }
    Ok(first)
}

/// The text of a configuration file, refused with the line of the first
/// byte that is not UTF-8 (the `config` crate would replace it with U+FFFD
/// and carry on with a value nobody wrote).
pub(crate) fn check_utf8(path: &Path, shown: &str) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|err| {
        Error::from(err)
            .with_operation("config.load")
            .with_key(shown.to_owned())
    })?;
    if let Err(err) = std::str::from_utf8(&bytes) {
        let line = bytes[..err.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        return Err(
            Error::invalid_input(format!("{shown}: line {line} is not valid UTF-8"))
                .with_key(shown.to_owned())
                .with_context("line", line)
                .with_operation("config.load"),
        );
    }
    Ok(())
}
