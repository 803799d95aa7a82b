//! The SQL of imports: the `imports` row (settings, progress, report) and
//! `import_rows` (what each row did).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use super::{Dedupe, UNDO_DAYS};
use crate::clock;
use crate::error::{AppError, AppResult};

/// An import as stored.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: String,
    pub kind: String,
    pub format: String,
    pub file_name: String,
    pub encoding: String,
    pub delimiter: String,
    pub headers: Vec<String>,
    pub headers_key: String,
    pub row_count: i64,
    pub mapping: Vec<Option<String>>,
    pub mapping_set: bool,
    pub dedupe: Dedupe,
    pub state: String,
    pub cancel: bool,
    pub counts: Counts,
    pub error: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
    pub undo_report: Option<Value>,
}

/// Rows done so far and what they did.
#[derive(Clone, Copy, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
}

const COLUMNS: &str = "id, kind, format, file_name, encoding, delimiter, headers, headers_key,
    row_count, mapping, mapping_set, dedupe, state, cancel, rows_done, created, updated, skipped,
    failed, error, created_at, created_by, started_at, finished_at, undone_at, undone_by, undo_report";

fn json<T: serde::de::DeserializeOwned>(r: &rusqlite::Row, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Stored> {
    let undo: Option<String> = r.get(26)?;
    Ok(Stored {
        id: r.get(0)?,
        kind: r.get(1)?,
        format: r.get(2)?,
        file_name: r.get(3)?,
        encoding: r.get(4)?,
        delimiter: r.get(5)?,
        headers: json(r, 6)?,
        headers_key: r.get(7)?,
        row_count: r.get(8)?,
        mapping: json(r, 9)?,
        mapping_set: r.get(10)?,
        dedupe: json(r, 11)?,
        state: r.get(12)?,
        cancel: r.get(13)?,
        counts: Counts {
            rows_done: r.get(14)?,
            created: r.get(15)?,
            updated: r.get(16)?,
            skipped: r.get(17)?,
            failed: r.get(18)?,
        },
        error: r.get(19)?,
        created_at: r.get(20)?,
        created_by: r.get(21)?,
        started_at: r.get(22)?,
        finished_at: r.get(23)?,
        undone_at: r.get(24)?,
        undone_by: r.get(25)?,
        undo_report: undo.and_then(|u| serde_json::from_str(&u).ok()),
    })
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// What identifies a file's shape: its kind and its columns' names.
pub fn headers_key(kind: &str, headers: &[String]) -> String {
    let mut key = kind.to_string();
    for h in headers {
        key.push('\u{1f}');
        key.push_str(&super::targets::normal(h));
    }
    key
}

pub fn insert(conn: &Connection, i: &Stored) -> AppResult<()> {
    conn.execute(
        "INSERT INTO imports (id, kind, format, file_name, encoding, delimiter, headers, headers_key,
             row_count, mapping, mapping_set, dedupe, state, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'uploaded', ?13, ?14)",
        params![
            i.id,
            i.kind,
            i.format,
            i.file_name,
            i.encoding,
            i.delimiter,
            to_json(&i.headers)?,
            i.headers_key,
            i.row_count,
            to_json(&i.mapping)?,
            i.mapping_set,
            to_json(&i.dedupe)?,
            i.created_at,
            i.created_by
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Stored>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM imports WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// Imports, newest first, before the cursor (`created_at|id` of the last one seen).
pub fn list(conn: &Connection, before: Option<&str>, limit: i64) -> AppResult<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM imports WHERE created_at || '|' || id < ?1
          ORDER BY created_at DESC, id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![before.unwrap_or("\u{10ffff}"), limit], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The mapping a person saved for the last file of the same shape.
pub fn saved_mapping(
    conn: &Connection,
    headers_key: &str,
) -> AppResult<Option<Vec<Option<String>>>> {
    let m: Option<String> = conn
        .prepare_cached(
            "SELECT mapping FROM imports WHERE headers_key = ?1 AND mapping_set = 1
              ORDER BY created_at DESC LIMIT 1",
        )?
        .query_row([headers_key], |r| r.get(0))
        .optional()?;
    Ok(m.and_then(|m| serde_json::from_str(&m).ok()))
}

pub fn set_settings(
    conn: &Connection,
    id: &str,
    mapping: &[Option<String>],
    dedupe: &Dedupe,
) -> AppResult<()> {
    conn.execute(
        "UPDATE imports SET mapping = ?2, dedupe = ?3, mapping_set = 1 WHERE id = ?1",
        params![id, to_json(&mapping)?, to_json(dedupe)?],
    )?;
    Ok(())
}

pub fn set_state(conn: &Connection, id: &str, state: &str) -> AppResult<()> {
    let now = clock::now_stamp();
    conn.execute(
        "UPDATE imports SET state = ?2,
             started_at = CASE WHEN ?2 = 'running' AND started_at IS NULL THEN ?3 ELSE started_at END,
             finished_at = CASE WHEN ?2 IN ('done', 'failed', 'cancelled') THEN ?3 ELSE finished_at END
         WHERE id = ?1",
        params![id, state, now],
    )?;
    Ok(())
}

pub fn fail(conn: &Connection, id: &str, error: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE imports SET state = 'failed', error = ?2, finished_at = ?3 WHERE id = ?1",
        params![id, error, clock::now_stamp()],
    )?;
    Ok(())
}

pub fn request_cancel(conn: &Connection, id: &str) -> AppResult<()> {
    conn.execute("UPDATE imports SET cancel = 1 WHERE id = ?1", [id])?;
    Ok(())
}

/// Adds a batch's counts (in the batch's transaction, so progress and the
/// rows written never disagree and a rerun resumes where it stopped).
pub fn add_counts(conn: &Connection, id: &str, c: &Counts) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE imports SET rows_done = rows_done + ?2, created = created + ?3,
             updated = updated + ?4, skipped = skipped + ?5, failed = failed + ?6 WHERE id = ?1",
    )?
    .execute(params![
        id,
        c.rows_done,
        c.created,
        c.updated,
        c.skipped,
        c.failed
    ])?;
    Ok(())
}

/// One row's outcome.
pub struct RowOutcome<'a> {
    pub seq: i64,
    pub sub: i64,
    pub outcome: &'a str,
    pub kind: Option<&'a str>,
    pub record_id: Option<&'a str>,
    pub before: Option<&'a str>,
    pub version: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn add_row(conn: &Connection, import_id: &str, r: &RowOutcome<'_>) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO import_rows (import_id, seq, sub, outcome, kind, record_id, before, version, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![import_id, r.seq, r.sub, r.outcome, r.kind, r.record_id, r.before, r.version, r.error])?;
    Ok(())
}

/// A row that failed, or has a warning: its number and why.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// The data row (1 = the first row after the header).
    pub row: i64,
    pub error: String,
}

pub fn failures(conn: &Connection, import_id: &str, limit: i64) -> AppResult<Vec<Failure>> {
    rows_saying_why(conn, import_id, true, limit)
}

/// Rows that went in (or were skipped) with something to look at: a part
/// left out (a photo), or the matching record restricted. A row's warning
/// is kept where a failed row keeps its error.
pub fn warnings(conn: &Connection, import_id: &str, limit: i64) -> AppResult<Vec<Failure>> {
    rows_saying_why(conn, import_id, false, limit)
}

fn rows_saying_why(
    conn: &Connection,
    import_id: &str,
    failed: bool,
    limit: i64,
) -> AppResult<Vec<Failure>> {
    let mut stmt = conn.prepare_cached(
        // Named: without statistics SQLite takes the primary key, which
        // has the same order, and walks every row the import wrote (an
        // eighth of the server's CPU while an import was polled).
        "SELECT seq, error FROM import_rows INDEXED BY import_rows_saying_why
          WHERE import_id = ?1 AND (outcome = 'failed') = ?3 AND sub = 0 AND error IS NOT NULL
          ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![import_id, limit, failed], |r| {
            Ok(Failure {
                row: r.get(0)?,
                error: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// What undo reads: records created or changed, after `seq`, in order.
pub struct Touched {
    pub seq: i64,
    pub sub: i64,
    pub outcome: String,
    pub kind: String,
    pub record_id: String,
    pub before: Option<String>,
    pub version: Option<String>,
}

/// `by_name` false: the rows' own records; true: the companies rows
/// created by name (undone after the records that link to them).
pub fn touched(
    conn: &Connection,
    import_id: &str,
    by_name: bool,
    after: (i64, i64),
    limit: i64,
) -> AppResult<Vec<Touched>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, sub, outcome, kind, record_id, before, version FROM import_rows
          WHERE import_id = ?1 AND outcome IN ('created', 'updated') AND (seq, sub) > (?2, ?3)
            AND (sub > 0) = ?5
          ORDER BY seq, sub LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![import_id, after.0, after.1, limit, by_name], |r| {
            Ok(Touched {
                seq: r.get(0)?,
                sub: r.get(1)?,
                outcome: r.get(2)?,
                kind: r.get(3)?,
                record_id: r.get(4)?,
                before: r.get(5)?,
                version: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn set_undone(conn: &Connection, id: &str, by: &str, report: &Value) -> AppResult<()> {
    conn.execute(
        "UPDATE imports SET state = 'undone', undone_at = ?2, undone_by = ?3, undo_report = ?4 WHERE id = ?1",
        params![id, clock::now_stamp(), by, report.to_string()],
    )?;
    Ok(())
}

/// Whether an import finished recently enough to be undone.
pub fn undoable(i: &Stored) -> bool {
    let cutoff = clock::stamp(clock::now() - time::Duration::days(UNDO_DAYS));
    matches!(i.state.as_str(), "done" | "cancelled" | "failed")
        && i.finished_at
            .as_deref()
            .is_some_and(|f| f >= cutoff.as_str())
}

/// The seqs of the failed rows with their reasons, for the failed-rows CSV.
pub fn failed_map(
    conn: &Connection,
    import_id: &str,
) -> AppResult<std::collections::HashMap<i64, String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, error FROM import_rows WHERE import_id = ?1 AND outcome = 'failed'",
    )?;
    let rows = stmt
        .query_map([import_id], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
