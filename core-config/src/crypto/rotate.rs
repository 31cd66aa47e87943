//! Re-encrypting every `ENC(...)` value of a file to a new key.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use config::{FileFormat, Source as _, Value, ValueKind};
use core_error::{Error, Result};
use secrecy::ExposeSecret;

use super::{AES_SECRET_VAR, AesKey, EncValue, encrypt, is_enc};
use crate::config_error::describe;
use crate::source::{FORMATS, parse_dotenv};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// How many `ENC(...)` values were re-encrypted.
    pub values: usize,
    /// The copy of the file as it was before, still readable with the old key.
    pub backup: PathBuf,
    /// Whether the file's own `AES_SECRET` line held the old key and now
    /// holds the new one. When false, the new key must be set wherever
    /// `AES_SECRET` comes from (the process environment, a secret manager).
    pub key_updated: bool,
}

/// Re-encrypts every `ENC(...)` value in `path` from `old` to `new`.
///
/// The file is read the way the loader reads it (a config file by its
/// extension, `.secrets` and `.env.<env>` as variables), and only its real
/// values change: `ENC(...)` in comments is left alone. In a variables file
/// whose `AES_SECRET` line holds `old`, that line is set to `new` in the same
/// write, so the file keeps opening its own values
/// ([`key_updated`](Rotation::key_updated)).
///
/// The file is rewritten atomically: every value is opened first (any failure
/// leaves the file untouched and names the line), the original is copied to a
/// backup next to it, the new text is written to a temporary file in the same
/// folder, flushed to disk, and renamed over the original. The text is edited
/// in place, not re-serialized, so comments and layout survive.
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
    let Rewritten {
        text: rotated,
        values,
        key_updated,
    } = reencrypt_text(&original, path, old, new)
        .map_err(|err| err.with_context("file", &shown))?;

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
    Ok(Rotation {
        values,
        backup,
        key_updated,
    })
}

/// A rotated text: what [`rotate_file`] writes.
pub(crate) struct Rewritten {
    pub(crate) text: String,
    pub(crate) values: usize,
    pub(crate) key_updated: bool,
}

/// Re-encrypts every `ENC(...)` value of `text`, read in the format the
/// loader reads `path` in: a config file by its extension, anything else
/// (`.secrets`, `.env.<env>`) as variables. Only real values change: an
/// `ENC(...)` in a comment, or inside a longer text, is left as written.
/// In a variables file, an `AES_SECRET` line holding `old` is set to `new`.
/// Fails, naming the line, on the first value that does not open with `old`.
pub(crate) fn reencrypt_text(
    text: &str,
    path: &Path,
    old: &AesKey,
    new: &AesKey,
) -> Result<Rewritten> {
    let shown = path.display().to_string();
    let rewritten = match structured_format(path) {
        Some(format) => reencrypt_structured(text, format, &shown, old, new)?,
        None => reencrypt_variables(text, &shown, old, new)?,
    };
    // Nothing may be lost: the new text must hold as many values as the old,
    // each opening with the new key.
    let check = |text: &str| match structured_format(path) {
        Some(format) => structured_values(text, format, &shown),
        None => Ok(parse_dotenv(text, &shown)?
            .into_iter()
            .filter(|entry| is_enc(&entry.value))
            .map(|entry| entry.value.trim().to_string())
            .collect()),
    };
    let before = check(text)?;
    let after = check(&rewritten.text)?;
    let opens = after.iter().all(|value| {
        EncValue::parse(value)
            .and_then(|value| value.decrypt(new))
            .is_ok()
    });
    if before.len() != after.len() || !opens {
        return Err(Error::internal(format!(
            "rotating {shown} would not leave every value readable with the new key; nothing was changed"
        ))
        .with_operation("config.rotate"));
    }
    Ok(rewritten)
}

/// The config format of `path`, if its extension names one.
fn structured_format(path: &Path) -> Option<FileFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    FORMATS
        .iter()
        .find(|(known, _)| *known == ext)
        .map(|(_, format)| *format)
}

/// Every `ENC(...)` text value of a config file, as the loader parses it.
fn structured_values(text: &str, format: FileFormat, shown: &str) -> Result<Vec<String>> {
    let map = config::File::from_str(text, format)
        .collect()
        .map_err(|err| {
            Error::invalid_input(format!("cannot rotate {shown}: {}", describe(&err).1))
                .with_operation("config.rotate")
                .with_key(shown)
        })?;
    fn walk(value: &Value, out: &mut Vec<String>) {
        match &value.kind {
            ValueKind::String(text) if is_enc(text) => out.push(text.trim().to_string()),
            ValueKind::Table(table) => table.values().for_each(|child| walk(child, out)),
            ValueKind::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    map.values().for_each(|value| walk(value, &mut out));
    Ok(out)
}

fn reencrypt_structured(
    text: &str,
    format: FileFormat,
    shown: &str,
    old: &AesKey,
    new: &AesKey,
) -> Result<Rewritten> {
    let real: BTreeSet<String> = structured_values(text, format, shown)?
        .into_iter()
        .collect();
    let mut found = BTreeSet::new();
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    let mut values = 0;
    while let Some(start) = rest.find("ENC(") {
        let Some(length) = rest[start..].find(')') else {
            break;
        };
        let end = start + length + 1;
        let candidate = &rest[start..end];
        output.push_str(&rest[..start]);
        if real.contains(candidate) {
            let line = text[..consumed + start].matches('\n').count() + 1;
            output.push_str(&reseal(candidate, line, old, new)?);
            found.insert(candidate);
            values += 1;
        } else {
            // A comment, or text that merely contains `ENC(`.
            output.push_str(candidate);
        }
        consumed += end;
        rest = &rest[end..];
    }
    output.push_str(rest);
    if let Some(missing) = real.iter().find(|value| !found.contains(value.as_str())) {
        // A value the loader reads but the text scan did not find: either it
        // is not a well-formed ENC(...) at all, or it is escaped in the file.
        let reason = match EncValue::parse(missing).and_then(|value| value.decrypt(old)) {
            Err(err) => err.to_string(),
            Ok(_) => "it is written in a form (escaped?) this tool cannot rewrite".to_string(),
        };
        return Err(Error::invalid_input(format!(
            "cannot rotate {shown}: a value starting with ENC( cannot be rotated: {reason}; \
             nothing was changed"
        ))
        .with_operation("config.rotate")
        .with_key(shown));
    }
    Ok(Rewritten {
        text: output,
        values,
        key_updated: false,
    })
}

fn reencrypt_variables(text: &str, shown: &str, old: &AesKey, new: &AesKey) -> Result<Rewritten> {
    let mut edits = Vec::new();
    let mut values = 0;
    let mut key_updated = false;
    for entry in parse_dotenv(text, shown)? {
        let raw = &text[entry.raw.clone()];
        if entry.name == AES_SECRET_VAR {
            // Only the key these values were sealed with is replaced: another
            // (a placeholder, a key the process environment overrides) is not
            // this tool's to change.
            if AesKey::parse(&entry.value).is_ok_and(|key| key.bytes() == old.bytes()) {
                edits.push((entry.raw, new.to_base64().expose_secret().to_string()));
                key_updated = true;
            }
            continue;
        }
        if !is_enc(&entry.value) {
            continue;
        }
        let sealed = reseal(&entry.value, entry.line, old, new)?;
        let quote = raw.chars().next().filter(|c| matches!(c, '"' | '\''));
        let replacement = match quote {
            Some(quote) => format!("{quote}{sealed}{quote}"),
            None => sealed,
        };
        edits.push((entry.raw, replacement));
        values += 1;
    }
    let mut output = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, replacement) in edits {
        output.push_str(&text[copied..range.start]);
        output.push_str(&replacement);
        copied = range.end;
    }
    output.push_str(&text[copied..]);
    Ok(Rewritten {
        text: output,
        values,
        key_updated,
    })
}

/// `value` opened with `old` and sealed again under `new`.
fn reseal(value: &str, line: usize, old: &AesKey, new: &AesKey) -> Result<String> {
    let plaintext = EncValue::parse(value)
        .and_then(|value| value.decrypt(old))
        .map_err(|err| rotate_error(line, &err.to_string()))?;
    let sealed = encrypt(new, plaintext.expose_secret())
        .map_err(|err| rotate_error(line, &err.to_string()))?;
    Ok(sealed.to_string())
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
