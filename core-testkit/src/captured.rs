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
    /// A text subscriber (no colours) writing here what is at `level` or
    /// above: set it for the test with `tracing::subscriber::set_default`
    /// (or `set_global_default` when the code logs from other threads).
    ///
    /// ```
    /// use core_testkit::Captured;
    ///
    /// let captured = Captured::default();
    /// let _guard = tracing::subscriber::set_default(captured.subscriber(tracing::Level::INFO));
    /// tracing::info!(user = "ada", "signed in");
    /// tracing::debug!("not at this level");
    /// assert!(captured.text().contains("signed in user=\"ada\""));
    /// assert!(!captured.text().contains("not at this level"));
    /// ```
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(level)
            .with_ansi(false)
            .finish()
    }

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
