//! What is waiting to be delivered, in SQL. A first attempt comes from the
//! outbox: every enabled hook follows `webhook_events` in `seq` order from
//! the last event it handled (`webhooks.handled_through`), so a change
//! writes one event row and no delivery rows. A `webhook_deliveries` row
//! exists only for a retry (written when a first attempt fails) or a test
//! event.

use std::sync::Arc;

use rusqlite::{Connection, params};

use super::store::{self, Webhook};
use crate::clock;
use crate::error::AppResult;
use crate::events;

/// A delivery whose time has come, with its event and hook.
#[derive(Clone, Debug)]
pub struct Due {
    /// The retry's (or test event's) row; `None` for a first attempt taken
    /// from the outbox.
    pub delivery_id: Option<String>,
    pub hook_id: String,
    pub event_seq: i64,
    pub event_id: String,
    /// Tries made before this one.
    pub attempts: i64,
    /// When the event was written: retries stop three days after.
    pub created_at: String,
    pub event_type: String,
    pub event_at: String,
    /// The event's JSON as written, shared by its hooks.
    pub data: Arc<str>,
    pub url: String,
    pub secret_id: String,
    pub enabled: bool,
}

/// Retries and test events whose time has come.
pub fn retries(conn: &Connection, now: &str, limit: i64) -> AppResult<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.hook_id, d.event_seq, d.event_id, d.attempts, d.created_at, e.type,
                e.created_at, e.data, w.url, w.secret_id, w.enabled
         FROM webhook_deliveries d
         JOIN webhook_events e ON e.seq = d.event_seq
         JOIN webhooks w ON w.id = d.hook_id
         WHERE d.state = 'pending' AND d.next_at <= ?1
         ORDER BY d.next_at, d.id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, limit], |r| {
            Ok(Due {
                delivery_id: Some(r.get(0)?),
                hook_id: r.get(1)?,
                event_seq: r.get(2)?,
                event_id: r.get(3)?,
                attempts: r.get(4)?,
                created_at: r.get(5)?,
                event_type: r.get(6)?,
                event_at: r.get(7)?,
                data: Arc::from(r.get::<_, String>(8)?),
                url: r.get(9)?,
                secret_id: r.get(10)?,
                enabled: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// First attempts: the next events of the outbox (at most `limit`), each
/// for every enabled hook that wants its type and has not handled it yet.
pub struct Fresh {
    pub due: Vec<Due>,
    /// The last event read: once the attempts are recorded, the enabled
    /// hooks have handled everything up to it (`advance`).
    pub through: Option<i64>,
    /// Whether `limit` events were read (more may be waiting).
    pub full: bool,
}

pub fn fresh(conn: &Connection, limit: i64) -> AppResult<Fresh> {
    let hooks: Vec<(Webhook, i64)> = {
        let mut stmt =
            conn.prepare_cached("SELECT id, handled_through FROM webhooks WHERE enabled = 1")?;
        let ids: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut hooks = Vec::with_capacity(ids.len());
        for (id, through) in ids {
            if let Some(h) = store::get(conn, &id)? {
                hooks.push((h, through));
            }
        }
        hooks
    };
    let Some(from) = hooks.iter().map(|(_, t)| *t).min() else {
        return Ok(Fresh {
            due: Vec::new(),
            through: None,
            full: false,
        });
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, id, type, created_at, data FROM webhook_events
         WHERE seq > ?1 AND type != ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![from, super::TEST_EVENT, limit])?;
    let (mut due, mut through, mut read) = (Vec::new(), None, 0);
    while let Some(r) = rows.next()? {
        let (seq, id, kind, at): (i64, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let data: Arc<str> = Arc::from(r.get::<_, String>(4)?);
        read += 1;
        through = Some(seq);
        for (h, handled) in &hooks {
            if *handled >= seq || !wants(h, &kind) {
                continue;
            }
            due.push(Due {
                delivery_id: None,
                hook_id: h.id.clone(),
                event_seq: seq,
                event_id: id.clone(),
                attempts: 0,
                created_at: at.clone(),
                event_type: kind.clone(),
                event_at: at.clone(),
                data: data.clone(),
                url: h.url.clone(),
                secret_id: h.secret_id.clone(),
                enabled: true,
            });
        }
    }
    Ok(Fresh {
        due,
        through,
        full: read == limit,
    })
}

fn wants(h: &Webhook, event_type: &str) -> bool {
    h.events.iter().any(|e| e == "*" || e == event_type)
}

/// The enabled hooks have handled the outbox up to `seq`. (A hook enabled
/// or created meanwhile starts past it already.)
pub fn advance(conn: &Connection, seq: i64) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE webhooks SET handled_through = ?1 WHERE enabled = 1 AND handled_through < ?1",
    )?
    .execute([seq])?;
    Ok(())
}

/// Queues event `seq` for one hook now, whatever it subscribes to and even
/// when it is disabled (a test event).
pub fn queue(
    conn: &Connection,
    hook_id: &str,
    event_id: &str,
    seq: i64,
    now: &str,
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries
             (id, hook_id, event_id, event_seq, state, attempts, next_at, created_at)
         VALUES (?2 || '.' || ?1, ?1, ?2, ?3, 'pending', 0, ?4, ?4)",
    )?
    .execute(params![hook_id, event_id, seq, now])?;
    events::wake(conn, now)
}

/// The earliest pending retry's time.
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

/// Records attempts, queues the retries of failed first attempts and moves
/// retries on; returns the hooks whose failures have lasted longer than
/// `give_up_before` (they are disabled).
pub fn record(
    conn: &Connection,
    outcomes: &[Outcome],
    give_up_before: &str,
) -> AppResult<Vec<Webhook>> {
    let mut disabled = Vec::new();
    // Hooks whose `failing_since` this call has cleared with no failure
    // since: clearing again would find nothing to clear.
    let mut cleared: std::collections::HashSet<&str> = Default::default();
    for o in outcomes {
        let d = &o.due;
        if o.skipped {
            if let Some(id) = &d.delivery_id {
                conn.prepare_cached(
                    "UPDATE webhook_deliveries SET state = 'failed', next_at = NULL WHERE id = ?1",
                )?
                .execute([id])?;
            }
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
        match &d.delivery_id {
            Some(id) => {
                conn.prepare_cached(
                    "UPDATE webhook_deliveries SET state = ?2, attempts = attempts + 1, next_at = ?3
                     WHERE id = ?1",
                )?
                .execute(params![id, state, next])?;
            }
            // A first attempt leaves a row only when it is to be tried again.
            None if next.is_some() => {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO webhook_deliveries
                         (id, hook_id, event_id, event_seq, state, attempts, next_at, created_at)
                     VALUES (?2 || '.' || ?1, ?1, ?2, ?3, 'pending', 1, ?4, ?5)",
                )?
                .execute(params![
                    d.hook_id,
                    d.event_id,
                    d.event_seq,
                    next,
                    d.created_at
                ])?;
            }
            None => {}
        }
        if d.event_type == super::TEST_EVENT {
            continue;
        }
        if o.ok {
            if cleared.insert(&d.hook_id) {
                conn.prepare_cached(
                    "UPDATE webhooks SET failing_since = NULL
                     WHERE id = ?1 AND failing_since IS NOT NULL",
                )?
                .execute([&d.hook_id])?;
            }
            continue;
        }
        cleared.remove(d.hook_id.as_str());
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
            if let Some(h) = store::get(conn, &d.hook_id)? {
                disabled.push(h);
            }
        }
    }
    Ok(disabled)
}

/// Forgets events a week old that nothing waits for, finished deliveries
/// after a week and the log after 30 days (an hourly job). An event a hook
/// has not reached in a week is dropped with them: retries stop after three
/// days anyway.
pub fn prune(conn: &Connection, now: time::OffsetDateTime) -> AppResult<()> {
    let week = clock::stamp(now - time::Duration::days(7));
    let month = clock::stamp(now - time::Duration::days(30));
    conn.execute(
        "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?1",
        [&week],
    )?;
    // Events are in `seq` order of time: the scan stops at the first one
    // younger than a week.
    conn.execute(
        "DELETE FROM webhook_events
         WHERE seq < coalesce((SELECT seq FROM webhook_events WHERE created_at >= ?1
                               ORDER BY seq LIMIT 1),
                              (SELECT max(seq) + 1 FROM webhook_events))
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.event_seq = webhook_events.seq AND d.state = 'pending')",
        [&week],
    )?;
    conn.execute("DELETE FROM webhook_attempts WHERE at < ?1", [&month])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db() -> Connection {
        crate::db::tenant_in_memory()
    }

    fn hook(conn: &Connection, id: &str, events: &[&str]) {
        store::insert(
            conn,
            &Webhook {
                id: id.into(),
                url: format!("https://example.com/{id}"),
                description: String::new(),
                events: events.iter().map(|e| e.to_string()).collect(),
                enabled: true,
                secret_last4: "abcd".into(),
                failing_since: None,
                disabled_reason: None,
                created_at: "2026-12-01T00:00:00Z".into(),
                created_by: "user:u1".into(),
                updated_at: "2026-12-01T00:00:00Z".into(),
                secret_id: "s1".into(),
            },
        )
        .expect("hook");
    }

    fn event(conn: &Connection, id: &str, kind: &str, at: &str) -> i64 {
        let data = json!({"id": format!("rec-{id}")}).to_string();
        events::write_event(conn, id, kind, at, &data).expect("event")
    }

    /// (hook, event id) of every first attempt waiting.
    fn waiting(conn: &Connection) -> (Vec<(String, String)>, Option<i64>) {
        let f = fresh(conn, 100).expect("fresh");
        let mut due: Vec<_> = f.due.into_iter().map(|d| (d.hook_id, d.event_id)).collect();
        due.sort();
        (due, f.through)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const AT: &str = "2026-12-01T00:00:00Z";

    #[test]
    fn each_hook_follows_the_outbox_from_when_it_started() {
        let conn = db();
        hook(&conn, "a", &["contact.created"]);
        event(&conn, "e1", "contact.created", AT);
        hook(&conn, "b", &["*"]);
        event(&conn, "e2", "contact.created", AT);
        event(&conn, "e3", "deal.created", AT);
        let (due, through) = waiting(&conn);
        // b started after e1; a does not subscribe to deals.
        assert_eq!(
            due,
            pairs(&[("a", "e1"), ("a", "e2"), ("b", "e2"), ("b", "e3")])
        );
        assert_eq!(through, Some(3));
        advance(&conn, 3).expect("advance");
        assert_eq!(waiting(&conn), (vec![], None));
        event(&conn, "e4", "contact.created", AT);
        assert_eq!(waiting(&conn).0, pairs(&[("a", "e4"), ("b", "e4")]));
    }

    #[test]
    fn a_hook_enabled_again_skips_what_was_written_while_it_was_off() {
        let conn = db();
        hook(&conn, "a", &["*"]);
        hook(&conn, "b", &["*"]);
        let mut b = store::get(&conn, "b").expect("get").expect("b");
        b.enabled = false;
        store::update(&conn, &b).expect("off");
        event(&conn, "e1", "contact.created", AT);
        assert_eq!(waiting(&conn).0, pairs(&[("a", "e1")]));
        advance(&conn, 1).expect("advance");
        event(&conn, "e2", "contact.created", AT);
        b.enabled = true;
        store::update(&conn, &b).expect("on");
        event(&conn, "e3", "contact.created", AT);
        assert_eq!(
            waiting(&conn).0,
            pairs(&[("a", "e2"), ("a", "e3"), ("b", "e3")])
        );
        // Test events go only to their hook, through a queued delivery.
        let seq = event(&conn, "t1", super::super::TEST_EVENT, AT);
        queue(&conn, "b", "t1", seq, AT).expect("queue");
        assert_eq!(waiting(&conn).0.len(), 3);
        let r = retries(&conn, AT, 10).expect("retries");
        assert_eq!((r.len(), r[0].hook_id.as_str()), (1, "b"));
    }

    fn outcome(d: Due, ok: bool, retry_at: Option<&str>) -> Outcome {
        Outcome {
            due: d,
            at: AT.into(),
            status_code: Some(if ok { 200 } else { 500 }),
            latency_ms: 3,
            error: None,
            response: String::new(),
            ok,
            retry_at: retry_at.map(str::to_string),
            skipped: false,
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn only_a_failed_first_attempt_leaves_a_delivery_row() {
        let conn = db();
        hook(&conn, "a", &["*"]);
        event(&conn, "e1", "contact.created", AT);
        event(&conn, "e2", "contact.created", AT);
        let mut due = fresh(&conn, 100).expect("fresh").due.into_iter();
        let (d1, d2) = (due.next().expect("e1"), due.next().expect("e2"));
        let later = "2026-12-01T00:00:30Z";
        record(
            &conn,
            &[outcome(d1, true, None), outcome(d2, false, Some(later))],
            "2026-11-28T00:00:00Z",
        )
        .expect("record");
        advance(&conn, 2).expect("advance");
        assert_eq!(count(&conn, "SELECT count(*) FROM webhook_attempts"), 2);
        assert_eq!(count(&conn, "SELECT count(*) FROM webhook_deliveries"), 1);
        assert!(retries(&conn, AT, 10).expect("not yet").is_empty());
        let r = retries(&conn, later, 10).expect("due");
        assert_eq!((r[0].event_id.as_str(), r[0].attempts), ("e2", 1));
        assert_eq!(waiting(&conn), (vec![], None));
        // The retry succeeds: it is delivered, and the log has its second try.
        let d = r.into_iter().next().expect("retry");
        record(&conn, &[outcome(d, true, None)], "2026-11-28T00:00:00Z").expect("record");
        assert!(
            retries(&conn, "2026-12-02T00:00:00Z", 10)
                .expect("none")
                .is_empty()
        );
        assert_eq!(count(&conn, "SELECT max(attempt) FROM webhook_attempts"), 2);
    }

    #[test]
    fn pruning_keeps_what_a_retry_waits_for_and_numbers_are_never_reused() {
        let conn = db();
        hook(&conn, "a", &["*"]);
        let old = "2026-11-01T00:00:00Z";
        let kept = event(&conn, "e1", "contact.created", old);
        event(&conn, "e2", "contact.created", old);
        event(&conn, "e3", "contact.created", AT);
        conn.execute(
            "INSERT INTO webhook_deliveries
                 (id, hook_id, event_id, event_seq, state, attempts, next_at, created_at)
             VALUES ('e1.a', 'a', 'e1', ?1, 'pending', 1, ?2, ?2)",
            params![kept, old],
        )
        .expect("retry");
        let now = time::OffsetDateTime::parse(AT, &time::format_description::well_known::Rfc3339)
            .expect("now");
        prune(&conn, now).expect("prune");
        let left: Vec<String> = conn
            .prepare("SELECT id FROM webhook_events ORDER BY seq")
            .expect("sql")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(left, ["e1", "e3"]);
        // The newest event withdrawn: the next one still gets a new number.
        assert_eq!(events::withdraw(&conn, "rec-e3").expect("withdraw"), 1);
        assert_eq!(event(&conn, "e4", "contact.created", AT), 4);
    }

    #[test]
    fn pending_deliveries_of_an_older_schema_go_on_as_retries() {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::order::register_sql(&conn).expect("natural key function");
        crate::db::Schema::Tenant
            .migrations()
            .set_target(refinery::Target::Version(22))
            .run(&mut conn)
            .expect("V22");
        conn.execute_batch(
            "INSERT INTO webhooks (id, url, events, secret_id, secret_last4, created_at,
                 created_by, updated_at)
             VALUES ('a', 'https://example.com/', '[\"*\"]', 's', 'abcd', 'x', 'y', 'x');
             INSERT INTO webhook_events (id, type, created_at, data) VALUES
                 ('e2', 'contact.created', '2026-12-01T00:00:02Z', '{\"n\":2}'),
                 ('e1', 'contact.created', '2026-12-01T00:00:01Z', '{\"n\":1}');
             INSERT INTO webhook_deliveries (id, hook_id, event_id, state, attempts, next_at,
                 created_at)
             VALUES ('e2.a', 'a', 'e2', 'pending', 1, '2026-12-01T00:01:00Z', 'x'),
                    ('e1.a', 'a', 'e1', 'delivered', 1, NULL, 'x');",
        )
        .expect("old rows");
        crate::db::Schema::Tenant
            .migrations()
            .run(&mut conn)
            .expect("migrate");
        let r = retries(&conn, "2026-12-02T00:00:00Z", 10).expect("retries");
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].event_id.as_str(), &*r[0].data), ("e2", "{\"n\":2}"));
        // Events were numbered in the order they were written, and nothing
        // already written is sent again as a first attempt.
        assert_eq!(r[0].event_seq, 2);
        assert_eq!(waiting(&conn), (vec![], None));
    }
}
