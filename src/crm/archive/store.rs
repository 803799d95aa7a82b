//! The control database's record of archives owners asked for: one row per
//! request, `preparing` until the archive is written, then `ready` (until it
//! expires) or `failed`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::Member;
use crate::error::AppResult;

/// How long a prepared archive can be downloaded.
pub const KEPT_DAYS: i64 = 7;

/// An archive as its organization's owners see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = OrgArchive)]
pub struct Archive {
    pub id: String,
    /// `preparing`, `ready` or `failed`.
    pub status: String,
    pub requested_at: String,
    /// The owner who asked for it.
    pub requested_by: String,
    /// Size in bytes of the download, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<String>,
    /// When the file is removed (7 days after it is ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A row with where its file lies (never sent to clients).
pub struct Row {
    pub org_id: String,
    pub archive: Archive,
    pub file: Option<String>,
}

const COLUMNS: &str =
    "org_id, id, status, requested_at, requested_by, size, ready_at, expires_at, error, file";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        org_id: r.get(0)?,
        archive: Archive {
            id: r.get(1)?,
            status: r.get(2)?,
            requested_at: r.get(3)?,
            requested_by: r.get(4)?,
            size: r.get(5)?,
            ready_at: r.get(6)?,
            expires_at: r.get(7)?,
            error: r.get(8)?,
        },
        file: r.get(9)?,
    })
}

pub fn request(conn: &Connection, org_id: &str, id: &str, by: &str, at: &str) -> AppResult<()> {
    conn.execute(
        "INSERT INTO org_archives (id, org_id, requested_by, requested_at, status)
         VALUES (?1, ?2, ?3, ?4, 'preparing')",
        params![id, org_id, by, at],
    )?;
    Ok(())
}

pub fn preparing_in(conn: &Connection, org_id: &str) -> AppResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM org_archives WHERE org_id = ?1 AND status = 'preparing')",
        [org_id],
        |r| r.get(0),
    )?)
}

/// The organization's archives, newest first.
pub fn of_org(conn: &Connection, org_id: &str) -> AppResult<Vec<Archive>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM org_archives WHERE org_id = ?1 ORDER BY requested_at DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map([org_id], from_row)?
        .map(|r| r.map(|r| r.archive))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One archive of the organization (another organization's id is none).
pub fn one(conn: &Connection, org_id: &str, id: &str) -> AppResult<Option<Row>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM org_archives WHERE org_id = ?1 AND id = ?2"),
            [org_id, id],
            from_row,
        )
        .optional()?)
}

pub fn preparing(conn: &Connection) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM org_archives WHERE status = 'preparing' ORDER BY requested_at"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn ready(
    conn: &Connection,
    id: &str,
    file: &str,
    size: i64,
    at: &str,
    expires: &str,
) -> AppResult<bool> {
    Ok(conn.execute(
        "UPDATE org_archives SET status = 'ready', file = ?2, size = ?3, ready_at = ?4,
             expires_at = ?5, error = NULL
         WHERE id = ?1 AND status = 'preparing'",
        params![id, file, size, at, expires],
    )? == 1)
}

pub fn failed(conn: &Connection, id: &str, error: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE org_archives SET status = 'failed', error = ?2 WHERE id = ?1",
        params![id, error],
    )?;
    Ok(())
}

/// Ready archives past their expiry and failed ones older than a month:
/// what the archives job removes.
pub fn expired(conn: &Connection, now: &str, month_ago: &str) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM org_archives
         WHERE (status = 'ready' AND expires_at < ?1) OR (status = 'failed' AND requested_at < ?2)"
    ))?;
    let rows = stmt
        .query_map([now, month_ago], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn forget(conn: &Connection, id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM org_archives WHERE id = ?1", [id])?;
    Ok(())
}

/// The organization's active members, as an archive lists them.
pub fn members(conn: &Connection, org_id: &str) -> AppResult<Vec<Member>> {
    let mut stmt = conn.prepare(
        "SELECT u.id, u.email, u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.status = 'active' ORDER BY u.email",
    )?;
    let rows = stmt
        .query_map([org_id], |r| {
            Ok(Member {
                user_id: r.get(0)?,
                email: r.get(1)?,
                name: r.get(2)?,
                role: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
