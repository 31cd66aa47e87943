//! An in-memory writer for what a test's logging subscriber writes.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Everything written to it, shared by its clones: hand a clone to a
/// subscriber's writer (`with_writer(move || captured.clone())`), then read
/// [`text`](Captured::text) to search the output for what must (or must
/// never) be there.
///
/// ```
/// use std::io::Write as _;
/// use core_testkit::Captured;
///
/// let captured = Captured::default();
/// let mut writer = captured.clone();
/// writer.write_all(b"request finished").unwrap();
/// assert_eq!(captured.text(), "request finished");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
