//! The local copy of a prefix that lets a service start while etcd is down.

use std::io::Write as _;
use std::path::Path;

use core_error::{Error, Result};
use serde_json::json;

use super::{EtcdSettings, Remote};

/// Writes `remote` to `path` (owner-only, replaced atomically).
pub(crate) fn write(path: &Path, remote: &Remote) -> Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let text = json!({
        "prefix": remote.prefix,
        "revision": remote.revision,
        "kvs": remote.kvs,
    })
    .to_string();
    let io = |err: std::io::Error| {
        Error::from(err)
            .with_key(path.display().to_string())
            .with_operation("config.etcd.snapshot")
    };
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(text.as_bytes()).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|err| io(err.error))?;
    Ok(())
}

/// The copy at `path`, if it is one of `prefix`.
pub(crate) fn read(path: &Path, settings: &EtcdSettings, prefix: &str) -> Result<Remote> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| {
        Error::from(err)
            .with_key(shown.clone())
            .with_operation("config.etcd.snapshot")
    })?;
    let parsed: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        Error::invalid_input(format!(
            "the etcd snapshot {shown} is not one this SDK wrote"
        ))
        .with_key(shown.clone())
        .with_operation("config.etcd.snapshot")
    })?;
    if parsed["prefix"].as_str() != Some(prefix) {
        return Err(Error::invalid_input(format!(
            "the etcd snapshot {shown} holds another prefix than {prefix}"
        ))
        .with_key(shown)
        .with_operation("config.etcd.snapshot"));
    }
    let kvs: Vec<(String, String)> =
        serde_json::from_value(parsed["kvs"].clone()).map_err(|_| {
            Error::invalid_input(format!("the etcd snapshot {shown} is damaged"))
                .with_key(shown.clone())
                .with_operation("config.etcd.snapshot")
        })?;
    Ok(Remote {
        settings: settings.clone(),
        prefix: prefix.to_string(),
        revision: parsed["revision"].as_i64().unwrap_or(0),
        kvs,
    })
}
