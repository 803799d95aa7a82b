//! References from one thing to a record of any kind, as (kind, id): what a
//! `record` custom field holds, and what notes, tasks, activities and files
//! will attach to. A reference is shown with the record's name; one whose
//! record is in the trash says so (`deleted`), and one whose record is gone
//! keeps its id with an empty name — a page never breaks on it.

use std::collections::HashMap;

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::record::Kind;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordRef {
    pub kind: String,
    pub id: String,
    /// The record's name ("" once it is erased).
    pub name: String,
    /// The record is in the trash, or erased.
    pub deleted: bool,
}

/// The names of these records of one kind: id → (name, in the trash).
/// Ids with no record at all are left out.
pub fn names(
    conn: &Connection,
    kind: &dyn Kind,
    ids: &[&str],
) -> AppResult<HashMap<String, (String, bool)>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let ids = serde_json::to_string(ids).map_err(|e| AppError::Internal(e.into()))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT t.id, {}, t.deleted_at IS NOT NULL FROM {} t
         WHERE t.id IN (SELECT value FROM json_each(?1))",
        kind.name_sql(),
        kind.table()
    ))?;
    let rows = stmt.query_map([ids], |r| {
        Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
    })?;
    for row in rows {
        let (id, v) = row?;
        out.insert(id, v);
    }
    Ok(out)
}

/// A reference as shown, from the names `names` found.
pub fn shown(kind: &str, id: &str, names: &HashMap<String, (String, bool)>) -> RecordRef {
    let (name, deleted) = names.get(id).cloned().unwrap_or((String::new(), true));
    RecordRef {
        kind: kind.to_string(),
        id: id.to_string(),
        name,
        deleted,
    }
}

/// Whether `id` is a live record of `kind` (a reference may be made to it).
pub fn is_live(conn: &Connection, kind: &dyn Kind, id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1 AND deleted_at IS NULL)",
            kind.table()
        ))?
        .query_row([id], |r| r.get(0))?)
}
