//! The per-organization API request log: time, API key or person, method,
//! route template (never the concrete path: it may hold ids or tokens),
//! status, latency and address of every request made to an organization's
//! routes. Kept 30 days in the control database (`api_requests`, control
//! V12), read by the organization's admins (Settings → API).
//!
//! Requests are noted in memory and written in batches (`flush`, by a job
//! every few seconds and before each read), so answering a request never
//! waits for a write.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::audit::Actor;
use crate::clock;
use crate::error::AppResult;

/// How long requests are kept.
pub const RETENTION: time::Duration = time::Duration::days(30);

/// The most requests waiting to be written; beyond it they are dropped (and
/// counted) rather than let memory grow while the disk is stuck.
const MAX_PENDING: usize = 50_000;

/// One request to an organization's routes.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    pub org_id: String,
    pub at: String,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub method: String,
    pub route: String,
    pub status: u16,
    pub latency_ms: u64,
    pub ip: String,
}

/// Who a request turned out to be for: filled in by the organization access
/// check (`platform::access`), read by the request-log middleware once the
/// answer is ready. Requests that never reach an organization stay unlogged.
#[derive(Clone, Default)]
pub struct RequestSlot(Arc<Mutex<Option<(String, Actor)>>>);

impl RequestSlot {
    pub fn set(&self, org_id: &str, actor: Actor) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((org_id.to_string(), actor));
    }

    pub fn take(&self) -> Option<(String, Actor)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Requests noted but not yet written.
#[derive(Default)]
pub struct RequestLog {
    pending: Mutex<Vec<ApiRequest>>,
    dropped: std::sync::atomic::AtomicU64,
}

impl RequestLog {
    pub fn note(&self, r: ApiRequest) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() >= MAX_PENDING {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        p.push(r);
    }

    /// Takes what is waiting (to write it).
    pub fn drain(&self) -> Vec<ApiRequest> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Requests dropped because too many were waiting.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Writes `batch` (one transaction: the caller's).
pub fn insert(conn: &Connection, batch: &[ApiRequest]) -> AppResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO api_requests (org_id, at, actor_kind, actor_id, actor_label, method, route,
           status, latency_ms, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in batch {
        stmt.execute(params![
            r.org_id,
            r.at,
            r.actor_kind,
            r.actor_id,
            r.actor_label,
            r.method,
            r.route,
            r.status,
            r.latency_ms as i64,
            r.ip
        ])?;
    }
    Ok(())
}

/// Deletes requests older than the retention at `now`.
pub fn purge_old(conn: &Connection, now: time::OffsetDateTime) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM api_requests WHERE at < ?1",
        [clock::stamp(now - RETENTION)],
    )?)
}

/// Forgets an erased organization's requests.
pub fn forget_org(conn: &Connection, org_id: &str) -> AppResult<usize> {
    Ok(conn.execute("DELETE FROM api_requests WHERE org_id = ?1", [org_id])?)
}

/// One logged request as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ApiRequestItem {
    /// The entry's number (also the paging cursor).
    pub seq: i64,
    pub at: String,
    /// `user` or `api_key`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// The person's email or the key's name.
    pub actor_label: String,
    pub method: String,
    /// The route template, e.g. `/api/v1/orgs/{org}/contacts/{id}`.
    pub route: String,
    pub status: u16,
    pub latency_ms: i64,
    pub ip: String,
}

/// What a reader asks for.
#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    /// An API key's or person's id.
    pub actor: Option<String>,
    /// Only requests made by API keys (`api_key`) or by people (`user`).
    pub actor_kind: Option<String>,
    /// Only answers with a status at or above this (400: the failures).
    pub min_status: Option<u16>,
    /// Entries older than this one.
    pub before_seq: Option<i64>,
}

/// Up to `limit` requests of `org_id` matching `f`, newest first.
pub fn list(
    conn: &Connection,
    org_id: &str,
    f: &RequestFilter,
    limit: u32,
) -> AppResult<Vec<ApiRequestItem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor_kind, actor_id, actor_label, method, route, status, latency_ms, ip
         FROM api_requests
         WHERE org_id = ?1 AND (?2 IS NULL OR actor_id = ?2) AND status >= ?3
           AND (?4 IS NULL OR seq < ?4) AND (?6 IS NULL OR actor_kind = ?6)
         ORDER BY seq DESC LIMIT ?5",
    )?;
    let items = stmt
        .query_map(
            params![
                org_id,
                f.actor,
                f.min_status.unwrap_or(0),
                f.before_seq,
                limit,
                f.actor_kind
            ],
            |r| {
                Ok(ApiRequestItem {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor_kind: r.get(2)?,
                    actor_id: r.get(3)?,
                    actor_label: r.get(4)?,
                    method: r.get(5)?,
                    route: r.get(6)?,
                    status: r.get(7)?,
                    latency_ms: r.get(8)?,
                    ip: r.get(9)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// Writes what is waiting in `log` to the control database `db`. On a
/// failed write the batch is put back (up to the cap), so a brief lock does
/// not lose requests.
pub async fn flush(log: &RequestLog, db: &std::sync::Arc<crate::db::Db>) -> AppResult<usize> {
    let batch = log.drain();
    if batch.is_empty() {
        return Ok(0);
    }
    let n = batch.len();
    let kept = batch.clone();
    match db.write(move |tx| insert(tx, &batch)).await {
        Ok(()) => Ok(n),
        Err(e) => {
            for r in kept {
                log.note(r);
            }
            Err(e)
        }
    }
}
