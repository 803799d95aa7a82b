//! Restricted records: a privacy request (GDPR art. 18, "restriction of
//! processing") keeps a record but makes it read-only until an admin lifts
//! the restriction. The layer enforces it where records are written — a
//! replace, a move to the trash or back, a tag change, an erasure from the
//! trash — so every route that writes through the layer refuses (409
//! `restricted`) and nothing is half-changed; lists' exports leave the
//! record out, its webhook events are not written, and the trash keeps it
//! past its 30 days. Reads go on, and show `restricted: true`.
//!
//! Which records a request restricts is the caller's business (the privacy
//! routes name a person's contacts); ids are unique across kinds, so one
//! table serves every kind.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{AppError, AppResult};

/// SQL over a kind's table aliased `t`: the record is not restricted.
pub const NOT_RESTRICTED: &str =
    "NOT EXISTS (SELECT 1 FROM record_restrictions rr WHERE rr.record_id = t.id)";

/// Whether any record of the organization is restricted (one probe: most
/// organizations have none, and their lists and exports then skip the check).
pub fn any(conn: &Connection) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM record_restrictions)")?
        .query_row([], |r| r.get(0))?)
}

/// When the record was restricted, if it is.
pub fn since(conn: &Connection, id: &str) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT restricted_at FROM record_restrictions WHERE record_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// 409 `restricted` if the record is restricted; `label` names its kind.
pub fn ensure_writable(conn: &Connection, label: &str, id: &str) -> AppResult<()> {
    if since(conn, id)?.is_some() {
        return Err(refusal(label));
    }
    Ok(())
}

/// The 409 a change of a restricted record of kind `label` gets.
pub fn refusal(label: &str) -> AppError {
    AppError::restricted(&format!("this {}", label.to_lowercase()))
}

/// 409 `restricted` if any of `ids` is restricted (a change to many
/// records is refused whole, before anything is written); `plural` names
/// the kind ("contacts").
pub fn ensure_none_among(conn: &Connection, plural: &str, ids: &[String]) -> AppResult<()> {
    match count_among(conn, ids)? {
        0 => Ok(()),
        n => Err(AppError::Restricted(format!(
            "{n} of these {} {} restricted by a privacy request and read-only; leave {} out, \
             or an admin must lift the restriction (Settings → Privacy)",
            plural.to_lowercase(),
            if n == 1 { "is" } else { "are" },
            if n == 1 { "it" } else { "them" },
        ))),
    }
}

/// How many of `ids` are restricted.
pub fn count_among(conn: &Connection, ids: &[String]) -> AppResult<usize> {
    if ids.is_empty() || !any(conn)? {
        return Ok(0);
    }
    let mut stmt = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM record_restrictions WHERE record_id = ?1)")?;
    let mut n = 0;
    for id in ids {
        if stmt.query_row([id], |r| r.get::<_, bool>(0))? {
            n += 1;
        }
    }
    Ok(n)
}

/// When each of these records was restricted, for those that are.
pub fn of_records(conn: &Connection, ids: &[String]) -> AppResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    if ids.is_empty() || !any(conn)? {
        return Ok(out);
    }
    let mut stmt =
        conn.prepare_cached("SELECT restricted_at FROM record_restrictions WHERE record_id = ?1")?;
    for id in ids {
        if let Some(at) = stmt.query_row([id], |r| r.get(0)).optional()? {
            out.insert(id.clone(), at);
        }
    }
    Ok(out)
}

/// Restricts a record; false if it already was. Webhook deliveries of its
/// events still waiting are withdrawn: nothing more about it goes out.
pub fn restrict(conn: &Connection, kind: &str, id: &str, by: &str, at: &str) -> AppResult<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO record_restrictions (record_id, kind, restricted_at, restricted_by)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, kind, at, by])?;
    crate::events::withdraw(conn, id)?;
    Ok(n > 0)
}

/// Lifts a record's restriction; false if it had none.
pub fn lift(conn: &Connection, id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM record_restrictions WHERE record_id = ?1")?
        .execute([id])?
        > 0)
}
