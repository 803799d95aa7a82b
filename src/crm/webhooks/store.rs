//! The SQL of webhooks: subscriptions, deliveries and the delivery log
//! (all in the organization's database; secrets are in the vault).

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
             created_at, created_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8)",
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

/// Writes a changed hook. Enabling one clears its failure state.
pub fn update(conn: &Connection, h: &Webhook) -> AppResult<()> {
    let n = conn.execute(
        "UPDATE webhooks SET url = ?2, description = ?3, events = ?4, enabled = ?5,
             failing_since = CASE WHEN ?5 AND enabled = 0 THEN NULL ELSE failing_since END,
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

/// A delivery whose time has come, with its event and hook.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: String,
    pub hook_id: String,
    pub event_id: String,
    pub attempts: i64,
    pub created_at: String,
    pub event_type: String,
    pub event_at: String,
    pub data: String,
    pub url: String,
    pub secret_id: String,
    pub enabled: bool,
}

pub fn due(conn: &Connection, now: &str, limit: i64) -> AppResult<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.hook_id, d.event_id, d.attempts, d.created_at, e.type, e.created_at,
                e.data, w.url, w.secret_id, w.enabled
         FROM webhook_deliveries d
         JOIN webhook_events e ON e.id = d.event_id
         JOIN webhooks w ON w.id = d.hook_id
         WHERE d.state = 'pending' AND d.next_at <= ?1
         ORDER BY d.next_at, d.id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit], |r| {
            Ok(Due {
                id: r.get(0)?,
                hook_id: r.get(1)?,
                event_id: r.get(2)?,
                attempts: r.get(3)?,
                created_at: r.get(4)?,
                event_type: r.get(5)?,
                event_at: r.get(6)?,
                data: r.get(7)?,
                url: r.get(8)?,
                secret_id: r.get(9)?,
                enabled: r.get(10)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The earliest pending delivery's time.
pub fn next_pending(conn: &Connection) -> AppResult<Option<String>> {
    Ok(conn.query_row(
        "SELECT min(next_at) FROM webhook_deliveries WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?)
}

/// How one attempt ended.
pub struct Outcome {
    pub due: Due,
    pub at: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response: String,
    /// Delivered (2xx).
    pub ok: bool,
    /// When to try again (None: no more tries).
    pub retry_at: Option<String>,
    /// Not even tried (the hook was disabled meanwhile).
    pub skipped: bool,
}

/// Records attempts and moves deliveries on; returns the hooks whose
/// failures have lasted longer than `give_up_before` (they are disabled).
pub fn record(
    conn: &Connection,
    outcomes: &[Outcome],
    give_up_before: &str,
) -> AppResult<Vec<Webhook>> {
    let mut disabled = Vec::new();
    for o in outcomes {
        let d = &o.due;
        if o.skipped {
            conn.prepare_cached(
                "UPDATE webhook_deliveries SET state = 'failed', next_at = NULL WHERE id = ?1",
            )?
            .execute([&d.id])?;
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO webhook_attempts (id, hook_id, event_id, event_type, attempt, at,
                 status_code, latency_ms, error, response)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            clock::new_id(),
            d.hook_id,
            d.event_id,
            d.event_type,
            d.attempts + 1,
            o.at,
            o.status_code,
            o.latency_ms,
            o.error,
            o.response
        ])?;
        let (state, next) = match (o.ok, &o.retry_at) {
            (true, _) => ("delivered", None),
            (false, Some(t)) => ("pending", Some(t.as_str())),
            (false, None) => ("failed", None),
        };
        conn.prepare_cached(
            "UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, next_at = ?3
             WHERE id = ?1",
        )?
        .execute(params![d.id, state, next])?;
        if d.event_type == super::TEST_EVENT {
            continue;
        }
        if o.ok {
            conn.prepare_cached(
                "UPDATE webhooks SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL",
            )?
            .execute([&d.hook_id])?;
            continue;
        }
        conn.prepare_cached(
            "UPDATE webhooks SET failing_since = ?2 WHERE id = ?1 AND failing_since IS NULL",
        )?
        .execute(params![d.hook_id, o.at])?;
        let n = conn
            .prepare_cached(
                "UPDATE webhooks SET enabled = 0, updated_at = ?3,
                     disabled_reason = 'its deliveries failed for three days'
                 WHERE id = ?1 AND enabled = 1 AND failing_since <= ?2",
            )?
            .execute(params![d.hook_id, give_up_before, o.at])?;
        if n > 0 {
            events::forget_subscriptions(conn);
            // Its other pending deliveries are given up with it.
            conn.prepare_cached(
                "UPDATE webhook_deliveries SET state = 'failed', next_at = NULL
                 WHERE hook_id = ?1 AND state = 'pending'",
            )?
            .execute([&d.hook_id])?;
            if let Some(h) = get(conn, &d.hook_id)? {
                disabled.push(h);
            }
        }
    }
    Ok(disabled)
}

/// Forgets delivered events after a week and the log after 30 days.
pub fn prune(conn: &Connection, now: time::OffsetDateTime) -> AppResult<()> {
    let week = clock::stamp(now - time::Duration::days(7));
    let month = clock::stamp(now - time::Duration::days(30));
    conn.execute(
        "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?1",
        [&week],
    )?;
    conn.execute(
        "DELETE FROM webhook_events WHERE created_at < ?1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        [&week],
    )?;
    conn.execute("DELETE FROM webhook_attempts WHERE at < ?1", [&month])?;
    Ok(())
}
