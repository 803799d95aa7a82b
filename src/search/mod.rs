//! Instant search: one Tantivy index per organization, derived from SQLite.
//!
//! SQLite stays the source of truth. Every write that changes searchable text
//! adds a row to `search_outbox` in the same transaction (`enqueue`); a
//! background indexer per open organization drains the outbox into the index,
//! and only then deletes the rows, so a crash never leaves the index silently
//! behind. Records join search by implementing `Source`; the list of sources
//! is handed in at start-up — there is no second search path.

pub mod capped;
pub mod hits;
pub mod index;
pub mod query;
pub mod text;

use rusqlite::{Connection, params};

use crate::error::AppResult;

pub use index::TenantSearch;

/// What the index holds about one record.
#[derive(Clone, Debug, Default)]
pub struct SearchDoc {
    pub kind: &'static str,
    pub id: String,
    pub title: String,
    pub subtitle: String,
    /// Everything whose words should be found (names, emails, domain, …).
    pub texts: Vec<String>,
    /// Phone numbers in E.164.
    pub phones: Vec<String>,
    /// Short values worth showing as the matched snippet, most telling first.
    pub snippets: Vec<String>,
    /// The record's place in a list of its kind sorted by name, as a
    /// number (`rank`), when the kind has such a list.
    pub rank: Option<u64>,
}

/// A sort key as a number that never orders two keys against their order
/// as SQLite compares text (bytewise): its first eight bytes, big-endian.
/// Keys equal in those bytes get the same rank.
pub fn rank(key: &str) -> u64 {
    let mut b = [0u8; 8];
    for (slot, byte) in b.iter_mut().zip(key.as_bytes()) {
        *slot = *byte;
    }
    u64::from_be_bytes(b)
}

/// A kind of record that can be searched.
pub trait Source: Sync {
    /// The `type` in results and in the outbox, e.g. `contact`.
    fn kind(&self) -> &'static str;
    /// Documents for those of `ids` that are live (trashed or missing ones are left out).
    fn docs(&self, conn: &Connection, ids: &[String]) -> AppResult<Vec<SearchDoc>>;
    /// How many live records there are (a rebuild's progress).
    fn count(&self, conn: &Connection) -> AppResult<usize>;
    /// The next `limit` live documents with an id greater than `after`, by id (rebuilds).
    fn docs_after(&self, conn: &Connection, after: &str, limit: usize)
    -> AppResult<Vec<SearchDoc>>;
}

/// Every searchable kind of record, handed in from above at start-up (the
/// search layer names no kind).
pub type Sources = &'static [&'static dyn Source];

pub fn source(sources: Sources, kind: &str) -> Option<&'static dyn Source> {
    sources.iter().copied().find(|s| s.kind() == kind)
}

/// Records (in the caller's transaction) that a record's searchable text changed.
pub fn enqueue(conn: &Connection, kind: &str, id: &str) -> AppResult<()> {
    conn.prepare_cached("INSERT INTO search_outbox (kind, id) VALUES (?1, ?2)")?
        .execute(params![kind, id])?;
    Ok(())
}

/// Records that every row an SQL `SELECT id …` returns changed (e.g. the
/// contacts of a renamed company).
pub fn enqueue_select(conn: &Connection, kind: &str, select_ids: &str, arg: &str) -> AppResult<()> {
    conn.execute(
        &format!("INSERT INTO search_outbox (kind, id) SELECT ?1, id FROM ({select_ids})"),
        params![kind, arg],
    )?;
    Ok(())
}

/// Marks the index as needing a full rebuild (after bulk loads that skip the
/// outbox): a new epoch no index carries yet.
pub fn invalidate(conn: &Connection) -> AppResult<()> {
    conn.execute("DELETE FROM search_outbox", [])?;
    conn.execute(
        "UPDATE search_state SET epoch = ?1",
        [format!("invalidated-{}", crate::clock::new_id())],
    )?;
    Ok(())
}
