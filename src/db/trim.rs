//! The WAL file emptied once its database is quiet.
//!
//! SQLite can shorten the WAL file each time the WAL starts over
//! (`journal_size_limit`). Under a stream of writes the WAL starts over
//! about every gigabyte (`Db::catch_up`), and a file cut back to 64 MB then
//! grows back to a gigabyte. ext4 allocates and maps each new block again,
//! which was about 7 % of a create storm's core (`ext4_da_write_begin`
//! 5.3 %, `ftruncate` 1.8 %; docs/benchmarks.md, 2026-12-07 afternoon).
//!
//! So the writer leaves the file's length alone while writes come. A WAL
//! that starts over is written again from its beginning, so the file is
//! never longer than the longest WAL. Once no write has committed for
//! `quiet`, a checkpoint copies what is left into the database and a
//! TRUNCATE one empties the file. It waits a moment at most for readers of an older
//! snapshot and for a writer. If they are still there, the next quiet spell
//! tries again.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long the TRUNCATE checkpoint waits for readers and a writer.
const WAIT: Duration = Duration::from_millis(200);
/// Quiet spells tried before a busy database is left until its next write.
const TRIES: usize = 3;

/// The connection background checkpoints keep between runs (the trim
/// uses it too: one connection for both).
pub(super) type Kept = Arc<Mutex<Option<Connection>>>;

pub(super) struct Trim {
    state: Arc<State>,
}

struct State {
    path: PathBuf,
    /// The file length past which it is emptied, and after how long
    /// without a commit.
    kept_bytes: i64,
    quiet: Duration,
    page_bytes: i64,
    commits: AtomicU64,
    /// The longest the WAL has been (in pages) since the file was last
    /// emptied: the file is at least that long.
    longest: AtomicI64,
    watching: AtomicBool,
    /// Files emptied so far.
    trims: AtomicU32,
}

impl Trim {
    pub(super) fn new(path: &Path, kept_bytes: i64, quiet: Duration, page_bytes: i64) -> Trim {
        Trim {
            state: Arc::new(State {
                path: path.to_path_buf(),
                kept_bytes,
                quiet,
                page_bytes: page_bytes.max(1),
                commits: AtomicU64::new(0),
                longest: AtomicI64::new(0),
                watching: AtomicBool::new(false),
                trims: AtomicU32::new(0),
            }),
        }
    }

    /// After a commit that left `wal_pages` in the WAL: once the file is
    /// long, a thread waits for the database to go quiet and empties it.
    pub(super) fn committed(&self, wal_pages: i64, kept: &Kept) {
        let s = &self.state;
        s.commits.fetch_add(1, Ordering::Relaxed);
        let longest = s
            .longest
            .fetch_max(wal_pages, Ordering::Relaxed)
            .max(wal_pages);
        if longest.saturating_mul(s.page_bytes) <= s.kept_bytes
            || s.watching.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let state = self.state.clone();
        let kept = kept.clone();
        let spawned = std::thread::Builder::new()
            .name("sqlite-wal-trim".into())
            .spawn(move || state.watch(&kept));
        if spawned.is_err() {
            self.state.watching.store(false, Ordering::Release);
        }
    }

    /// WAL files emptied so far.
    pub(super) fn count(&self) -> u32 {
        self.state.trims.load(Ordering::Relaxed)
    }
}

impl State {
    fn watch(&self, kept: &Kept) {
        for _ in 0..TRIES {
            self.wait_for_quiet();
            match self.empty(kept) {
                Ok(true) => {
                    self.longest.store(0, Ordering::Relaxed);
                    self.trims.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(db = %self.path.display(), error = %e, "emptying the WAL failed");
                    break;
                }
            }
        }
        self.watching.store(false, Ordering::Release);
    }

    fn wait_for_quiet(&self) {
        loop {
            let seen = self.commits.load(Ordering::Relaxed);
            std::thread::sleep(self.quiet);
            if self.commits.load(Ordering::Relaxed) == seen {
                return;
            }
        }
    }

    /// A TRUNCATE checkpoint on the background checkpoints' connection;
    /// false when readers or a writer kept it from finishing.
    fn empty(&self, kept: &Kept) -> rusqlite::Result<bool> {
        let mut slot = kept.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match slot.take() {
            Some(c) => c,
            // Never creates the file: the organization may have been deleted.
            None => Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
        };
        // TRUNCATE holds writers off while it copies: the copy is done
        // first without them (PASSIVE), so that it has little left.
        let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        conn.busy_timeout(WAIT)?;
        let busy = passive.and_then(|()| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
        });
        // Background checkpoints wait longer (see `Db::after_commit`).
        conn.busy_timeout(Duration::from_secs(5))?;
        *slot = Some(conn);
        Ok(busy? == 0)
    }
}
