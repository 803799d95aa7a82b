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

/// Requests written in one transaction at most. A flush every five seconds
/// of a server answering 4,000 requests a second is 20,000 rows: written at
/// once they held the control database's writer, and a thread of the
/// core, for tens of milliseconds; in pieces, requests are served between
/// them. The pieces leave the control database's generation alone
/// (`Db::write_unseen`): nothing derived reads this table.
const FLUSH_CHUNK: usize = 512;

/// Writes what is waiting in `log` to the control database `db`, in
/// transactions of `FLUSH_CHUNK` requests. On a failed write what was not
/// written is put back (up to the cap), so a brief lock does not lose
/// requests.
pub async fn flush(log: &RequestLog, db: &std::sync::Arc<crate::db::Db>) -> AppResult<usize> {
    let mut batch = log.drain();
    let n = batch.len();
    while !batch.is_empty() {
        let rest = batch.split_off(batch.len().min(FLUSH_CHUNK));
        let chunk = std::sync::Arc::new(batch);
        let written = chunk.clone();
        if let Err(e) = db.write_unseen(move |tx| insert(tx, &written)).await {
            let chunk = std::sync::Arc::try_unwrap(chunk).unwrap_or_else(|a| (*a).clone());
            for r in chunk.into_iter().chain(rest) {
                log.note(r);
            }
            return Err(e);
        }
        batch = rest;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::db::{Db, DbOptions, Schema};

    fn request(i: usize) -> ApiRequest {
        ApiRequest {
            org_id: "org".into(),
            at: clock::now_stamp(),
            actor_kind: "key",
            actor_id: None,
            actor_label: format!("key {i}"),
            method: "GET".into(),
            route: "/api/v1/orgs/{org}/contacts".into(),
            status: 200,
            latency_ms: 1,
            ip: "127.0.0.1".into(),
        }
    }

    fn count(db: &Db) -> i64 {
        db.read_blocking(
            |c| Ok(c.query_row("SELECT count(*) FROM api_requests", [], |r| r.get(0))?),
        )
        .expect("count")
    }

    /// A flush larger than one transaction's share writes every request,
    /// in order, in pieces: one that fails part way keeps what it wrote and
    /// puts back only the rest. No flush moves the database's generation
    /// (what was derived from it, such as grants, still holds).
    #[tokio::test]
    async fn a_flush_writes_every_request_in_pieces_and_keeps_what_failed() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Arc::new(
            Db::open(
                &dir.path().join("c.db"),
                Schema::Control,
                &DbOptions::new(false),
            )
            .expect("open"),
        );
        let log = RequestLog::default();
        let n = FLUSH_CHUNK * 2 + 7;
        for i in 0..n {
            log.note(request(i));
        }
        let generation = db.generation();
        assert_eq!(flush(&log, &db).await.expect("flush"), n);
        assert_eq!(count(&db), n as i64);
        assert_eq!(db.generation(), generation);
        assert!(log.drain().is_empty());
        let last: String = db
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT actor_label FROM api_requests ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("last");
        assert_eq!(last, format!("key {}", n - 1));

        // The table takes one more piece, then refuses.
        let full = n + FLUSH_CHUNK;
        db.write_blocking(move |c| {
            c.execute_batch(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON api_requests
                 WHEN (SELECT count(*) FROM api_requests) >= {full}
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            ))?;
            Ok(())
        })
        .expect("trigger");
        for i in 0..n {
            log.note(request(i));
        }
        assert!(flush(&log, &db).await.is_err());
        assert_eq!(count(&db), full as i64);
        let back = log.drain();
        assert_eq!(back.len(), n - FLUSH_CHUNK);
        assert_eq!(back[0].actor_label, format!("key {FLUSH_CHUNK}"));
    }
}
