//! What the process sets up before anything else runs: its allocator and
//! the allocator's options, and SQLite's page cache (which SQLite takes
//! only before its first connection).

/// Rust's allocations go to mimalloc: an export reads records on one thread
/// and frees them on another, and glibc's arenas made those frees wait on a
/// lock (two thirds of the writing thread's time in a profile); mimalloc
/// hands a freed block back to the thread that owns its page without one.
/// SQLite's own allocations still go through glibc (below). Transparent
/// huge pages are off for it (the `no_thp` feature): 2 MiB pages faulted in
/// for a few small blocks raised the peak memory of a run of creates by
/// half (269 MB against 183).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc gives freed memory back to the system after this many
/// milliseconds. Its default (1 s, and ten times that for whole arenas)
/// left a create storm's server at 160 MB thirty seconds later; at 10 ms it
/// settles near 100 MB, like glibc, with no difference in throughput that
/// shows through the benchmark VM's noise.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// `mi_option_purge_delay` in mimalloc.h (one of its stable options; the
/// Rust bindings leave it unnamed).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

pub fn return_freed_memory_soon() {
    // SAFETY: sets one of mimalloc's options, which it reads on each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// glibc raises its mmap threshold each time a large block is freed, after
/// which big short-lived buffers (argon2's 19 MiB per hash, index writer
/// arenas) come from per-thread heaps that it never gives back: resident
/// memory then climbed by ~100 MB per burst of sign-ins. A fixed threshold
/// keeps such buffers in their own mappings, returned to the system on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_big_buffers_to_the_system() {
    // SAFETY: mallopt only sets malloc parameters; it runs before any other
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_big_buffers_to_the_system() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 15 is the purge delay: its default is mimalloc's 1,000 ms
    /// (fails if a newer mimalloc numbers its options otherwise), and the
    /// server sets it to 10.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY: reads one of mimalloc's options.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1000);
        }
        return_freed_memory_soon();
        assert_eq!(get(), PURGE_DELAY_MS);
    }

    /// The page cache skips a commit's truncation only when nothing is past
    /// the database's end. Here, not in the library's tests: SQLite takes a
    /// page cache only before its first connection, and this process opens
    /// none elsewhere.
    #[test]
    fn commits_skip_the_page_cache_scan_and_rollbacks_do_not() {
        use harmonia::db::pagecache::counts;
        assert!(harmonia::db::prepare_sqlite(), "installed first");
        let dir = tempfile::tempdir().expect("dir");
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t(k BLOB); CREATE INDEX t_k ON t(k);",
        )
        .expect("schema");
        // One statement a row: a statement over a CTE would bring its own
        // temporary caches (and their truncations) into the counts.
        let add = |rows: u32| {
            conn.execute_batch("BEGIN").expect("begin");
            let mut insert = conn
                .prepare_cached("INSERT INTO t VALUES (randomblob(200))")
                .expect("prepare");
            for _ in 0..rows {
                insert.execute([]).expect("insert");
            }
        };
        let commit = || conn.execute_batch("COMMIT").expect("commit");
        // Random keys split index pages, and balancing them parks pages on
        // the lock page's number (the case SQLite's cache scans for).
        let before = counts();
        for _ in 0..30 {
            add(300);
            commit();
        }
        let grown = counts();
        assert!(grown.parked > before.parked, "{before:?} {grown:?}");
        assert_eq!(grown.passed, before.passed, "nothing past the end");
        assert!(grown.skipped >= before.skipped + 30, "{before:?} {grown:?}");

        // A rollback of a transaction that grew the file leaves pages past
        // the end: those must go.
        add(3_000);
        conn.execute_batch("ROLLBACK").expect("rollback");
        assert!(
            counts().passed > grown.passed,
            "the rollback's pages dropped"
        );
        add(3_000);
        commit();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 30 * 300 + 3_000);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
    }
}
