//! Reads queued for a few blocking threads per database, as writes are
//! queued for one.
//!
//! A read used to be its own blocking task that then waited for one of the
//! pool's four connections. Under load that parked a thread per waiting
//! request: 32 concurrent list requests ran on 33 threads in turn, each
//! with its own allocator heap and stack gone cold by its next turn (a
//! profile of a list storm on one core put an eighth of the core in the
//! allocator's first touch of cold free lists). Now a read joins the
//! database's queue, and a few threads (`threads_for`: one per connection,
//! two on a single core) take reads from it one after the other until it is
//! empty, each on a connection it holds meanwhile. The connections left
//! over serve `Db::lookup` on the caller's thread.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::Db;

/// A queued read: handed the connection, or why there is none, it reads
/// and returns how to answer its caller. The answer is given only once
/// the thread knows whether it still needs the connection: a caller that
/// goes on to a `lookup` finds it back in the pool.
pub(super) type ReadJob = Box<dyn FnOnce(Result<&Connection, String>) -> Answer + Send>;
pub(super) type Answer = Box<dyn FnOnce() + Send>;

/// The cores this process may run on (its CPU affinity and quota).
pub(super) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads to take one database's reads at once, given `cores` and its
/// `connections`: one per connection, except on a single core. There more
/// threads only take turns, and a time slice that ends in the middle of a
/// read holds that request while the others run: four reading threads put
/// a list's p99 at three times its median, two at about twice, and two
/// served 14–22 % more reads. Two, not one, so that one long read never
/// holds up all the others. On two cores (shared with the load generator)
/// four served 4–10 % more than two (docs/benchmarks.md, 2026-12-07 "the
/// last hour").
pub(super) fn threads_for(cores: usize, connections: u32) -> u32 {
    if cores <= 1 {
        connections.min(2)
    } else {
        connections
    }
    .max(1)
}

pub(super) struct Reads {
    queue: Mutex<Queue>,
    /// Threads taking reads at once (`threads_for`).
    max_running: usize,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<ReadJob>,
    running: usize,
}

impl Reads {
    pub(super) fn new(max_running: usize) -> Reads {
        Reads {
            queue: Mutex::new(Queue::default()),
            max_running: max_running.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a read; true when the caller must start a thread for it.
    fn push(&self, job: ReadJob) -> bool {
        let mut q = self.lock();
        q.jobs.push_back(job);
        if q.running < self.max_running {
            q.running += 1;
            true
        } else {
            false
        }
    }

    /// The next read, or None — and then the caller's thread is no longer
    /// counted as running (decided under the lock, so no read is left
    /// queued with nobody to take it).
    fn next(&self) -> Option<ReadJob> {
        let mut q = self.lock();
        let job = q.jobs.pop_front();
        if job.is_none() {
            q.running -= 1;
        }
        job
    }

    /// Reads waiting for a thread now (for /metrics).
    pub(super) fn waiting(&self) -> usize {
        self.lock().jobs.len()
    }
}

/// Queues `job` on `db`, starting a thread to take reads if fewer than its
/// connections are running.
pub(super) fn queue(db: &Arc<Db>, job: ReadJob) {
    if db.reads.push(job) {
        let db = db.clone();
        // Not generic: one blocking task type for every database.
        drop(tokio::task::spawn_blocking(move || take_reads(&db)));
    }
}

/// Runs queued reads on one pooled connection until none is left, and
/// gives the connection back before answering the last.
fn take_reads(db: &Db) {
    let conn = db.readers.get();
    let Some(mut job) = db.reads.next() else {
        return;
    };
    loop {
        let answer = match &conn {
            // A read that panics answers its caller with an error (its
            // answer's sender is dropped while unwinding) and leaves its
            // transaction open, which the next read rolls back
            // (`in_snapshot`); this thread goes on with the queue.
            Ok(c) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(c)))).ok(),
            Err(e) => Some(job(Err(format!("read pool: {e}")))),
        };
        match db.reads.next() {
            Some(next) => {
                answer.into_iter().for_each(|a| a());
                job = next;
            }
            None => {
                drop(conn);
                answer.into_iter().for_each(|a| a());
                return;
            }
        }
    }
}
