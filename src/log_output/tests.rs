use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

use super::{BATCH_BYTES, Batching, LogOutput};

/// An output the test can read, counting the writes it was given.
#[derive(Clone, Default)]
struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    writes: Arc<Mutex<usize>>,
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().expect("sink").clone()).expect("utf-8")
    }
    fn writes(&self) -> usize {
        *self.writes.lock().expect("sink")
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.lock().expect("sink").extend_from_slice(buf);
        *self.writes.lock().expect("sink") += 1;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn line<W: Write + Send + 'static>(out: &LogOutput<W>, text: &str) {
    out.make_writer().write_all(text.as_bytes()).expect("write");
}

/// Waits (without a deadline the test depends on) until `done` holds.
fn eventually(done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "lines never reached the output"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn lines_from_many_threads_arrive_whole_and_in_each_threads_order() {
    let sink = Sink::default();
    let out = LogOutput::new(sink.clone(), Batching::On);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let out = out.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    line(&out, &format!("thread {t} line {i}\n"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    // The flusher writes them without being asked.
    eventually(|| sink.text().lines().count() == 2_000);
    let text = sink.text();
    for t in 0..4 {
        let mine: Vec<usize> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
            .map(|n| n.parse().expect("a whole line"))
            .collect();
        assert_eq!(mine, (0..500).collect::<Vec<_>>());
    }
    // Gathered: far fewer writes than lines.
    assert!(sink.writes() < 2_000, "{} writes", sink.writes());
}

#[test]
fn a_warning_goes_out_at_once_with_every_line_before_it() {
    let sink = Sink::default();
    let out = LogOutput::new(sink.clone(), Batching::On);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("first, an ordinary line");
        tracing::warn!("then a warning");
    });
    // No waiting: the warning's own write carried both.
    let text = sink.text();
    let info = text.find("first, an ordinary line").expect("the info line");
    let warn = text.find("then a warning").expect("the warning");
    assert!(info < warn, "{text}");
}

#[test]
fn a_full_batch_is_written_by_its_writer() {
    let sink = Sink::default();
    let out = LogOutput::new(sink.clone(), Batching::On);
    let long = format!("{}\n", "x".repeat(BATCH_BYTES));
    line(&out, "before\n");
    line(&out, &long);
    // Written by the call that filled the batch, not later by the flusher.
    assert_eq!(sink.text(), format!("before\n{long}"));
}

#[test]
fn flush_writes_what_is_gathered_and_unbatched_output_writes_each_line() {
    let sink = Sink::default();
    let out = LogOutput::new(sink.clone(), Batching::On);
    line(&out, "one\n");
    out.flush().expect("flush");
    assert_eq!(sink.text(), "one\n");

    let direct = Sink::default();
    let out = LogOutput::new(direct.clone(), Batching::Off);
    line(&out, "a\n");
    assert_eq!(direct.text(), "a\n");
    line(&out, "b\n");
    assert_eq!((direct.text().as_str(), direct.writes()), ("a\nb\n", 2));
}

/// An output that refuses every write.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk gone"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_is_an_error_not_a_panic() {
    let out = LogOutput::new(Broken, Batching::On);
    line(&out, "kept a moment\n");
    assert!(out.flush().is_err());
    // Nothing is left to write: the batch was taken.
    assert!(out.flush().is_ok());
    // A warning's write fails inside the subscriber, which goes on.
    let subscriber = tracing_subscriber::fmt().with_writer(out.clone()).finish();
    tracing::subscriber::with_default(subscriber, || tracing::warn!("unwritten"));
    let full = format!("{}\n", "x".repeat(BATCH_BYTES));
    assert!(out.make_writer().write_all(full.as_bytes()).is_err());
}
