//! Group commit's batch: the queued writes run in one transaction, each in a
//! savepoint of its own unless it is alone, and every caller is answered
//! once the commit's outcome is known.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::Connection;

use crate::error::{AppError, AppResult};

/// How a batch's transaction ended, told to each of its jobs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Outcome {
    Committed,
    /// The disk is full: nothing was written (the client gets 507).
    DiskFull,
    Failed,
}

/// Answers a job's caller once its batch has ended.
pub(super) type Answer = Box<dyn FnOnce(Outcome) + Send>;
/// A write job: runs in the batch's transaction — in a savepoint of its
/// own when `Alone::No` — and says how it went.
pub(super) type Job = Box<dyn FnOnce(&Connection, Alone) -> (Answer, Ran) + Send>;

/// Whether a job is its batch's only one. Alone it needs no savepoint: if
/// it fails, the whole transaction is rolled back. A savepoint copies every
/// page the job changes into a journal in memory before changing it (6 % of
/// a create storm's CPU on one core, where most batches hold one job).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Alone {
    Yes,
    No,
}

/// How a job ran.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ran {
    Ok,
    Failed,
    /// It ran into a full disk.
    DiskFull,
}

pub(super) fn is_disk_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}
/// A write job for `f` whose outcome, once its batch has ended, goes to `tell`.
pub(super) fn job<T, F>(f: F, tell: impl FnOnce(AppResult<T>) + Send + 'static) -> Job
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
{
    Box::new(move |conn, alone| {
        let outcome = match alone {
            Alone::Yes => f(conn),
            Alone::No => run_in_savepoint(conn, f),
        };
        let ran = match &outcome {
            Ok(_) => Ran::Ok,
            Err(AppError::DiskFull) => Ran::DiskFull,
            Err(_) => Ran::Failed,
        };
        let answer: Answer = Box::new(move |ended: Outcome| {
            tell(match (outcome, ended) {
                (Ok(v), Outcome::Committed) => Ok(v),
                (Ok(_), Outcome::DiskFull) => Err(AppError::DiskFull),
                (Ok(_), Outcome::Failed) => {
                    Err(AppError::Internal(anyhow::anyhow!("commit failed")))
                }
                (Err(e), _) => Err(e),
            });
        });
        (answer, ran)
    })
}

/// One transaction-control statement, kept prepared: `execute_batch`
/// parsed it again for every job and every batch.
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> AppResult<T>,
) -> AppResult<T> {
    control(conn, "SAVEPOINT job")?;
    match f(conn) {
        Ok(v) => {
            control(conn, "RELEASE job")?;
            Ok(v)
        }
        Err(e) => {
            // SQLite may have rolled the whole transaction back by itself
            // (disk full, I/O error): then there is no savepoint left, and
            // the error to report is the original one.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            }
            Err(e)
        }
    }
}

/// One transaction for a batch of jobs; every job is answered after the
/// commit. True when it committed.
pub(super) fn run_batch(conn: &mut Connection, jobs: Vec<Job>, generation: &AtomicU64) -> bool {
    let started = crate::metrics::enabled().then(Instant::now);
    let committed = run_batch_timed(conn, jobs, generation);
    if let Some(started) = started {
        crate::metrics::get()
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    committed
}

fn run_batch_timed(conn: &mut Connection, jobs: Vec<Job>, generation: &AtomicU64) -> bool {
    // A failure mid-batch may have left a transaction open: close it.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        // Dropping a job unrun answers its caller with an error.
        tracing::error!(error = %e, "cannot begin a write transaction");
        drop(jobs);
        return false;
    }
    let alone = if jobs.len() == 1 {
        Alone::Yes
    } else {
        Alone::No
    };
    let mut answers = Vec::with_capacity(jobs.len());
    let mut lost = false;
    let mut disk_full = false;
    // A lone job that failed: its changes go with a rollback of the whole
    // transaction (there is nothing else in it).
    let mut undo = false;
    let mut jobs = jobs.into_iter();
    for job in jobs.by_ref() {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn, alone))) {
            Ok((answer, ran)) => {
                disk_full |= ran == Ran::DiskFull;
                undo |= alone == Alone::Yes && ran != Ran::Ok;
                answers.push(answer);
            }
            Err(_) => {
                tracing::error!("a write job panicked; it is rolled back");
                match alone {
                    Alone::Yes => undo = true,
                    Alone::No => {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    }
                }
            }
        }
        // SQLite rolls the whole transaction back by itself on some errors
        // (disk full, I/O): nothing of this batch will commit, so stop here
        // rather than run later jobs outside any transaction.
        if conn.is_autocommit() {
            lost = true;
            break;
        }
    }
    let rest: Vec<Job> = jobs.collect();
    if undo && !lost {
        // Its caller hears its own error; the outcome below is not theirs.
        let _ = conn.execute_batch("ROLLBACK");
        super::definitions::settle(conn);
        generation.fetch_add(1, Ordering::AcqRel);
        for answer in answers {
            answer(Outcome::Failed);
        }
        return false;
    }
    let outcome = if lost {
        if disk_full {
            Outcome::DiskFull
        } else {
            Outcome::Failed
        }
    } else {
        match control(conn, "COMMIT") {
            Ok(()) => Outcome::Committed,
            Err(e) => {
                let full = is_disk_full(&e);
                if full {
                    tracing::warn!(error = %e, "commit failed: the disk is full");
                } else {
                    tracing::error!(error = %e, "commit failed");
                }
                let _ = conn.execute_batch("ROLLBACK");
                if full {
                    Outcome::DiskFull
                } else {
                    Outcome::Failed
                }
            }
        }
    };
    // Before anyone hears "done": a caller that reads right after its write
    // must not be served figures derived from the database before it.
    super::definitions::settle(conn);
    generation.fetch_add(1, Ordering::AcqRel);
    for answer in answers {
        answer(outcome);
    }
    // Jobs after the one that lost the transaction get one of their own.
    if !rest.is_empty() {
        run_batch(conn, rest, generation);
    }
    outcome == Outcome::Committed
}
