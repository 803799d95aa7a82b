//! Record events for outbound webhooks. A change writes its event into the
//! organization's outbox (`webhook_events`) in the same transaction as the
//! change itself, so a committed change never loses its event and a
//! rolled-back one never sends one. Events are numbered in the order they
//! commit (`seq`); each hook follows that order from the last event it
//! handled, so a change writes one row whatever the number of hooks (the
//! delivery job writes a `webhook_deliveries` row only for a retry). Nothing is written while no enabled hook subscribes to the event's
//! type: which types are subscribed is cached per database (and forgotten by
//! every hook change, inside its own transaction), so a write in an
//! organization without hooks costs one hash lookup.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::clock;
use crate::error::AppResult;

/// The job that delivers webhooks (an organization job).
pub const DELIVER_JOB: &str = "webhooks.deliver";

#[derive(Default)]
struct Subscribed {
    all: bool,
    types: HashSet<String>,
}

static CACHE: LazyLock<Mutex<HashMap<String, Arc<Subscribed>>>> = LazyLock::new(Default::default);

fn key(conn: &Connection) -> String {
    conn.path().unwrap_or_default().to_string()
}

fn cached(conn: &Connection) -> AppResult<Arc<Subscribed>> {
    let k = key(conn);
    if let Some(s) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(&k) {
        return Ok(s.clone());
    }
    let mut subs = Subscribed::default();
    let mut stmt = conn.prepare_cached("SELECT events FROM webhooks WHERE enabled = 1")?;
    for events in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let events: Vec<String> = serde_json::from_str(&events?).unwrap_or_default();
        for e in events {
            if e == "*" {
                subs.all = true;
            } else {
                subs.types.insert(e);
            }
        }
    }
    let subs = Arc::new(subs);
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(k, subs.clone());
    Ok(subs)
}

/// Whether some enabled hook of this database subscribes to `event_type`.
pub fn subscribed(conn: &Connection, event_type: &str) -> AppResult<bool> {
    let s = cached(conn)?;
    Ok(s.all || s.types.contains(event_type))
}

/// Forgets the cached subscriptions of this database: call it inside every
/// transaction that changes hooks (writes are serialized per database, so
/// the next write reloads what this one commits).
pub fn forget_subscriptions(conn: &Connection) {
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&key(conn));
}

/// Writes an event — its data built only when some hook wants it — in
/// the caller's transaction; the delivery job is made due. Returns the
/// event id when one was written.
pub fn emit(
    conn: &Connection,
    event_type: &str,
    data: impl FnOnce() -> AppResult<Value>,
) -> AppResult<Option<String>> {
    emit_json(conn, event_type, || Ok(data()?.to_string()))
}

/// `emit` with the data already written as JSON text: a record's event is
/// serialized straight from the record, with no `Value` tree between.
pub fn emit_json(
    conn: &Connection,
    event_type: &str,
    data: impl FnOnce() -> AppResult<String>,
) -> AppResult<Option<String>> {
    if !subscribed(conn, event_type)? {
        return Ok(None);
    }
    let data = data()?;
    let id = format!("evt_{}", clock::new_id());
    let now = clock::now_stamp();
    write_event(conn, &id, event_type, &now, &data)?;
    wake(conn, &now)?;
    Ok(Some(id))
}

/// Writes an event into the outbox; returns its `seq`. The hooks that
/// subscribe to its type reach it in order (a test event is instead queued
/// for its one hook by the caller).
pub fn write_event(
    conn: &Connection,
    id: &str,
    event_type: &str,
    now: &str,
    data: &str,
) -> AppResult<i64> {
    conn.prepare_cached(
        "INSERT INTO webhook_events (id, type, created_at, data) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, event_type, now, data])?;
    Ok(conn.last_insert_rowid())
}

/// Makes the delivery job due at `at` unless it already is sooner. A run
/// going on now is made due again after it (`jobs::store::finish` keeps a
/// time set meanwhile), so an event that arrived during a run is not left
/// for the next regular time — once: later events of the same run find it
/// due already and leave the row alone (under a stream of creates every
/// create's transaction rewrote the row and its `jobs_due` entry). (The
/// jobs table's SQL is here, not in `jobs`, because `jobs` sits above this
/// layer: its routes use platform.)
pub fn wake(conn: &Connection, at: &str) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE jobs SET next_run_at = ?2 WHERE name = ?1
           AND (next_run_at IS NULL OR next_run_at > ?2
                OR lease_owner IS NOT NULL AND next_run_at <= last_started_at)",
    )?
    .execute(params![DELIVER_JOB, at])?;
    crate::tenant::jobs_due_after_commit();
    Ok(())
}

/// Withdraws the events about record `id` (its created, updated and
/// deleted events) with their deliveries still waiting: a record restricted
/// by a privacy request sends nothing more, not even what was queued
/// before, and the outbox keeps no copy of it. A delivery already on the
/// wire finishes. (`seq` is AUTOINCREMENT: deleting the newest event does
/// not let the next one take its number, which a hook may have handled.)
pub fn withdraw(conn: &Connection, id: &str) -> AppResult<usize> {
    conn.prepare_cached(
        "DELETE FROM webhook_deliveries WHERE state = 'pending' AND event_seq IN (
           SELECT seq FROM webhook_events WHERE json_extract(data, '$.id') = ?1)",
    )?
    .execute([id])?;
    Ok(conn
        .prepare_cached("DELETE FROM webhook_events WHERE json_extract(data, '$.id') = ?1")?
        .execute([id])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::store;

    fn due(conn: &Connection) -> Option<String> {
        conn.query_row(
            "SELECT next_run_at FROM jobs WHERE name = ?1",
            [DELIVER_JOB],
            |r| r.get(0),
        )
        .expect("job")
    }

    /// Events during a run make the delivery job due once, for after it;
    /// the run's end keeps that time; an idle job is made due sooner only.
    #[test]
    fn a_run_is_made_due_again_once_and_kept_due_after_it() {
        let conn = crate::db::tenant_in_memory();
        let t = |s: u32| format!("2026-12-06T10:00:{s:02}.000000Z");
        store::ensure(
            &conn,
            DELIVER_JOB,
            DELIVER_JOB,
            "every 60s",
            "{}",
            Some(&t(30)),
            &t(0),
        )
        .expect("job");
        wake(&conn, &t(20)).expect("wake");
        assert_eq!(due(&conn), Some(t(20)), "sooner");
        wake(&conn, &t(25)).expect("wake");
        assert_eq!(due(&conn), Some(t(20)), "not later");

        let job = store::claim(&conn, "me", &[DELIVER_JOB], &t(21), &t(59))
            .expect("claim")
            .expect("due");
        wake(&conn, &t(22)).expect("wake");
        assert_eq!(due(&conn), Some(t(22)), "due again after the run");
        let writes = conn.total_changes();
        wake(&conn, &t(23)).expect("wake");
        assert_eq!(
            conn.total_changes(),
            writes,
            "already due: the row is left alone"
        );
        assert_eq!(due(&conn), Some(t(22)));

        let f = store::Finish {
            error: None,
            attempts: 0,
            next_run_at: Some(&t(50)),
            now: &t(24),
        };
        store::finish(&conn, &job, "me", &f).expect("finish");
        assert_eq!(
            due(&conn),
            Some(t(22)),
            "the time set during the run stands"
        );
    }
}
