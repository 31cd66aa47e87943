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
