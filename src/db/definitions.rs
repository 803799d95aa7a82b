//! A database's definitions epoch: a counter bumped after every commit that
//! changed a definition (a custom field), so that what is read from those
//! rarely changing tables can be kept between requests and dropped the
//! moment one changes (`record::custom::of_kind`). Every request that creates,
//! updates or shows a record with custom values reads its kind's fields;
//! kept, that is a lookup instead of a query.
//!
//! The epoch is bumped after the commit and before any caller is answered,
//! and a reader takes it *before* reading: what it reads is at least as new
//! as the epoch it is filed under (the rule of `Db::generation`).

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use rusqlite::Connection;

thread_local! {
    /// Set inside a write transaction that changed a definition.
    static CHANGED: Cell<bool> = const { Cell::new(false) };
}

/// The epochs of every database this process opened, by file path (the
/// name SQLite reports for each of its connections).
static EPOCHS: LazyLock<Mutex<HashMap<String, Arc<AtomicU64>>>> = LazyLock::new(Default::default);

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, Arc<AtomicU64>>> {
    EPOCHS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called inside a write transaction that changes a definition.
pub fn changed() {
    CHANGED.with(|c| c.set(true));
}

/// Whether this thread's write transaction changed a definition it has not
/// committed yet: what is kept is older than what it sees.
pub fn changing() -> bool {
    CHANGED.with(Cell::get)
}

/// The epoch of the database `conn` belongs to; None for a connection to a
/// database not opened through `Db` (nothing is kept for it).
pub fn epoch(conn: &Connection) -> Option<u64> {
    let path = conn.path()?;
    lock().get(path).map(|e| e.load(Ordering::Acquire))
}

/// At open: a new epoch, so nothing kept from an earlier opening of the
/// same file (replaced since, by a restore) is served.
pub(super) fn opened(conn: &Connection) {
    if let Some(path) = conn.path() {
        lock()
            .entry(path.to_string())
            .or_default()
            .fetch_add(1, Ordering::AcqRel);
    }
}

/// After a transaction ends (committed or not), on the thread that ran it:
/// bumps the epoch if the transaction changed a definition.
pub(super) fn settle(conn: &Connection) {
    if !CHANGED.with(|c| c.replace(false)) {
        return;
    }
    if let Some(path) = conn.path()
        && let Some(e) = lock().get(path)
    {
        e.fetch_add(1, Ordering::AcqRel);
    }
}
