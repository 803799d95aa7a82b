//! One SQLite database (the control plane or one organization's CRM): a single
//! serialized writer plus a small pool of read-only connections.
//!
//! All database work runs on the blocking thread pool; handlers call `read`
//! and `write` with a closure. Writes go to the one writer connection with
//! group commit: each write joins a queue, and one blocking task runs what
//! is queued in one `BEGIN IMMEDIATE` transaction, each job inside its own
//! savepoint (a failing job rolls back alone), then commits once and answers
//! every job, and goes on with what queued meanwhile until nothing is left.
//! Nobody meets SQLITE_BUSY, and under load one commit serves many requests.
//! A job's result is delivered only after the commit succeeded, so a 2xx
//! always means committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::{AppError, AppResult};

mod batch;
pub mod definitions;
pub mod pagecache;
mod reads;
mod settings;
mod trim;
pub mod walfile;
use batch::{Job, job, run_batch};
pub use settings::{apply_pragmas, prepare_sqlite, refresh_statistics};

/// Which schema a database file carries.
#[derive(Clone, Copy, Debug)]
pub enum Schema {
    Control,
    Tenant,
}

impl Schema {
    /// The migrations this binary embeds for the schema.
    pub fn migrations(self) -> refinery::Runner {
        match self {
            Schema::Control => control_migrations::migrations::runner(),
            Schema::Tenant => tenant_migrations::migrations::runner(),
        }
    }
}

/// An organization's schema in memory, for unit tests of its SQL.
#[cfg(test)]
pub fn tenant_in_memory() -> Connection {
    prepare_sqlite();
    let mut conn = Connection::open_in_memory().expect("in-memory database");
    crate::order::register_sql(&conn).expect("natural key function");
    Schema::Tenant
        .migrations()
        .run(&mut conn)
        .expect("tenant schema");
    conn
}

mod control_migrations {
    refinery::embed_migrations!("migrations/control");
}
mod tenant_migrations {
    refinery::embed_migrations!("migrations/tenant");
}

/// Settings shared by every database the process opens.
#[derive(Clone)]
pub struct DbOptions {
    /// `synchronous=FULL` instead of NORMAL: survives power loss, not just a crash.
    pub synchronous_full: bool,
    pub readers: u32,
    /// Threads that take one database's queued reads at once (at most
    /// `readers`; see `reads::threads_for`).
    pub reading_threads: u32,
    /// r2d2 runs its housekeeping on a thread pool; one shared pool keeps a
    /// thousand open tenants from each owning threads.
    pub pool_threads: Arc<ScheduledThreadPool>,
    /// Pages of WAL past which the writer finishes a checkpoint itself so
    /// that the WAL starts over (see `Db::catch_up`).
    pub wal_restart_pages: i64,
    /// Pages appended to the WAL since the last background checkpoint began
    /// that start the next one, however few commits they came in.
    pub wal_pages_per_checkpoint: i64,
    /// A WAL file longer than this is emptied once no write has committed
    /// for `wal_quiet` (see `trim`).
    pub wal_kept_bytes: i64,
    pub wal_quiet: Duration,
}

impl DbOptions {
    pub fn new(synchronous_full: bool) -> Self {
        DbOptions {
            synchronous_full,
            readers: 4,
            reading_threads: reads::threads_for(reads::cores(), 4),
            pool_threads: Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("sqlite-pool-{}")
                    .build(),
            ),
            wal_restart_pages: WAL_RESTART_PAGES,
            wal_pages_per_checkpoint: WAL_PAGES_PER_CHECKPOINT,
            wal_kept_bytes: WAL_KEPT_BYTES,
            wal_quiet: WAL_QUIET,
        }
    }
}

/// The writes waiting for the writer.
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A blocking task is running batches for async callers (`write`) and
    /// will take every job queued before it sees the queue empty.
    draining: bool,
}

pub struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    queue: Mutex<Queue>,
    readers: Pool<SqliteConnectionManager>,
    /// Reads waiting for a pooled connection, and the threads taking them.
    reads: reads::Reads,
    commits: AtomicU32,
    checkpointing: Arc<AtomicBool>,
    /// The background checkpoints' connection, kept from one to the next:
    /// opening one parses the whole schema and closing it frees it again,
    /// 3 % of a create storm's core when every checkpoint did both.
    checkpointer: trim::Kept,
    /// Background checkpoints run, and connections opened for them.
    checkpoint_counts: Arc<[AtomicU32; 2]>,
    /// Set when a background checkpoint has finished: once the WAL is long,
    /// the writer copies back what was committed meanwhile (see `catch_up`).
    caught_up: Arc<AtomicBool>,
    /// Pages in the WAL after the last commit, and the length past which
    /// the writer makes it start over.
    wal_pages: std::sync::atomic::AtomicI64,
    wal_restart_pages: i64,
    /// Pages in the WAL when the last background checkpoint began: the
    /// next one is due when as many again have been appended.
    checkpoint_from: std::sync::atomic::AtomicI64,
    wal_pages_per_checkpoint: i64,
    /// Bumped after every write transaction, before its callers are
    /// answered: what was derived at one generation holds until the next.
    generation: AtomicU64,
    /// Figures derived from the whole database (a board's stage totals, a
    /// forecast), each kept with the generation it was computed at.
    pub derived: crate::derived::Derived,
    /// Empties a long WAL file once writes stop.
    trim: trim::Trim,
}

/// Commits between two background checkpoints, or pages in the WAL,
/// whichever comes first. SQLite's automatic checkpoint would run inside a
/// commit and fsync there, adding its time to whichever request happened to
/// commit; ours runs beside the writer instead. (500 small commits alone
/// made a 100 MB WAL.)
const COMMITS_PER_CHECKPOINT: u32 = 500;
const WAL_PAGES_PER_CHECKPOINT: i64 = 65_536;
/// A WAL longer than this (1 GB) is made to start over by the writer after
/// the next background checkpoint (`Db::catch_up`).
const WAL_RESTART_PAGES: i64 = 262_144;
/// The writer's own catch-up copies at most about this many pages: the
/// background checkpoint goes round again (up to `CHECKPOINT_ROUNDS`) while
/// more were appended during its last round.
const CATCH_UP_PAGES: i64 = 1000;
const CHECKPOINT_ROUNDS: usize = 8;
/// A WAL file longer than this is emptied once its database has been quiet
/// for `WAL_QUIET` (`trim`), not each time the WAL starts over.
const WAL_KEPT_BYTES: i64 = 64 << 20;
const WAL_QUIET: Duration = Duration::from_secs(3);
/// The writer's page cache, in KiB (SQLite's default is 2 MB). A write
/// changes a leaf of each of a record's indexes at a random place (a
/// contact has 15): with 2 MB the writer kept about 500 pages and read the
/// rest again at every commit — from the WAL, a `pread` each, and parsed
/// afresh. Readers keep the default: they read through the memory map.
const WRITER_CACHE_KIB: i64 = 16 << 10;

thread_local! {
    /// Pages in the WAL after the last commit on this thread (SQLite's WAL
    /// hook runs inside the commit, on the committing thread).
    static WAL_PAGES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

fn note_wal_pages(_: &rusqlite::hooks::Wal, pages: std::os::raw::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// Batches one caller runs before it leaves the rest to their own callers.
const BATCHES_PER_TURN: usize = 4;

/// Runs CPU-heavy work (validation with phone-number parsing, hashing) on the
/// blocking pool so the async workers keep serving other requests.
///
/// Every caller's closure goes to the pool as the same boxed type: Tokio
/// builds a task's whole machinery (poll, completion, cancellation, join)
/// once per task type, and hundreds of call sites each made their own —
/// about a megabyte of the release binary (issue 19). The closure's result
/// comes back through a channel instead of the task's output.
pub async fn off_runtime<T, F>(f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    run_boxed(Box::new(move || {
        // The caller may have stopped waiting (a dropped request): nobody to tell.
        let _ = tx.send(f());
    }))
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?;
    rx.await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("blocking task ended without a result")))?
}

/// The one blocking task type (see `off_runtime`); kept out of line so
/// that no caller's code grows a copy of it.
#[inline(never)]
async fn run_boxed(job: Box<dyn FnOnce() + Send>) -> Result<(), tokio::task::JoinError> {
    tokio::task::spawn_blocking(job).await
}

/// Starts the blocking task that runs queued writes (see `Db::write`).
/// Not generic: one task type for every database and caller.
fn spawn_drainer(db: Arc<Db>) {
    drop(tokio::task::spawn_blocking(move || db.drain_all()));
}

/// Whether a write may change what is derived from the database (and so
/// moves its generation on).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Yes,
    No,
}

impl Db {
    /// Opens (creating if needed) a database and applies pending migrations.
    pub fn open(path: &Path, schema: Schema, opts: &DbOptions) -> anyhow::Result<Db> {
        prepare_sqlite();
        let mut writer =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        // WAL is a property of the file: set it once here, before the pool
        // opens connections in parallel (see DEPENDENCIES.md).
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("{} refused WAL mode (got {mode})", path.display());
        }
        apply_pragmas(&writer, opts.synchronous_full)?;
        // Our own checkpoints (`after_commit`); the hook tells them how
        // long the WAL is. No `journal_size_limit`: a WAL file made long by
        // a burst is emptied once the burst is over (`trim`).
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-{WRITER_CACHE_KIB};"
        ))?;
        let page_bytes: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        writer.wal_hook(Some(note_wal_pages));
        crate::upgrade::migrate(&mut writer, path, schema.migrations())?;
        definitions::opened(&writer);
        // Planner statistics, bounded and only where missing or stale:
        // without them a list filtered by one column and sorted by another
        // picks the filter's index and sorts every match (seconds at 100,000
        // rows) instead of walking the sort's index.
        refresh_statistics(&writer)?;

        let sync_full = opts.synchronous_full;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(move |c| apply_pragmas(c, sync_full));
        let readers = Pool::builder()
            .max_size(opts.readers)
            .min_idle(Some(0))
            .idle_timeout(Some(Duration::from_secs(120)))
            .test_on_check_out(false)
            .thread_pool(opts.pool_threads.clone())
            .build(manager)
            .with_context(|| format!("read pool for {}", path.display()))?;
        Ok(Db {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            queue: Mutex::new(Queue::default()),
            readers,
            reads: reads::Reads::new(opts.reading_threads.min(opts.readers) as usize),
            commits: AtomicU32::new(0),
            checkpointing: Arc::new(AtomicBool::new(false)),
            checkpointer: Arc::new(Mutex::new(None)),
            checkpoint_counts: Arc::new([AtomicU32::new(0), AtomicU32::new(0)]),
            caught_up: Arc::new(AtomicBool::new(false)),
            wal_pages: std::sync::atomic::AtomicI64::new(0),
            wal_restart_pages: opts.wal_restart_pages,
            checkpoint_from: std::sync::atomic::AtomicI64::new(0),
            wal_pages_per_checkpoint: opts.wal_pages_per_checkpoint,
            generation: AtomicU64::new(0),
            derived: crate::derived::Derived::new(),
            trim: trim::Trim::new(path, opts.wal_kept_bytes, opts.wal_quiet, page_bytes),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read-only connection, off the async runtime: the read
    /// joins this database's queue of reads (see `reads`).
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        reads::queue(
            self,
            Box::new(move |conn: Result<&Connection, String>| {
                let answer = match conn {
                    Ok(conn) => in_snapshot(conn, f),
                    Err(why) => Err(AppError::Internal(anyhow::anyhow!(why))),
                };
                // The caller may have stopped waiting (a dropped request).
                Box::new(move || drop(tx.send(answer))) as reads::Answer
            }),
        );
        rx.await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a read ended without a result")))?
    }

    /// A read that takes microseconds — a lookup by key through an index,
    /// never a scan — run on the calling thread when a pooled connection is
    /// idle, otherwise like `read`. Handing a read to the blocking pool and
    /// back costs two thread switches (futex wake-ups and a parked thread);
    /// a GET by id made two such hand-offs (the caller's credentials, then
    /// the record), and the switches were a third of its CPU. A panic in `f`
    /// is an internal error, as it is in the pool.
    pub async fn lookup<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let Some(conn) = self.readers.try_get() else {
            return self.read(f).await;
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_snapshot(&conn, f)))
            .unwrap_or_else(|_| Err(AppError::Internal(anyhow::anyhow!("a lookup panicked"))))
    }

    /// Runs `f` inside a transaction on the single writer, off the async
    /// runtime. Its changes are committed when it returns Ok (and only then is
    /// the value returned); they are rolled back when it returns Err.
    ///
    /// The caller waits without a thread: its job joins the queue, and one
    /// blocking task (started by whoever finds nobody draining) runs batch
    /// after batch until the queue is empty. While one batch commits the next
    /// one gathers, so under load a commit serves many requests and a request
    /// costs one hand-off, not a blocked thread that polls for the writer.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<AppResult<T>>();
        let job = job(f, move |answer| {
            // The caller may have stopped waiting (a dropped request).
            let _ = tx.send(answer);
        });
        let start_drainer = {
            let mut q = self.lock_queue();
            q.jobs.push(job);
            !std::mem::replace(&mut q.draining, true)
        };
        if start_drainer {
            spawn_drainer(self.clone());
        }
        rx.await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("write job was dropped")))?
    }

    /// Runs batches until the queue is empty (see `write`).
    fn drain_all(&self) {
        // Should a batch panic past its jobs' own guards, the jobs still
        // queued are dropped (their callers hear an error) and the next
        // write starts a new drainer: nobody waits forever.
        struct Guard<'a>(&'a Db);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut q = self.0.lock_queue();
                    q.jobs.clear();
                    q.draining = false;
                }
            }
        }
        let _guard = Guard(self);
        loop {
            // Group commit needs a group. Where the request handlers share
            // a core with this thread, a queued write wakes it at once and
            // its batch holds the one or two writes queued so far: on one
            // core, 1.8 creates per commit, every commit writing ~45 pages
            // of WAL. Giving way once lets the handlers queue the writes of
            // requests already read (about ten per commit then, and a
            // third more creates a second). With a core to spare it
            // returns at once.
            std::thread::yield_now();
            // The writer is taken per batch, so a bulk write (`write_now`)
            // or a blocking caller can get in between two batches.
            let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let jobs = {
                let mut q = self.lock_queue();
                if q.jobs.is_empty() {
                    q.draining = false;
                    return;
                }
                std::mem::take(&mut q.jobs)
            };
            if run_batch(&mut conn, jobs, &self.generation) {
                self.after_commit();
            }
            self.catch_up(&conn);
        }
    }

    /// The same as `write`, for callers already on a blocking thread (the
    /// search indexer, command-line tools): the caller runs batches itself
    /// when the writer is free, and otherwise whoever holds it runs its job.
    pub fn write_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel::<AppResult<T>>(1);
        let job = job(f, move |answer| {
            let _ = tx.send(answer);
        });
        self.lock_queue().jobs.push(job);
        // Lead a few batches if the writer is free; otherwise the holder will
        // run ours. Whoever waits too long drains the queue itself, so no job
        // is ever left behind and no leader serves others for long.
        loop {
            self.drain();
            match rx.recv_timeout(Duration::from_millis(2)) {
                Ok(answer) => return answer,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(AppError::Internal(anyhow::anyhow!("write job was dropped")));
                }
            }
        }
    }

    /// A bulk job (an import batch) in a transaction of its own: the writer
    /// held, not grouped with other callers' jobs and without the group's
    /// per-job savepoint. The job's own savepoints (one per imported row)
    /// are then the outermost, which SQLite releases by dropping its
    /// in-memory sub-journal; nested under the group's savepoint, every
    /// release and every statement walked a sub-journal that grew with the
    /// batch, and a 100,000-row import slowed to under 100 rows/s.
    pub async fn write_alone<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        off_runtime(move || db.write_now(f)).await
    }

    /// `write_alone` for rows nothing derived from this database reads (the
    /// API request log): its commit leaves the generation as it was, so
    /// what was derived before (every caller's organization grant) still
    /// holds. Each flush of the request log made every caller's next
    /// request read its grant again.
    pub async fn write_unseen<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        off_runtime(move || db.write_now_as(f, Seen::No)).await
    }

    /// One transaction run right away with the writer held, for bulk work on
    /// a blocking thread (the demo generator, the CLI) whose closure borrows
    /// from its caller. Queued jobs wait, then run.
    pub fn write_now<T>(&self, f: impl FnOnce(&Connection) -> AppResult<T>) -> AppResult<T> {
        self.write_now_as(f, Seen::Yes)
    }

    fn write_now_as<T>(
        &self,
        f: impl FnOnce(&Connection) -> AppResult<T>,
        seen: Seen,
    ) -> AppResult<T> {
        let result = {
            let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            (|| {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let out = f(&tx);
                let out = out.and_then(|out| Ok(tx.commit().map(|()| out)?));
                definitions::settle(&conn);
                let out = out?;
                if seen == Seen::Yes {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                // A bulk commit (the demo generator, an import) writes
                // thousands of pages: they are copied back like any
                // commit's, beside the writer, and the writer makes the WAL
                // start over once it is long (without that it grew to 18 GB
                // for a million generated contacts). Copying them here, after
                // every batch, held the next batch up for the copy and two
                // fsyncs: an import ran a quarter to a third slower.
                self.after_commit();
                self.catch_up(&conn);
                Ok(out)
            })()
        };
        self.drain();
        result
    }

    /// Runs up to a few batches if the writer is free.
    fn drain(&self) {
        let Ok(mut conn) = self.writer.try_lock().or_else(|e| match e {
            std::sync::TryLockError::Poisoned(p) => Ok(p.into_inner()),
            std::sync::TryLockError::WouldBlock => Err(()),
        }) else {
            return;
        };
        for _ in 0..BATCHES_PER_TURN {
            let jobs = std::mem::take(&mut self.lock_queue().jobs);
            if jobs.is_empty() {
                break;
            }
            if run_batch(&mut conn, jobs, &self.generation) {
                self.after_commit();
            }
            self.catch_up(&conn);
        }
    }

    /// After a background checkpoint, on the writer between two batches,
    /// when the WAL has grown long: copies back the commits made while the
    /// checkpoint ran. The background one cannot finish the WAL by itself
    /// under a steady stream of writes — each commit appends while it
    /// copies — and SQLite starts the WAL over only when a write begins on a
    /// fully copied one. Without this the WAL grew by every commit's pages
    /// for as long as writes kept coming (10.8 GB after a 60 s create
    /// storm). Nothing is appended while the writer copies, so this one
    /// finishes unless a reader still reads an older snapshot (then a later
    /// one does). It holds the writes up for its copy and two fsyncs (5–40
    /// ms here), so it waits for a long WAL: done after every background
    /// checkpoint it cost deal moves a fifth of their rate and doubled their
    /// p99; at 1 GB it comes every few seconds of a storm at most. Below
    /// that the WAL starts over by itself whenever a background checkpoint
    /// ends in a pause between writes.
    fn catch_up(&self, conn: &Connection) {
        if !self.caught_up.swap(false, Ordering::AcqRel)
            || self.wal_pages.load(Ordering::Relaxed) < self.wal_restart_pages
        {
            return;
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(db = %self.path.display(), error = %e, "checkpoint on the writer failed");
        }
    }

    /// Every few hundred commits (or 256 MB appended to the WAL), copies it back into
    /// the database on a separate connection in the background (PASSIVE:
    /// never blocks writers).
    fn after_commit(&self) {
        let pages = i64::from(WAL_PAGES.with(|p| p.replace(0)));
        self.wal_pages.store(pages, Ordering::Relaxed);
        self.trim.committed(pages, &self.checkpointer);
        // The WAL's length counts every page since it last started over,
        // which under a stream of writes is only every gigabyte: measured
        // from there, every commit past 256 MB began a checkpoint (one
        // after the other, each with its fsyncs, for most of a storm).
        let from = self.checkpoint_from.load(Ordering::Relaxed);
        let appended = if pages >= from { pages - from } else { pages };
        if (self.commits.fetch_add(1, Ordering::Relaxed) + 1 < COMMITS_PER_CHECKPOINT
            && appended < self.wal_pages_per_checkpoint)
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.commits.store(0, Ordering::Relaxed);
        self.checkpoint_from.store(pages, Ordering::Relaxed);
        let path = self.path.clone();
        let running = self.checkpointing.clone();
        let kept = self.checkpointer.clone();
        let counts = self.checkpoint_counts.clone();
        let caught_up = self.caught_up.clone();
        // Going round again costs a sync each: only when the writer will
        // catch up after it.
        let rounds = if pages >= self.wal_restart_pages {
            CHECKPOINT_ROUNDS
        } else {
            1
        };
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Again while writes appended much meanwhile (each round
                // copies only what is new), so that what the writer has
                // left to copy itself is short.
                let mut slot = kept.lock().unwrap_or_else(|p| p.into_inner());
                let conn = match slot.take() {
                    Some(c) => Ok(c),
                    None => Connection::open(&path).and_then(|c| {
                        counts[1].fetch_add(1, Ordering::Relaxed);
                        c.busy_timeout(Duration::from_secs(5))?;
                        Ok(c)
                    }),
                };
                let result = conn.and_then(|c| {
                    counts[0].fetch_add(1, Ordering::Relaxed);
                    for _ in 0..rounds {
                        let (log, copied): (i64, i64) =
                            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                                Ok((r.get(1)?, r.get(2)?))
                            })?;
                        if log - copied <= CATCH_UP_PAGES {
                            break;
                        }
                    }
                    *slot = Some(c);
                    Ok(())
                });
                drop(slot);
                match result {
                    Ok(()) => caught_up.store(true, Ordering::Release),
                    Err(e) => {
                        tracing::warn!(db = %path.display(), error = %e, "checkpoint failed");
                    }
                }
                running.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.checkpointing.store(false, Ordering::Release);
        }
    }

    /// WAL files emptied once writes stopped (see `trim`).
    pub fn wal_trims(&self) -> u32 {
        self.trim.count()
    }

    /// Background checkpoints started so far, and the connections opened
    /// for them (one, unless opening or a checkpoint failed).
    pub fn checkpoint_counts(&self) -> (u32, u32) {
        let [runs, opens] = &*self.checkpoint_counts;
        (runs.load(Ordering::Relaxed), opens.load(Ordering::Relaxed))
    }

    /// Changes at every write transaction (see `derived`). Read it before
    /// reading what is derived: a value computed after reading generation
    /// `g` is at least as new as `g`.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Reads waiting for a pooled connection now (for /metrics).
    pub fn reads_waiting(&self) -> usize {
        self.reads.waiting()
    }

    /// Write jobs waiting for the writer now (for /metrics).
    pub fn queue_depth(&self) -> usize {
        self.lock_queue().jobs.len()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Synchronous read for callers already on a blocking thread.
    pub fn read_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Connection) -> AppResult<T>,
    {
        let conn = self
            .readers
            .get()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("read pool: {e}")))?;
        in_snapshot(&conn, f)
    }
}

/// Runs a read in one read transaction: every statement sees the same
/// snapshot, and the WAL read lock is taken once, not once per statement (a
/// page of 50 records is 50 lookups; taking the lock each time halved list
/// throughput).
fn in_snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> AppResult<T>) -> AppResult<T> {
    if !conn.is_autocommit() {
        // A read that panicked left its transaction open on this pooled connection.
        conn.prepare_cached("ROLLBACK")?.execute([])?;
    }
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f(conn);
    conn.prepare_cached("COMMIT")?.execute([])?;
    result
}

#[cfg(test)]
mod tests;
