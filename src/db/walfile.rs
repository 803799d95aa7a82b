//! The write-ahead log written one commit at a time.
//!
//! SQLite appends a transaction to the WAL frame by frame, and each frame
//! is two `pwrite`s: its 24-byte header, then the page. A batch of ten
//! creates is about 140 frames, so 280 system calls — and since a frame is
//! 4,120 bytes, most of them touch two 4 KiB pages of the kernel's cache,
//! each looked up (or allocated and mapped to disk blocks) on its own. In a
//! create storm those writes were 17 % of the server's core, two thirds of
//! it in the per-page work of ext4's `write_begin`/`write_end`.
//!
//! This is a VFS that wraps SQLite's default one and changes only WAL
//! files: contiguous writes gather in a buffer and reach the file in one
//! `pwrite` when the transaction's commit frame is complete (or before
//! anything else touches the file: a read, sync, truncate, size, lock, file
//! control, close, or a write elsewhere). The commit frame is the one whose
//! header carries the database size (bytes 4..8, zero on other frames);
//! SQLite publishes the new frames to other connections (the wal-index
//! header) only after writing it, so a reader never sees a frame that is
//! still in the buffer, and a commit that returned is in the file — where
//! `synchronous=FULL` then syncs it, as before.
//!
//! Two of SQLite's patterns need care. After writing a commit it may
//! rewrite frame headers in place (`walRewriteChecksums`): each rewrite
//! follows a read of the same frame, ending with the commit frame's header
//! and no page after it, so a header written right after a read of its
//! offset goes straight to the file. And without "powersafe overwrite"
//! SQLite pads a commit to a sector boundary, splitting a frame around a
//! sync; files opened that way are passed through untouched.

use std::cell::Cell;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use rusqlite::ffi;

/// The most a WAL file holds back: a commit larger than this reaches the
/// file in pieces of this size (still ~31 frames a system call), and the
/// writer's buffer never grows past it. It is also the most the unix VFS
/// writes in one call (it masks a write's length with `0x1ffff`).
const CAP: usize = 0x1ffff;

/// Size of a WAL frame header.
const FRAME_HEADER: usize = 24;

/// Our WAL file: SQLite's `sqlite3_file` head, our state, then the default
/// VFS's own file structure at `INNER_AT` bytes in.
#[repr(C)]
struct WalFile {
    head: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Whether writes gather at all (not without powersafe overwrite).
    buffered: bool,
    /// Bytes not yet written, meant for offset `start` onwards.
    buf: Vec<u8>,
    start: i64,
    /// A commit frame's header is in `buf` at this offset; its page is next.
    commit_at: Option<i64>,
    /// The offset of the last read, until the next write.
    read_at: Option<i64>,
}

/// Where the default VFS's file starts inside ours (16-aligned).
const INNER_AT: usize = std::mem::size_of::<WalFile>().next_multiple_of(16);

/// Our VFS, once registered (a VFS object SQLite keeps for the life of the
/// process and calls from any thread; never written after registration).
struct Vfs(*mut ffi::sqlite3_vfs);
// SAFETY: see above.
unsafe impl Send for Vfs {}
unsafe impl Sync for Vfs {}

static VFS: OnceLock<Option<Vfs>> = OnceLock::new();

/// The default VFS as it was, which ours opens files with. Set before ours
/// is registered, so `open` always finds it.
static BASE: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// Writes this thread passed to the file system, for tests.
    static WRITES: Cell<u64> = const { Cell::new(0) };
}

/// Writes this thread has passed to the file system through a WAL file
/// (the tests compare it with the commits they made).
pub fn writes_on_this_thread() -> u64 {
    WRITES.with(Cell::get)
}

/// Registers our VFS as the default. Call after `pagecache::install`
/// (registering initialises SQLite, after which the page cache is fixed).
/// Returns whether it is in place.
pub(super) fn install() -> bool {
    VFS.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which
        // SQLite never frees. We copy it, replacing what opens a file and
        // how big a file structure is; the other methods of the unix VFS
        // read only `mxPathname` and `pAppData` from the VFS they are given,
        // both copied. The copy is leaked: SQLite keeps it for the process.
        unsafe {
            let base = ffi::sqlite3_vfs_find(std::ptr::null());
            if base.is_null() {
                return None;
            }
            let mut ours = *base;
            ours.szOsFile = (*base).szOsFile + INNER_AT as c_int;
            ours.zName = c"harmonia".as_ptr() as *const c_char;
            ours.pNext = std::ptr::null_mut();
            ours.xOpen = Some(open);
            BASE.store(base, Ordering::Release);
            let ours = Box::into_raw(Box::new(ours));
            if ffi::sqlite3_vfs_register(ours, 1) != ffi::SQLITE_OK {
                drop(Box::from_raw(ours));
                return None;
            }
            Some(Vfs(ours))
        }
    })
    .as_ref()
    .is_some_and(|vfs| {
        // SAFETY: asking for the default VFS has no preconditions.
        unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) == vfs.0 }
    })
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() {
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: SQLite gives us `szOsFile` bytes at `file`, enough for the
    // default VFS's file at `file` itself or `INNER_AT` bytes in.
    unsafe {
        let Some(base_open) = (*base).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            return base_open(base, name, file, flags, out_flags);
        }
        let inner = (file as *mut u8).add(INNER_AT) as *mut ffi::sqlite3_file;
        let rc = base_open(base, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            if let Some(close) = (*inner).pMethods.as_ref().and_then(|m| m.xClose) {
                close(inner);
            }
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        let methods = &*(*inner).pMethods;
        let powersafe = methods
            .xDeviceCharacteristics
            .is_some_and(|dc| dc(inner) & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0);
        std::ptr::write(
            file as *mut WalFile,
            WalFile {
                head: ffi::sqlite3_file { pMethods: &METHODS },
                inner,
                buffered: powersafe,
                buf: Vec::new(),
                start: 0,
                commit_at: None,
                read_at: None,
            },
        );
        ffi::SQLITE_OK
    }
}

/// Our methods for a WAL file: each passes the call to the default VFS's
/// file, first writing out what is held back where the call could see it.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

// SAFETY (every method below): SQLite calls a file's methods with the file
// our `open` initialised, one call at a time, and never after `close`.
unsafe fn ours<'a>(file: *mut ffi::sqlite3_file) -> &'a mut WalFile {
    unsafe { &mut *(file as *mut WalFile) }
}

/// The default VFS's methods for our inner file.
fn inner_methods(w: &WalFile) -> &ffi::sqlite3_io_methods {
    // SAFETY: the inner file was opened successfully, so its methods are set.
    unsafe { &*(*w.inner).pMethods }
}

/// Writes `bytes` at `offset` through the default VFS.
fn write_through(w: &WalFile, bytes: &[u8], offset: i64) -> c_int {
    let Some(f) = inner_methods(w).xWrite else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    let Ok(len) = c_int::try_from(bytes.len()) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    WRITES.with(|n| n.set(n.get() + 1));
    // SAFETY: `bytes` is valid for `len` bytes; the inner file is open.
    unsafe { f(w.inner, bytes.as_ptr() as *const c_void, len, offset) }
}

/// Writes out what is held back. On failure it is dropped: SQLite fails
/// the transaction that wrote it, and its frames are never published.
fn flush(w: &mut WalFile) -> c_int {
    w.commit_at = None;
    if w.buf.is_empty() {
        return ffi::SQLITE_OK;
    }
    let rc = write_through(w, &w.buf, w.start);
    w.buf.clear();
    rc
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let w = unsafe { ours(file) };
    let Ok(len) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    // SAFETY: SQLite passes `amount` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
    let rewrite = w.read_at.take() == Some(offset);
    // Decided before anything below flushes (which forgets `commit_at`):
    // the commit frame's page may not fit beside its header.
    let completes_commit = w
        .commit_at
        .is_some_and(|at| at + FRAME_HEADER as i64 == offset);
    let end = w.start + w.buf.len() as i64;
    if !w.buffered || rewrite || len >= CAP {
        let rc = flush(w);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        return write_through(w, bytes, offset);
    }
    if !w.buf.is_empty() && (offset != end || w.buf.len() + len > CAP) {
        let rc = flush(w);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    if w.buf.is_empty() {
        w.start = offset;
    }
    if w.buf.capacity() == 0 {
        // Once, at its full size: it never holds more than `CAP`, and
        // growing it step by step was half of its cost.
        w.buf.reserve_exact(CAP);
    }
    w.buf.extend_from_slice(bytes);
    if completes_commit {
        // The commit frame's page: the transaction is complete.
        return flush(w);
    }
    if len == FRAME_HEADER && bytes[4..8] != [0; 4] {
        w.commit_at = Some(offset);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let w = unsafe { ours(file) };
    let rc = flush(w);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    w.read_at = Some(offset);
    match inner_methods(w).xRead {
        Some(f) => unsafe { f(w.inner, data, amount, offset) },
        None => ffi::SQLITE_IOERR_READ,
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let w = unsafe { ours(file) };
    let flushed = flush(w);
    let closed = match inner_methods(w).xClose {
        Some(f) => unsafe { f(w.inner) },
        None => ffi::SQLITE_OK,
    };
    // SAFETY: the file is not used after close; drop what `open` wrote.
    unsafe { std::ptr::drop_in_place(file as *mut WalFile) };
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

/// Defines a method that writes out what is held back, then passes the
/// call on (answering `$missing` where the inner file lacks the method).
macro_rules! after_flush {
    ($name:ident, $field:ident, $missing:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            let w = unsafe { ours(file) };
            let rc = flush(w);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            match inner_methods(w).$field {
                Some(f) => unsafe { f(w.inner, $($arg),*) },
                None => $missing,
            }
        }
    };
}

/// Defines a method that passes the call on as it is.
macro_rules! pass {
    ($name:ident, $field:ident, $ret:ty, $missing:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            let w = unsafe { ours(file) };
            match inner_methods(w).$field {
                Some(f) => unsafe { f(w.inner, $($arg),*) },
                None => $missing,
            }
        }
    };
}

after_flush!(truncate, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, (size: i64));
after_flush!(sync, xSync, ffi::SQLITE_IOERR_FSYNC, (flags: c_int));
after_flush!(file_size, xFileSize, ffi::SQLITE_IOERR_FSTAT, (size: *mut i64));
after_flush!(lock, xLock, ffi::SQLITE_IOERR_LOCK, (level: c_int));
after_flush!(unlock, xUnlock, ffi::SQLITE_IOERR_UNLOCK, (level: c_int));
after_flush!(check_reserved_lock, xCheckReservedLock, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, (out: *mut c_int));
after_flush!(file_control, xFileControl, ffi::SQLITE_NOTFOUND, (op: c_int, arg: *mut c_void));
pass!(sector_size, xSectorSize, c_int, 4096, ());
pass!(device_characteristics, xDeviceCharacteristics, c_int, 0, ());
pass!(shm_map, xShmMap, c_int, ffi::SQLITE_IOERR_SHMMAP, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void));
pass!(shm_lock, xShmLock, c_int, ffi::SQLITE_IOERR_SHMLOCK, (offset: c_int, n: c_int, flags: c_int));
pass!(shm_unmap, xShmUnmap, c_int, ffi::SQLITE_OK, (delete: c_int));

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let w = unsafe { ours(file) };
    match inner_methods(w).xFetch {
        Some(f) => unsafe { f(w.inner, offset, amount, out) },
        None => {
            // No mapping: SQLite reads instead.
            unsafe { *out = std::ptr::null_mut() };
            ffi::SQLITE_OK
        }
    }
}
pass!(unfetch, xUnfetch, c_int, ffi::SQLITE_OK, (offset: i64, page: *mut c_void));

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let w = unsafe { ours(file) };
    if let Some(f) = inner_methods(w).xShmBarrier {
        unsafe { f(w.inner) }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::writes_on_this_thread;

    fn open(path: &Path) -> Connection {
        crate::db::prepare_sqlite();
        assert!(super::install(), "our VFS is the default");
        let conn = Connection::open(path).expect("open");
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .expect("wal");
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    /// A copy of the database and its WAL as they are on disk now, as a
    /// crash would leave them, opened (SQLite recovers from the WAL).
    fn as_after_a_crash(dir: &Path) -> Connection {
        let copy = dir.join("copy");
        std::fs::create_dir(&copy).expect("dir");
        for name in ["t.db", "t.db-wal"] {
            std::fs::copy(dir.join(name), copy.join(name)).expect("copy");
        }
        let conn = Connection::open(copy.join("t.db")).expect("open copy");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
        conn
    }

    /// A new database in WAL mode with a table and two indexes, one row in
    /// it, and the writer's `pragmas` set.
    fn database(pragmas: &str) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let writer = open(&dir.path().join("t.db"));
        writer
            .execute_batch(
                "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, b TEXT);
             CREATE INDEX t_a ON t(a); CREATE INDEX t_b ON t(b);
             INSERT INTO t(a, b) VALUES ('first', 'row');",
            )
            .expect("schema");
        writer.execute_batch(pragmas).expect("pragmas");
        (dir, writer)
    }

    fn insert(conn: &Connection, rows: u32, seed: u32) {
        let tx = conn.unchecked_transaction().expect("begin");
        for i in 0..rows {
            let v = (seed * 7919 + i * 104_729) % 1_000_003;
            tx.execute(
                "INSERT INTO t(a, b) VALUES (?1, ?2)",
                (format!("a{v}"), format!("{v}b")),
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }

    #[test]
    fn a_commit_reaches_the_file_in_one_write_and_readers_see_it() {
        let (dir, writer) = database("");
        let reader = Connection::open(dir.path().join("t.db")).expect("reader");
        let before = writes_on_this_thread();
        for commit in 1..=40 {
            // Five rows in a table and two indexes: at least four frames,
            // eight writes a commit without the buffer.
            insert(&writer, 5, commit);
            assert_eq!(count(&reader), 1 + 5 * i64::from(commit));
        }
        assert_eq!(writes_on_this_thread() - before, 40, "one write a commit");
        assert_eq!(count(&as_after_a_crash(dir.path())), 201);
    }

    #[test]
    fn a_commit_larger_than_the_buffer_reaches_the_file_in_pieces() {
        let (dir, writer) = database("");
        insert(&writer, 10, 1);
        let before = writes_on_this_thread();
        // Over 100 pages (500 KB of frames) in one commit, none spilled.
        insert(&writer, 8_000, 2);
        let writes = writes_on_this_thread() - before;
        let frames: i64 = writer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .expect("frames");
        assert!(frames > 100, "{frames} frames");
        assert!(
            (2..=10).contains(&writes),
            "{writes} writes for {frames} frames"
        );
        assert_eq!(count(&as_after_a_crash(dir.path())), 8_011);
    }

    #[test]
    fn a_commit_frame_whose_page_fills_the_buffer_is_written() {
        // The buffer fills at its 32nd frame's page; commits of every size
        // from 20 to 70 pages put their commit frame there at least once.
        // A reader then reads every page, the newest from the WAL.
        let (dir, writer) = database("");
        writer
            .execute_batch("CREATE TABLE big(b BLOB)")
            .expect("table");
        let reader = Connection::open(dir.path().join("t.db")).expect("reader");
        let mut total = 0;
        for pages in 20..=70 {
            let tx = writer.unchecked_transaction().expect("begin");
            for _ in 0..pages {
                tx.execute("INSERT INTO big(b) VALUES (zeroblob(3000))", [])
                    .expect("insert");
            }
            tx.commit().expect("commit");
            total += pages;
            let read: i64 = reader
                .query_row("SELECT sum(length(b)) FROM big", [], |r| r.get(0))
                .expect("the reader reads every page");
            assert_eq!(read, 3000 * total);
        }
    }

    #[test]
    fn a_commit_that_spilled_and_rewrote_frames_is_whole_in_the_file() {
        // A cache of a few pages: the transaction writes frames before its
        // commit, dirties those pages again, and SQLite overwrites them in
        // place and rewrites the checksums of every frame after its commit
        // frame — the last write of the commit is a header, with no page.
        let (dir, writer) = database("PRAGMA cache_size=4");
        insert(&writer, 10, 1);
        insert(&writer, 3_000, 2);
        let reader = Connection::open(dir.path().join("t.db")).expect("reader");
        assert_eq!(count(&reader), 3_011);
        assert_eq!(count(&as_after_a_crash(dir.path())), 3_011);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_nothing_and_the_next_commit_is_whole() {
        let (dir, writer) = database("PRAGMA cache_size=4");
        {
            let tx = writer.unchecked_transaction().expect("begin");
            for i in 0..2_000 {
                tx.execute("INSERT INTO t(a, b) VALUES (?1, 'x')", [format!("r{i}")])
                    .expect("insert");
            }
            tx.rollback().expect("rollback");
        }
        insert(&writer, 20, 3);
        assert_eq!(count(&as_after_a_crash(dir.path())), 21);
    }

    #[test]
    fn full_sync_commits_are_whole_across_checkpoints() {
        let (dir, writer) = database("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=20;");
        for commit in 1..=60 {
            insert(&writer, 25, commit);
        }
        assert_eq!(count(&as_after_a_crash(dir.path())), 1 + 25 * 60);
    }
}
