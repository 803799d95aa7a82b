//! The SQL of inbound webhooks: endpoints (control database, since the
//! public URL names no organization), and per organization the event ids
//! already received and which record an outside system's id names.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::clock;
use crate::error::{AppError, AppResult};

/// An inbound endpoint as the API shows it (its secret only by its last four).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InboundHook {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub secret_last4: String,
    pub created_at: String,
    pub created_by: String,
    /// When the last accepted event arrived.
    pub last_received_at: Option<String>,
    #[serde(skip)]
    pub org_id: String,
    #[serde(skip)]
    pub secret_id: String,
}

const COLUMNS: &str =
    "id, name, enabled, secret_last4, created_at, created_by, last_received_at, org_id, secret_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<InboundHook> {
    Ok(InboundHook {
        id: r.get(0)?,
        name: r.get(1)?,
        enabled: r.get(2)?,
        secret_last4: r.get(3)?,
        created_at: r.get(4)?,
        created_by: r.get(5)?,
        last_received_at: r.get(6)?,
        org_id: r.get(7)?,
        secret_id: r.get(8)?,
    })
}

pub fn list(c: &Connection, org_id: &str) -> AppResult<Vec<InboundHook>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM inbound_hooks WHERE org_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([org_id], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// An endpoint by id alone (the public route), any organization.
pub fn get(c: &Connection, id: &str) -> AppResult<Option<InboundHook>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM inbound_hooks WHERE id = ?1"
    ))?
    .query_row([id], from_row)
    .optional()?)
}

/// An endpoint of `org_id` (another organization's is a missing one).
pub fn get_in(c: &Connection, org_id: &str, id: &str) -> AppResult<InboundHook> {
    get(c, id)?
        .filter(|h| h.org_id == org_id)
        .ok_or(AppError::NotFound)
}

pub fn insert(c: &Connection, h: &InboundHook) -> AppResult<()> {
    c.execute(
        "INSERT INTO inbound_hooks (id, org_id, name, secret_id, secret_last4, enabled,
             created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            h.id,
            h.org_id,
            h.name,
            h.secret_id,
            h.secret_last4,
            h.enabled,
            h.created_at,
            h.created_by
        ],
    )?;
    Ok(())
}

pub fn update(c: &Connection, h: &InboundHook) -> AppResult<()> {
    c.execute(
        "UPDATE inbound_hooks SET name = ?3, enabled = ?4 WHERE id = ?1 AND org_id = ?2",
        params![h.id, h.org_id, h.name, h.enabled],
    )?;
    Ok(())
}

pub fn delete(c: &Connection, org_id: &str, id: &str) -> AppResult<bool> {
    Ok(c.execute(
        "DELETE FROM inbound_hooks WHERE id = ?1 AND org_id = ?2",
        params![id, org_id],
    )? > 0)
}

pub fn received(c: &Connection, id: &str) -> AppResult<()> {
    c.prepare_cached("UPDATE inbound_hooks SET last_received_at = ?2 WHERE id = ?1")?
        .execute(params![id, clock::now_stamp()])?;
    Ok(())
}

/// Remembers an event id of an endpoint; 409 when it was seen before.
/// Ids older than a week are forgotten (the timestamp window is minutes).
pub fn first_time(tx: &Connection, endpoint_id: &str, event_id: &str) -> AppResult<()> {
    let now = clock::now();
    tx.prepare_cached("DELETE FROM inbound_events WHERE received_at < ?1")?
        .execute([clock::stamp(now - time::Duration::days(7))])?;
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO inbound_events (endpoint_id, event_id, received_at)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![endpoint_id, event_id, clock::stamp(now)])?;
    if n == 0 {
        return Err(AppError::Conflict(format!(
            "event {event_id} was already received: nothing was written again"
        )));
    }
    Ok(())
}

/// The record an outside id names in a kind, if any.
pub fn linked(tx: &Connection, kind: &str, external_id: &str) -> AppResult<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT record_id FROM external_ids WHERE kind = ?1 AND external_id = ?2")?
        .query_row([kind, external_id], |r| r.get(0))
        .optional()?)
}

pub fn link(tx: &Connection, kind: &str, external_id: &str, record_id: &str) -> AppResult<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO external_ids (kind, external_id, record_id, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![kind, external_id, record_id, clock::now_stamp()])?;
    Ok(())
}
