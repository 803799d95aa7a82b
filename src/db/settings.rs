//! How SQLite is set up: once for the process (before its first
//! connection), for every connection, and the planner's statistics.

use std::time::Duration;

use rusqlite::Connection;

use super::{pagecache, walfile};
use crate::error::AppResult;

/// What SQLite accepts only before its first connection in the process: our
/// page cache (see `pagecache`), then our VFS (see `walfile`; registering
/// it initialises SQLite, so it comes second). The binary calls this first
/// thing and `Db::open` again (for the tests and the benchmark); later calls
/// change nothing. Without them writes are correct, only slower: say so once.
/// Returns whether the page cache is in place.
pub fn prepare_sqlite() -> bool {
    static SAID: std::sync::Once = std::sync::Once::new();
    let installed = pagecache::install();
    let wal = walfile::install();
    if !installed || !wal {
        SAID.call_once(|| {
            if !installed {
                tracing::warn!("SQLite was initialised before Harmonia set up its page cache; commits scan the whole cache");
            }
            if !wal {
                tracing::warn!("Harmonia's WAL writer is not SQLite's default VFS; each WAL frame is written on its own");
            }
        });
    }
    installed
}

/// How much of a database file a connection reads through a memory map
/// (SQLite's own ceiling, 2 GB). Without it every page missing from the
/// connection's small cache is a `pread` copied out of the kernel's page
/// cache: a list's search box reading 4,000 records spent most of its time
/// in those copies. Mapped pages are the page cache itself — shared, and
/// dropped by the kernel under memory pressure, not the server's memory.
const MMAP_BYTES: u64 = 0x7fff_0000;

/// The per-connection settings every Harmonia connection gets (public for the
/// benchmark's raw-SQLite baseline).
pub fn apply_pragmas(conn: &Connection, synchronous_full: bool) -> rusqlite::Result<()> {
    crate::order::register_sql(conn)?;
    crate::idset::register_sql(conn)?;
    let sync = if synchronous_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync};
         PRAGMA foreign_keys=ON;
         PRAGMA temp_store=MEMORY;
         PRAGMA trusted_schema=OFF;
         PRAGMA mmap_size={MMAP_BYTES};"
    ))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Every kind's list, record, tag and field statements stay prepared
    // (rusqlite keeps 16 by default; re-preparing a list's SELECT costs more
    // than running it).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Bounds the rows `PRAGMA optimize` reads per index (milliseconds, not a
/// full scan, at any size).
const STATISTICS_LIMIT: &str = "PRAGMA analysis_limit=1000;";

/// Brings the query planner's statistics up to date where they are stale
/// (bounded work; a daily job runs it for every organization).
pub fn refresh_statistics(conn: &Connection) -> AppResult<()> {
    conn.execute_batch(&format!("{STATISTICS_LIMIT} PRAGMA optimize=0x10002;"))?;
    Ok(())
}
