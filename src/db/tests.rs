//! The writer's group commit, at the level of one database.

use super::*;

fn open(dir: &Path) -> Arc<Db> {
    let db = Db::open(&dir.join("t.db"), Schema::Control, &DbOptions::new(false)).expect("open");
    db.write_now(|c| {
        c.execute_batch("CREATE TABLE t (n INTEGER NOT NULL)")?;
        Ok(())
    })
    .expect("table");
    Arc::new(db)
}

fn rows(db: &Db) -> Vec<i64> {
    db.read_blocking(|c| {
        let mut stmt = c.prepare("SELECT n FROM t ORDER BY n")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<i64>, _>>()?)
    })
    .expect("rows")
}

fn insert_then(n: i64, fail: bool) -> impl FnOnce(&Connection) -> AppResult<i64> {
    move |c| {
        c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
        if fail {
            return Err(AppError::Conflict("refused after writing".into()));
        }
        Ok(n)
    }
}

/// A job alone in its batch runs without a savepoint: when it fails
/// after writing, what it wrote must still go.
#[tokio::test]
async fn a_lone_write_that_fails_after_writing_leaves_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    let err = db.write(insert_then(1, true)).await;
    assert!(matches!(err, Err(AppError::Conflict(_))), "{err:?}");
    assert_eq!(rows(&db), Vec::<i64>::new());
    assert_eq!(db.write(insert_then(2, false)).await.expect("next"), 2);
    assert_eq!(rows(&db), vec![2]);
}

/// A job that panics alone is rolled back, its caller hears an error,
/// and the writer goes on.
#[tokio::test]
async fn a_lone_write_that_panics_leaves_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    let err = db
        .write(|c| -> AppResult<()> {
            c.execute("INSERT INTO t (n) VALUES (7)", [])?;
            panic!("a bug in a write");
        })
        .await;
    assert!(err.is_err());
    assert_eq!(rows(&db), Vec::<i64>::new());
    db.write(insert_then(8, false)).await.expect("next");
    assert_eq!(rows(&db), vec![8]);
}

/// Writes queued while the writer is busy go in one batch, each in its
/// own savepoint: the one that fails after writing loses only its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_share_a_batch_and_fail_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    // The writer is held by another thread while the ten writes queue.
    let (locked, is_locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = {
        let db = db.clone();
        std::thread::spawn(move || {
            let _held = db.writer.lock().expect("writer");
            locked.send(()).expect("locked");
            released.recv().expect("release");
        })
    };
    is_locked.recv().expect("locked");
    let writes: Vec<_> = (0..10)
        .map(|n| {
            let db = db.clone();
            tokio::spawn(async move { db.write(insert_then(n, n == 4)).await })
        })
        .collect();
    while db.queue_depth() < 10 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let generation = db.generation();
    release.send(()).expect("release");
    holder.join().expect("holder");
    for (n, w) in writes.into_iter().enumerate() {
        let out = w.await.expect("task");
        if n == 4 {
            assert!(matches!(out, Err(AppError::Conflict(_))), "{out:?}");
        } else {
            assert_eq!(out.expect("write"), n as i64);
        }
    }
    // One batch: one transaction for the ten.
    assert_eq!(db.generation(), generation + 1);
    assert_eq!(rows(&db), vec![0, 1, 2, 3, 5, 6, 7, 8, 9]);
}

/// The tests that write tens of megabytes of WAL run one at a time: how
/// long their WAL grows depends on the background checkpoint keeping up,
/// which their fsyncs, side by side, slowed until it did not (each passed
/// alone and failed now and then beside the others).
fn wal_heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// One bulk commit of four 6,000-byte rows into table `b` (some 7 pages of WAL).
fn four_blobs(db: &Db) {
    let blob = "x".repeat(6000);
    db.write_now(|c| {
        for _ in 0..4 {
            c.execute("INSERT INTO b (v) VALUES (?1)", [&blob])?;
        }
        Ok(())
    })
    .expect("write");
}

/// A database with one table whose writer makes the WAL start over past
/// 4 MB (1 GB by default).
fn open_restarting_early(dir: &Path, table: &str) -> Db {
    let opts = DbOptions {
        wal_restart_pages: 1000,
        ..DbOptions::new(false)
    };
    open_with(dir, &opts, table)
}

/// `t.db` in `dir`, opened with `opts`, with one table.
fn open_with(dir: &Path, opts: &DbOptions, table: &str) -> Db {
    let db = Db::open(&dir.join("t.db"), Schema::Control, opts).expect("open");
    db.write_now(|c| {
        c.execute_batch(&format!("CREATE TABLE {table}"))?;
        Ok(())
    })
    .expect("table");
    db
}

/// A steady stream of writes keeps the WAL bounded: background checkpoints
/// alone never finish it (each commit appends while they copy), and SQLite
/// starts the WAL over only on a fully copied one, so without the writer's
/// catch-up it grew by every commit for as long as the stream lasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The guard only keeps the other WAL-heavy tests out; nothing else waits on it.
#[allow(clippy::await_holding_lock)]
async fn a_stream_of_writes_keeps_the_wal_bounded() {
    let _heavy = wal_heavy();
    let dir = tempfile::tempdir().expect("dir");
    let db = Arc::new(open_restarting_early(dir.path(), "t (n INTEGER NOT NULL)"));
    let blob = "x".repeat(6000);
    // Each commit writes four or more pages: 4,000 of them are over 70 MB
    // of WAL if it never starts over; starting over, it stays within a few
    // checkpoints' worth (more when the machine is busy and the background
    // checkpoint slow).
    let commits = 8 * COMMITS_PER_CHECKPOINT as usize;
    let mut largest = 0;
    for n in 0..commits {
        let b = blob.clone();
        db.write(move |c| {
            c.execute("INSERT INTO t (n) VALUES (?1)", [n as i64])?;
            c.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS b (v TEXT); INSERT INTO b VALUES ('{b}')"
            ))?;
            Ok(())
        })
        .await
        .expect("write");
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).map_or(0, |m| m.len());
        largest = largest.max(wal);
    }
    assert_eq!(rows(&db).len(), commits);
    assert!(
        largest < 32 << 20,
        "the WAL grew to {largest} bytes over {commits} commits"
    );
    // Every background checkpoint used the connection the first one opened.
    let (runs, opens) = db.checkpoint_counts();
    assert!(runs >= 2, "{runs} background checkpoints");
    assert_eq!(
        opens, 1,
        "{opens} connections opened for {runs} checkpoints"
    );
}

/// Bulk commits (an import's batches, the demo generator) keep the WAL
/// bounded too, though they no longer copy it back themselves after each
/// one: the background checkpoints and the writer's catch-up do, as for
/// queued writes. Without either, these commits leave 134 MB of WAL; with
/// them it starts over once a checkpoint is done. They are paced, as an
/// import's batches are (each takes milliseconds): back to back, 4,000 of
/// them take half a second, and on a busy machine one checkpoint's fsyncs
/// can take that long (the WAL reached 52 MB in CI with 2,000 of them).
#[test]
fn bulk_commits_keep_the_wal_bounded() {
    let _heavy = wal_heavy();
    let dir = tempfile::tempdir().expect("dir");
    let db = open_restarting_early(dir.path(), "b (v TEXT NOT NULL)");
    let commits = 8 * COMMITS_PER_CHECKPOINT as usize;
    let mut largest = 0;
    for _ in 0..commits {
        four_blobs(&db);
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).map_or(0, |m| m.len());
        largest = largest.max(wal);
        std::thread::sleep(Duration::from_micros(500));
    }
    let count: i64 = db
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM b", [], |r| r.get(0))?))
        .expect("count");
    assert_eq!(count, 4 * commits as i64);
    assert!(
        largest < 64 << 20,
        "the WAL grew to {largest} bytes over {commits} bulk commits"
    );
}

/// A long WAL is no reason by itself for another checkpoint: one is due
/// after so many commits or so many pages appended since the last began.
/// Counted from where the WAL last started over — only every gigabyte
/// under a stream of writes — every commit past the threshold began one,
/// each with its fsyncs, back to back for most of a create storm.
#[test]
fn a_long_wal_is_checkpointed_by_what_was_appended() {
    let _heavy = wal_heavy();
    let dir = tempfile::tempdir().expect("dir");
    let opts = DbOptions {
        wal_restart_pages: i64::MAX,
        // Above what the control schema's migrations leave in the WAL (about
        // 90 pages): no checkpoint starts before the reader's snapshot.
        wal_pages_per_checkpoint: 200,
        ..DbOptions::new(false)
    };
    let db = open_with(dir.path(), &opts, "b (v TEXT NOT NULL)");
    // A reader's old snapshot keeps the WAL from starting over, as a
    // stream of writes does.
    let reader = Connection::open(dir.path().join("t.db")).expect("reader");
    reader.execute_batch("BEGIN").expect("begin");
    let _: i64 = reader
        .query_row("SELECT count(*) FROM b", [], |r| r.get(0))
        .expect("snapshot");
    for _ in 0..200 {
        four_blobs(&db);
        // Each checkpoint ends before the next commit: how many begin then
        // depends on the rule alone, not on how fast this disk syncs.
        let began = std::time::Instant::now();
        while db.checkpointing.load(Ordering::Acquire) {
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "a checkpoint never ended"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let wal = std::fs::metadata(dir.path().join("t.db-wal"))
        .expect("wal")
        .len();
    let frames = (wal.saturating_sub(32) / (4096 + 24)) as u32;
    assert!(frames > 1000, "{frames} frames");
    let (runs, _) = db.checkpoint_counts();
    assert!(
        runs <= frames / 200 + 1,
        "{runs} background checkpoints for {frames} WAL pages"
    );
    reader.execute_batch("COMMIT").expect("end");
}

/// A lookup runs on the caller's thread once a reader is idle (the hand-off
/// to the blocking pool is what it spares), falls back to the pool when
/// none is, sees committed rows, and survives a panic in its closure: the
/// caller hears an internal error and the connection serves the next read.
#[tokio::test]
async fn a_lookup_runs_in_place_when_a_reader_is_idle() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    db.write(insert_then(5, false)).await.expect("row");
    let here = std::thread::current().id();
    let on_thread = |db: &Arc<Db>| {
        let db = db.clone();
        async move {
            db.lookup(|c| {
                let n: i64 = c.query_row("SELECT n FROM t", [], |r| r.get(0))?;
                Ok((std::thread::current().id(), n))
            })
            .await
            .expect("lookup")
        }
    };
    // A fresh pool has no idle connection: the first lookup goes through
    // the pool (and leaves a connection behind).
    let (first, n) = on_thread(&db).await;
    assert_eq!(n, 5);
    assert_ne!(first, here, "no idle reader yet: through the blocking pool");
    let (second, n) = on_thread(&db).await;
    assert_eq!(n, 5);
    assert_eq!(second, here, "an idle reader: run in place");

    let err = db
        .lookup(|c| -> AppResult<()> {
            c.query_row("SELECT n FROM t", [], |r| r.get::<_, i64>(0))?;
            panic!("a bug in a lookup");
        })
        .await;
    assert!(matches!(err, Err(AppError::Internal(_))), "{err:?}");
    db.write(insert_then(6, false)).await.expect("row");
    let (_, n) = db
        .lookup(|c| {
            Ok((
                (),
                c.query_row("SELECT max(n) FROM t", [], |r| r.get::<_, i64>(0))?,
            ))
        })
        .await
        .expect("after the panic");
    assert_eq!(n, 6, "the panicked read's snapshot was let go");
}

/// Reads beyond the pool's connections wait in the database's queue, not
/// on threads of their own: however many are asked at once, no more run
/// together than there are connections, a few threads take them all, and
/// every one is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beyond_the_pool_queue_and_all_are_answered() {
    use std::sync::atomic::AtomicUsize;
    let dir = tempfile::tempdir().expect("dir");
    let mut opts = DbOptions::new(false);
    opts.readers = 2;
    let db = Arc::new(Db::open(&dir.path().join("r.db"), Schema::Control, &opts).expect("open"));
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let reads = (0..40).map(|i| {
        let (db, now, most) = (db.clone(), now.clone(), most.clone());
        let threads = threads.clone();
        tokio::spawn(async move {
            db.read(move |c| {
                threads
                    .lock()
                    .expect("threads")
                    .insert(std::thread::current().id());
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                let n: i64 = c.query_row("SELECT ?1", [i], |r| r.get(0))?;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(n)
            })
            .await
        })
    });
    let answers: Vec<i64> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("read"))
        .collect();
    assert_eq!(answers, (0..40).collect::<Vec<i64>>());
    let most = most.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} reads ran at once");
    // Two threads took them, give or take one that found the queue empty
    // for a moment (a thread per read would be 40).
    let threads = threads.lock().expect("threads").len();
    assert!(threads <= 4, "40 reads ran on {threads} threads");
    assert_eq!(db.reads_waiting(), 0);
}

/// A read that panics answers its caller with an error; the reads queued
/// behind it are answered on the same connection, which is usable again.
#[tokio::test]
async fn a_read_that_panics_fails_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let mut opts = DbOptions::new(false);
    opts.readers = 1;
    let db = Arc::new(Db::open(&dir.path().join("p.db"), Schema::Control, &opts).expect("open"));
    let bad = db.read(|c| -> AppResult<i64> {
        c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        panic!("a bug in a read");
    });
    let good = db.read(|c| Ok(c.query_row("SELECT 2", [], |r| r.get::<_, i64>(0))?));
    let (bad, good) = tokio::join!(bad, good);
    assert!(matches!(bad, Err(AppError::Internal(_))), "{bad:?}");
    assert_eq!(good.expect("the next read"), 2);
    assert_eq!(
        db.read(|c| Ok(c.query_row("SELECT 3", [], |r| r.get::<_, i64>(0))?))
            .await
            .expect("later"),
        3
    );
}

/// The writer keeps a larger page cache than SQLite's 2 MB default (a
/// record's indexes are written at random places), the readers the
/// default (they read through the memory map).
#[test]
fn the_writer_keeps_a_larger_page_cache_than_the_readers() {
    let dir = tempfile::tempdir().expect("dir");
    let db = open(dir.path());
    let cache = |c: &Connection| -> AppResult<i64> {
        Ok(c.query_row("PRAGMA cache_size", [], |r| r.get(0))?)
    };
    let writer = db.write_now(cache).expect("writer");
    let reader = db.read_blocking(cache).expect("reader");
    assert_eq!(writer, -WRITER_CACHE_KIB);
    assert!(writer < reader, "writer {writer} KiB, reader {reader}");
}

/// While writes come the WAL file keeps its length (cutting it back at
/// each restart made ext4 allocate it again); once they stop it is
/// emptied, and every row is still there.
#[test]
fn a_long_wal_file_is_emptied_once_writes_stop() {
    let _heavy = wal_heavy();
    let dir = tempfile::tempdir().expect("dir");
    let opts = DbOptions {
        // Starts over past about 4 MB; emptied past 1 MB after 300 ms quiet.
        wal_restart_pages: 1000,
        wal_kept_bytes: 1 << 20,
        wal_quiet: Duration::from_millis(300),
        ..DbOptions::new(false)
    };
    let db = open_with(dir.path(), &opts, "b (v TEXT NOT NULL)");
    let wal_len = || std::fs::metadata(dir.path().join("t.db-wal")).map_or(0, |m| m.len());
    let commits = COMMITS_PER_CHECKPOINT as usize;
    let mut longest = 0;
    for _ in 0..commits {
        four_blobs(&db);
        let len = wal_len();
        // Writes come faster than `wal_quiet`: nothing empties the file.
        assert!(
            len >= longest,
            "the WAL file shrank from {longest} to {len} bytes mid-stream"
        );
        longest = len;
    }
    assert!(
        longest > 1 << 20,
        "the WAL file only reached {longest} bytes"
    );
    assert_eq!(db.wal_trims(), 0);
    let began = std::time::Instant::now();
    // The file is empty before the trim is counted.
    while wal_len() > 0 || db.wal_trims() == 0 {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the WAL file is still {} bytes long",
            wal_len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(db.wal_trims(), 1);
    let count: i64 = db
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM b", [], |r| r.get(0))?))
        .expect("count");
    assert_eq!(count, 4 * commits as i64);
    // And the writer goes on writing into the emptied file.
    db.write_now(|c| {
        c.execute("INSERT INTO b (v) VALUES ('after')", [])?;
        Ok(())
    })
    .expect("after");
    assert!(wal_len() > 0);
}

/// A database's reads run on a thread per connection, but two on a
/// single core.
#[test]
fn reading_threads_follow_the_cores() {
    use super::reads::threads_for;
    assert_eq!(
        threads_for(1, 4),
        2,
        "one core: two, so a long read blocks none"
    );
    assert_eq!(threads_for(0, 4), 2);
    assert_eq!(threads_for(2, 4), 4);
    assert_eq!(threads_for(16, 4), 4, "no more than the connections");
    assert_eq!(threads_for(1, 1), 1);
    assert_eq!(threads_for(8, 0), 1);
    let opts = DbOptions::new(false);
    assert!((1..=opts.readers).contains(&opts.reading_threads));
}
