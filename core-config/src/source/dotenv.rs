//! Reading `.env.<env>` and `.secrets`.

use std::path::Path;

use core_error::{Error, Result};

/// The variables of a dotenv file in file order, or none if it does not exist.
///
/// A malformed line is reported by its position only: the line itself may
/// hold a secret.
pub(crate) fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let shown = path.display().to_string();
    let entries = dotenvy::from_path_iter(path).map_err(|err| describe(err, &shown))?;
    entries
        .map(|entry| entry.map_err(|err| describe(err, &shown)))
        .collect()
}

fn describe(err: dotenvy::Error, file: &str) -> Error {
    let err = match err {
        dotenvy::Error::LineParse(_, index) => Error::invalid_input(format!(
            "cannot parse {file}: malformed line near character {index}"
        )),
        dotenvy::Error::Io(io) => Error::from(io),
        dotenvy::Error::EnvVar(_) => {
            Error::invalid_input(format!("cannot parse {file}: bad variable substitution"))
        }
        _ => Error::invalid_input(format!("cannot parse {file}")),
    };
    err.with_operation("config.read_dotenv").with_key(file)
}
