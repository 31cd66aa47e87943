//! Re-encrypting every `ENC(...)` value of a file to a new key.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use core_error::{Error, Result};
use secrecy::ExposeSecret;

use super::{AesKey, EncValue, encrypt};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// How many `ENC(...)` values were re-encrypted.
    pub values: usize,
    /// The copy of the file as it was before, still readable with the old key.
    pub backup: PathBuf,
}

/// Re-encrypts every `ENC(...)` value in `path` from `old` to `new`.
///
/// The file is rewritten atomically: every value is opened first (any failure
/// leaves the file untouched and names the line), the original is copied to a
/// backup next to it, the new text is written to a temporary file in the same
/// folder, flushed to disk, and renamed over the original. Works on any of the
/// supported formats and on `.env`-style files, because it edits the text and
/// not a parsed tree: comments and layout survive.
///
/// ```
/// use core_config::{AesKey, decrypt, encrypt, rotate_file};
/// use secrecy::ExposeSecret;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join(".secrets");
/// let (old, new) = (AesKey::generate().unwrap(), AesKey::generate().unwrap());
/// std::fs::write(&path, format!("APP__DB__PASSWORD={}\n", encrypt(&old, "pw").unwrap())).unwrap();
///
/// let rotation = rotate_file(&path, &old, &new).unwrap();
/// assert_eq!(rotation.values, 1);
/// let text = std::fs::read_to_string(&path).unwrap();
/// let value = text.trim().strip_prefix("APP__DB__PASSWORD=").unwrap();
/// assert_eq!(decrypt(&new, value).unwrap().expose_secret(), "pw");
/// assert!(decrypt(&old, value).is_err());
/// ```
pub fn rotate_file(path: &Path, old: &AesKey, new: &AesKey) -> Result<Rotation> {
    let shown = path.display().to_string();
    let original = fs::read_to_string(path).map_err(|err| {
        Error::from(err)
            .with_operation("config.rotate")
            .with_key(&shown)
    })?;
    let (rotated, values) =
        reencrypt_text(&original, old, new).map_err(|err| err.with_context("file", &shown))?;

    let backup = backup_path(path);
    write_synced(&backup, original.as_bytes(), path)?;

    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |err: std::io::Error| {
        Error::from(err)
            .with_operation("config.rotate")
            .with_key(shown.clone())
    };
    let mut temporary = tempfile::NamedTempFile::new_in(&folder).map_err(io)?;
    temporary
        .as_file()
        .set_permissions(fs::metadata(path).map_err(io)?.permissions())
        .map_err(io)?;
    temporary.write_all(rotated.as_bytes()).map_err(io)?;
    temporary.as_file().sync_all().map_err(io)?;
    temporary.persist(path).map_err(|err| io(err.error))?;
    // The rename is durable only once the folder itself is flushed.
    if let Ok(dir) = fs::File::open(&folder) {
        let _ = dir.sync_all();
    }
    Ok(Rotation { values, backup })
}

/// Re-encrypts every `ENC(...)` occurrence in `text`; returns the new text and
/// how many values it changed. Fails, naming the line, on the first value that
/// does not open with `old`.
pub fn reencrypt_text(text: &str, old: &AesKey, new: &AesKey) -> Result<(String, usize)> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    let mut values = 0;
    while let Some(start) = rest.find("ENC(") {
        let line = text[..consumed + start].matches('\n').count() + 1;
        let Some(length) = rest[start..].find(')') else {
            return Err(rotate_error(line, "an ENC( is never closed"));
        };
        let end = start + length + 1;
        let plaintext = EncValue::parse(&rest[start..end])
            .and_then(|value| value.decrypt(old))
            .map_err(|err| rotate_error(line, &err.to_string()))?;
        let sealed = encrypt(new, plaintext.expose_secret())
            .map_err(|err| rotate_error(line, &err.to_string()))?;
        output.push_str(&rest[..start]);
        output.push_str(&sealed.to_string());
        values += 1;
        consumed += end;
        rest = &rest[end..];
    }
    output.push_str(rest);
    Ok((output, values))
}

fn rotate_error(line: usize, reason: &str) -> Error {
    Error::invalid_input(format!("cannot rotate the value on line {line}: {reason}"))
        .with_operation("config.rotate")
        .with_context("line", line)
}

fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_string());
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let mut attempt = 0u32;
    loop {
        let suffix = if attempt == 0 {
            format!("{name}.{stamp}.bak")
        } else {
            format!("{name}.{stamp}-{attempt}.bak")
        };
        let candidate = path.with_file_name(suffix);
        if !candidate.exists() {
            return candidate;
        }
        attempt += 1;
    }
}

fn write_synced(target: &Path, bytes: &[u8], permissions_from: &Path) -> Result<()> {
    let io = |err: std::io::Error| {
        Error::from(err)
            .with_operation("config.rotate.backup")
            .with_key(target.display().to_string())
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(io)?;
    if let Ok(metadata) = fs::metadata(permissions_from) {
        file.set_permissions(metadata.permissions()).map_err(io)?;
    }
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}
