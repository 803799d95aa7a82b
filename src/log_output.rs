//! Where the server's log lines go: standard output, a batch at a time.
//!
//! The request log writes a line for every request. Written with a `write`
//! each, those lines cost a contact's get about 6 % of its core (the system
//! call, and the file system under it when the output is a file). While the
//! server runs, lines gather in memory and go out together at most `DELAY`
//! after the first of them. A warning or an error goes out at once, with
//! every line before it, and so does a batch that passes `BATCH_BYTES` —
//! which also keeps today's back-pressure: when nobody reads the output, the
//! writers wait as they did, the memory does not grow. Order is kept: whoever
//! writes holds `out` while taking the batch.
//!
//! The one-shot commands (`setup`, `migrate`, …) print to the same output as
//! they log, so they write every line at once (`Batching::Off`).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait for others before it is written.
pub const DELAY: Duration = Duration::from_millis(50);
/// A batch this large is written by whoever passed it, at once.
pub const BATCH_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Batching {
    /// Gather lines for up to `DELAY` (the server).
    On,
    /// Write each line as it comes (the one-shot commands).
    Off,
}

/// A `MakeWriter` for `tracing_subscriber::fmt` over any output.
pub struct LogOutput<W> {
    shared: Arc<Shared<W>>,
}

impl<W> Clone for LogOutput<W> {
    fn clone(&self) -> Self {
        LogOutput {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<W> {
    pending: Mutex<Vec<u8>>,
    /// Wakes the flusher when the first line of a batch arrives.
    arrived: Condvar,
    out: Mutex<W>,
    /// Off for the one-shot commands, or when the flusher could not start.
    batching: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding either lock leaves bytes, not broken invariants.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<W: Write + Send + 'static> LogOutput<W> {
    pub fn new(out: W, batching: Batching) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            out: Mutex::new(out),
            batching: AtomicBool::new(batching == Batching::On),
        });
        if batching == Batching::On {
            let flusher = shared.clone();
            // Without the thread lines would still go out (at a warning, or
            // a full batch, or `flush`) — only later: a failed spawn is
            // reported and the output falls back to writing at once.
            let spawned = std::thread::Builder::new()
                .name("log-output".into())
                .spawn(move || flusher.run());
            if let Err(e) = spawned {
                eprintln!("log output: writing every line at once ({e})");
                shared.batching.store(false, Ordering::Relaxed);
            }
        }
        LogOutput { shared }
    }

    /// Writes every line gathered so far (before the process exits).
    pub fn flush(&self) -> io::Result<()> {
        self.shared.write_out()
    }
}

impl<W: Write + Send> Shared<W> {
    fn push(&self, line: &[u8], urgent: bool) -> io::Result<()> {
        if !self.batching.load(Ordering::Relaxed) {
            let mut out = lock(&self.out);
            out.write_all(line)?;
            return out.flush();
        }
        let (first, full) = {
            let mut pending = lock(&self.pending);
            let first = pending.is_empty();
            pending.extend_from_slice(line);
            (first, pending.len() >= BATCH_BYTES)
        };
        if urgent || full {
            return self.write_out();
        }
        if first {
            self.arrived.notify_one();
        }
        Ok(())
    }

    fn write_out(&self) -> io::Result<()> {
        let mut out = lock(&self.out);
        let batch = std::mem::take(&mut *lock(&self.pending));
        if batch.is_empty() {
            return Ok(());
        }
        out.write_all(&batch)?;
        out.flush()
    }

    /// The flusher: asleep while nothing waits, so an idle server does not
    /// wake for its log.
    fn run(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.is_empty() {
                    pending = self
                        .arrived
                        .wait(pending)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
            std::thread::sleep(DELAY);
            // Nowhere to report a failed write of the log but the log: the
            // lines are dropped, as the direct writer drops them.
            let _ = self.write_out();
        }
    }
}

/// One event's lines.
pub struct Line<'a, W> {
    shared: &'a Shared<W>,
    urgent: bool,
}

impl<W: Write + Send> Write for Line<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.push(buf, self.urgent)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for LogOutput<W> {
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            shared: &self.shared,
            // Levels order by verbosity: WARN and ERROR are the lesser ones.
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests;
