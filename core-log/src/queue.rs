//! A bounded queue between the logging call and the slow writer.
//!
//! Each output has one writer thread; the logging call only formats the
//! event and hands the line over. When the queue is full the
//! [`OverflowPolicy`] decides: `Block` waits for room, `Drop` drops the line,
//! counts it in `log_events_dropped_total{output=...}` and the writer thread
//! prints a warning naming the count to stderr (at most once a second, and
//! once more at shutdown). Nothing is dropped without
//! being counted, and audit events (target `audit`) are never dropped: they
//! always wait for room, whatever the output's policy. Dropping the [`QueueHandle`] writes out every queued line
//! before it returns.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::audit::AUDIT_TARGET;
use crate::settings::OverflowPolicy;

/// The metric counting lines an output dropped because its queue was full.
pub const DROPPED_EVENTS_METRIC: &str = "log_events_dropped_total";

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
    Shutdown,
}

#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
}

/// The sending side, given to `tracing-subscriber` as its writer.
#[derive(Clone)]
pub(crate) struct QueueWriter {
    sender: SyncSender<Message>,
    policy: OverflowPolicy,
    output: &'static str,
    counters: Arc<Counters>,
}

/// Owns an output's writer thread: flushes it on demand and on drop.
pub(crate) struct QueueHandle {
    sender: SyncSender<Message>,
    output: &'static str,
    counters: Arc<Counters>,
    worker: Option<JoinHandle<()>>,
}

/// Starts the writer thread for `output` and returns both ends.
pub(crate) fn spawn(
    output: &'static str,
    sink: Box<dyn Write + Send>,
    capacity: usize,
    policy: OverflowPolicy,
) -> io::Result<(QueueWriter, QueueHandle)> {
    let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
    let counters = Arc::new(Counters::default());
    let worker = {
        let counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name(format!("core-log-{output}"))
            .spawn(move || drain(output, receiver, sink, &counters))?
    };
    let writer = QueueWriter {
        sender: sender.clone(),
        policy,
        output,
        counters: Arc::clone(&counters),
    };
    let handle = QueueHandle {
        sender,
        output,
        counters,
        worker: Some(worker),
    };
    Ok((writer, handle))
}

fn drain(
    output: &'static str,
    receiver: Receiver<Message>,
    sink: Box<dyn Write + Send>,
    counters: &Counters,
) {
    let mut sink = BufWriter::with_capacity(64 * 1024, sink);
    let mut drops = DropReport::default();
    let mut reported_write_error = false;
    while let Ok(mut message) = receiver.recv() {
        // Write everything already queued before flushing, so a burst costs
        // one flush rather than one per line.
        loop {
            match message {
                Message::Line(line) => {
                    if let Err(err) = sink.write_all(&line)
                        && !reported_write_error
                    {
                        eprintln!("core-log: cannot write to the {output} output: {err}");
                        reported_write_error = true;
                    }
                }
                Message::Flush(done) => {
                    let _ = sink.flush();
                    let _ = done.send(());
                }
                Message::Shutdown => {
                    let _ = sink.flush();
                    drops.report(output, counters, true);
                    return;
                }
            }
            match receiver.try_recv() {
                Ok(next) => message = next,
                Err(_) => break,
            }
        }
        let _ = sink.flush();
        drops.report(output, counters, false);
    }
    let _ = sink.flush();
}

/// What the writer thread has told stderr about drops so far.
#[derive(Default)]
struct DropReport {
    reported: u64,
    last: Option<Instant>,
}

impl DropReport {
    /// Warns about drops not yet reported, at most once a second so that a
    /// flood of drops does not become a flood of warnings; `last` forces it.
    fn report(&mut self, output: &str, counters: &Counters, last: bool) {
        let dropped = counters.dropped.load(Ordering::Relaxed);
        let due = last
            || self
                .last
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if dropped > self.reported && due {
            eprintln!(
                "core-log: WARN the {output} output's queue was full: dropped {} events ({dropped} since start)",
                dropped - self.reported
            );
            self.reported = dropped;
            self.last = Some(Instant::now());
        }
    }
}

impl QueueWriter {
    fn send(&self, line: &[u8], policy: OverflowPolicy) -> io::Result<()> {
        let message = Message::Line(line.to_vec());
        let sent = match policy {
            OverflowPolicy::Block => self.sender.send(message).map_err(|_| ()),
            OverflowPolicy::Drop => match self.sender.try_send(message) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(()),
            },
        };
        if sent.is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(DROPPED_EVENTS_METRIC, "output" => self.output).increment(1);
        }
        // Report success even on a drop: the drop is counted above, and an
        // error would only make `tracing-subscriber` print a vaguer warning.
        Ok(())
    }
}

/// One event's writer, borrowing the queue so no handle is cloned per
/// event, with the policy that applies to that event.
pub(crate) struct QueueLine<'a> {
    queue: &'a QueueWriter,
    policy: OverflowPolicy,
}

impl Write for QueueLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.queue.send(buf, self.policy)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.queue.send(buf, self.policy)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = QueueLine<'a>;

    fn make_writer(&'a self) -> QueueLine<'a> {
        QueueLine {
            queue: self,
            policy: self.policy,
        }
    }

    /// `tracing-subscriber` asks with each event's metadata: an audit event
    /// waits for room even in a dropping queue, so the trail stays complete
    /// when it has no file of its own.
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> QueueLine<'a> {
        let policy = if meta.target() == AUDIT_TARGET {
            OverflowPolicy::Block
        } else {
            self.policy
        };
        QueueLine {
            queue: self,
            policy,
        }
    }
}

impl QueueHandle {
    /// Waits until every line queued so far is written and flushed.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// The output's name: `stdout`, `file` or `audit`.
    pub(crate) fn output(&self) -> &'static str {
        self.output
    }

    /// How many lines this output dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for QueueHandle {
    fn drop(&mut self) {
        if self.sender.send(Message::Shutdown).is_ok()
            && let Some(worker) = self.worker.take()
        {
            let _ = worker.join();
        }
    }
}
