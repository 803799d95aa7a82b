//! The SQL of webhooks: subscriptions and the delivery log (in the
//! organization's database; secrets are in the vault). What is waiting to
//! be delivered is in `queue`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::events;

/// A webhook as the API shows it (never its secret, only its last four).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Event types, or `["*"]` for all.
    pub events: Vec<String>,
    pub enabled: bool,
    /// The last four characters of the signing secret.
    pub secret_last4: String,
    /// Since when deliveries fail (null while they succeed).
    pub failing_since: Option<String>,
    /// Why it was disabled by Harmonia (null if not, or by a person).
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    #[serde(skip)]
    pub secret_id: String,
}

const COLUMNS: &str = "id, url, description, events, enabled, secret_last4, failing_since,
    disabled_reason, created_at, created_by, updated_at, secret_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Webhook> {
    let events: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: r.get(4)?,
        secret_last4: r.get(5)?,
        failing_since: r.get(6)?,
        disabled_reason: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        updated_at: r.get(10)?,
        secret_id: r.get(11)?,
    })
}

pub fn list(conn: &Connection) -> AppResult<Vec<Webhook>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM webhooks ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Webhook>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

pub fn insert(conn: &Connection, h: &Webhook) -> AppResult<()> {
    conn.execute(
        "INSERT INTO webhooks (id, url, description, events, enabled, secret_id, secret_last4,
             created_at, created_by, updated_at, handled_through)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8,
                 (SELECT coalesce(max(seq), 0) FROM webhook_events))",
        params![
            h.id,
            h.url,
            h.description,
            events_json(&h.events),
            h.enabled,
            h.secret_id,
            h.secret_last4,
            h.created_at,
            h.created_by
        ],
    )?;
    events::forget_subscriptions(conn);
    Ok(())
}

/// Writes a changed hook. Enabling one clears its failure state; it gets
/// the events written from then on (not those of the time it was off).
pub fn update(conn: &Connection, h: &Webhook) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE webhooks SET url = ?2, description = ?3, events = ?4, enabled = ?5,
             failing_since = CASE WHEN ?5 AND enabled = 0 THEN NULL ELSE failing_since END,
             handled_through = CASE WHEN ?5 AND enabled = 0
                 THEN (SELECT coalesce(max(seq), 0) FROM webhook_events)
                 ELSE handled_through END,
             disabled_reason = CASE WHEN ?5 THEN NULL ELSE disabled_reason END,
             updated_at = ?6
         WHERE id = ?1",
        params![
            h.id,
            h.url,
            h.description,
            events_json(&h.events),
            h.enabled,
            clock::now_stamp()
        ],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::forget_subscriptions(conn);
    Ok(())
}

pub fn set_secret(conn: &Connection, id: &str, secret_id: &str, last4: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE webhooks SET secret_id = ?2, secret_last4 = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, secret_id, last4, clock::now_stamp()],
    )?;
    Ok(())
}

/// Deletes a hook with its pending deliveries and its log.
pub fn delete(conn: &Connection, id: &str) -> AppResult<bool> {
    let n = conn.execute("DELETE FROM webhooks WHERE id = ?1", [id])?;
    conn.execute("DELETE FROM webhook_deliveries WHERE hook_id = ?1", [id])?;
    conn.execute("DELETE FROM webhook_attempts WHERE hook_id = ?1", [id])?;
    events::forget_subscriptions(conn);
    Ok(n > 0)
}

/// One attempt of a delivery, as the delivery log shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first try.
    pub attempt: i64,
    pub at: String,
    /// The receiver's HTTP status; null when no answer came (see `error`).
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's answer (at most 1 KB).
    pub response: String,
}

pub fn attempts(conn: &Connection, hook_id: &str, limit: i64) -> AppResult<Vec<Attempt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, event_id, event_type, attempt, at, status_code, latency_ms, error, response
         FROM webhook_attempts WHERE hook_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![hook_id, limit], |r| {
            Ok(Attempt {
                id: r.get(0)?,
                event_id: r.get(1)?,
                event_type: r.get(2)?,
                attempt: r.get(3)?,
                at: r.get(4)?,
                status_code: r.get(5)?,
                latency_ms: r.get(6)?,
                error: r.get(7)?,
                response: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}
