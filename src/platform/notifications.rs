//! Notifications: what people are told — a task or a deal assigned to them,
//! their task due, an @mention — across their organizations, read and unread. The store
//! is channel-neutral (email delivery can read the same rows).
//!
//! A write in an organization puts its notices in that organization's
//! `notice_outbox` in its own transaction (`enqueue`); right after the commit
//! `deliver` moves them here, each at most once (`dedupe_key`). Due dates
//! become `task_reminders`, whose time is worked out here with the assignee's
//! time zone and which the reminders job fires once (`fire_due`).

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::caller::Caller;
use crate::clock;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Query};
use crate::state::AppState;
use crate::tenant::Tenant;

pub const EVENTS: &[&str] = &["task_assigned", "task_due", "mentioned", "deal_assigned"];

/// A notice a write leaves for someone (in the organization's outbox).
pub struct Notice<'a> {
    pub event: &'a str,
    pub user_id: &'a str,
    pub title: &'a str,
    pub record_kind: &'a str,
    pub record_id: &'a str,
    pub actor: &'a str,
    /// What makes two notices the same one (e.g. the task and its due date).
    pub key: &'a str,
    /// For `task_due`: the due date or time (None: the task has no due date).
    pub due: Option<&'a str>,
}

/// Writes a notice into the organization's outbox, in the caller's transaction.
pub fn enqueue(conn: &Connection, n: &Notice<'_>) -> AppResult<()> {
    crate::tenant::notices_after_commit();
    let payload = json!({
        "title": n.title, "record_kind": n.record_kind, "record_id": n.record_id,
        "actor": n.actor, "key": n.key, "due": n.due,
    });
    conn.prepare_cached(
        "INSERT INTO notice_outbox (event, user_id, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        n.event,
        n.user_id,
        payload.to_string(),
        clock::now_stamp()
    ])?;
    Ok(())
}

struct Queued {
    seq: i64,
    event: String,
    user_id: String,
    payload: Value,
}

/// Moves an organization's outbox into the notifications (and reminders),
/// then empties what it moved. A crash in between leaves rows that the next
/// delivery moves again, and the dedupe key keeps them from doubling.
pub async fn deliver(state: &AppState, org_id: &str, tenant: &Tenant) -> AppResult<()> {
    if !tenant.take_notices() {
        return Ok(());
    }
    let result = deliver_queued(state, org_id, &tenant.db).await;
    if !matches!(result, Ok(false)) {
        // Failed, or more than one round's worth: the next delivery goes on.
        tenant.notices_waiting();
    }
    result.map(|_| ())
}

/// One round of `deliver`: true when the outbox may hold more.
async fn deliver_queued(
    state: &AppState,
    org_id: &str,
    tenant: &std::sync::Arc<Db>,
) -> AppResult<bool> {
    let queued: Vec<Queued> = tenant
        .read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event, user_id, payload FROM notice_outbox ORDER BY seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([OUTBOX_ROUND as i64], |r| {
                let payload: String = r.get(3)?;
                Ok(Queued {
                    seq: r.get(0)?,
                    event: r.get(1)?,
                    user_id: r.get(2)?,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    if queued.is_empty() {
        return Ok(false);
    }
    let more = queued.len() >= OUTBOX_ROUND;
    let last = queued.last().map(|q| q.seq).unwrap_or(0);
    let org = org_id.to_string();
    state
        .control
        .write(move |c| {
            for q in &queued {
                store_one(c, &org, q)?;
            }
            Ok(())
        })
        .await?;
    tenant
        .write(move |c| {
            c.execute("DELETE FROM notice_outbox WHERE seq <= ?1", [last])?;
            Ok(())
        })
        .await?;
    Ok(more)
}

/// Notices one delivery round moves.
const OUTBOX_ROUND: usize = 500;

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn store_one(c: &Connection, org_id: &str, q: &Queued) -> AppResult<()> {
    let p = &q.payload;
    let key = text(p, "key").unwrap_or_default();
    if q.event == "task_due" {
        return schedule_reminder(c, org_id, &q.user_id, &key, p);
    }
    let member: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = ?1 AND user_id = ?2 AND status = 'active')",
        params![org_id, q.user_id],
        |r| r.get(0),
    )?;
    if !member || is_off(c, &q.user_id, &q.event)? {
        return Ok(());
    }
    insert(
        c,
        &NewNotification {
            user_id: &q.user_id,
            org_id,
            event: &q.event,
            // The outbox row is the notice: delivered again after a crash, it is the same.
            dedupe_key: &format!("{}:{org_id}:{}", q.event, q.seq),
            title: &text(p, "title").unwrap_or_default(),
            record_kind: text(p, "record_kind").as_deref(),
            record_id: text(p, "record_id").as_deref(),
            actor: text(p, "actor").as_deref(),
        },
    )
}

struct NewNotification<'a> {
    user_id: &'a str,
    org_id: &'a str,
    event: &'a str,
    dedupe_key: &'a str,
    title: &'a str,
    record_kind: Option<&'a str>,
    record_id: Option<&'a str>,
    actor: Option<&'a str>,
}

/// Inserts a notification unless one with its key exists; true if it did.
fn insert(c: &Connection, n: &NewNotification<'_>) -> AppResult<()> {
    c.prepare_cached(
        "INSERT INTO notifications (id, user_id, org_id, event, dedupe_key, title, record_kind,
             record_id, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (user_id, dedupe_key) DO NOTHING",
    )?
    .execute(params![
        clock::new_id(),
        n.user_id,
        n.org_id,
        n.event,
        n.dedupe_key,
        n.title.chars().take(200).collect::<String>(),
        n.record_kind,
        n.record_id,
        n.actor,
        clock::now_stamp()
    ])?;
    Ok(())
}

fn is_off(c: &Connection, user_id: &str, event: &str) -> AppResult<bool> {
    let off: Option<String> = c
        .prepare_cached("SELECT notify_off FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .optional()?;
    let off: Vec<String> = off
        .and_then(|o| serde_json::from_str(&o).ok())
        .unwrap_or_default();
    Ok(off.iter().any(|e| e == event))
}

/// When a due date reminds: a time reminds then; a date at 09:00 in the zone.
pub fn fire_at(due: &str, zone: Option<&str>) -> Option<String> {
    if due.len() > 10 {
        return clock::parse_rfc3339(due);
    }
    let date: jiff::civil::Date = due.parse().ok()?;
    let tz = zone
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let at = date.at(9, 0, 0, 0).to_zoned(tz).ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(at.timestamp().as_nanosecond()).ok()?;
    Some(clock::stamp(t))
}

/// A person's time zone from their account (None: not set).
pub fn zone_of(c: &Connection, user_id: &str) -> AppResult<Option<String>> {
    Ok(
        c.prepare_cached("SELECT time_zone FROM users WHERE id = ?1")?
            .query_row([user_id], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten(),
    )
}

/// The zone a person's reminders run in for an organization: their own,
/// else the organization's.
fn day_zone_of(c: &Connection, org_id: &str, user_id: &str) -> AppResult<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT COALESCE(u.time_zone, (SELECT o.time_zone FROM orgs o WHERE o.id = ?2))
             FROM users u WHERE u.id = ?1",
    )?
    .query_row([user_id, org_id], |r| r.get::<_, Option<String>>(0))
    .optional()?
    .flatten())
}

/// A task's due date set, changed or cleared: its one pending reminder follows.
fn schedule_reminder(
    c: &Connection,
    org_id: &str,
    user_id: &str,
    task_id: &str,
    p: &Value,
) -> AppResult<()> {
    let due = text(p, "due");
    let Some(due) = due else {
        c.execute(
            "DELETE FROM task_reminders WHERE org_id = ?1 AND task_id = ?2 AND fired_at IS NULL",
            params![org_id, task_id],
        )?;
        return Ok(());
    };
    let exists: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)",
        [user_id],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    let Some(at) = fire_at(&due, day_zone_of(c, org_id, user_id)?.as_deref()) else {
        return Ok(());
    };
    // A reminder already fired for this very due date stays fired.
    c.execute(
        "INSERT INTO task_reminders (org_id, task_id, user_id, title, due, fire_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (org_id, task_id) DO UPDATE SET
             user_id = excluded.user_id, title = excluded.title, fire_at = excluded.fire_at,
             fired_at = CASE WHEN task_reminders.due = excluded.due
                              AND task_reminders.user_id = excluded.user_id
                             THEN task_reminders.fired_at ELSE NULL END,
             due = excluded.due",
        params![
            org_id,
            task_id,
            user_id,
            text(p, "title").unwrap_or_default(),
            due,
            at
        ],
    )?;
    Ok(())
}

/// A person's zone changed: their pending date-only reminders move with it.
pub fn rezone(c: &Connection, user_id: &str) -> AppResult<()> {
    let pending: Vec<(String, String, String)> = c
        .prepare(
            "SELECT org_id, task_id, due FROM task_reminders
             WHERE user_id = ?1 AND fired_at IS NULL AND length(due) = 10",
        )?
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (org, task, due) in pending {
        if let Some(at) = fire_at(&due, day_zone_of(c, &org, user_id)?.as_deref()) {
            c.execute(
                "UPDATE task_reminders SET fire_at = ?3 WHERE org_id = ?1 AND task_id = ?2",
                params![org, task, at],
            )?;
        }
    }
    Ok(())
}

/// An organization's zone changed: the pending date-only reminders of its
/// members without a zone of their own move with it.
pub fn rezone_org(c: &Connection, org_id: &str) -> AppResult<()> {
    let people: Vec<String> = c
        .prepare(
            "SELECT DISTINCT r.user_id FROM task_reminders r JOIN users u ON u.id = r.user_id
             WHERE r.org_id = ?1 AND r.fired_at IS NULL AND length(r.due) = 10
               AND u.time_zone IS NULL",
        )?
        .query_map([org_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for person in people {
        rezone(c, &person)?;
    }
    Ok(())
}

/// A reminder whose time has come.
pub struct DueReminder {
    pub org_id: String,
    pub task_id: String,
    pub user_id: String,
    pub title: String,
    pub due: String,
}

pub fn due_reminders(c: &Connection, now: &str) -> AppResult<Vec<DueReminder>> {
    let mut stmt = c.prepare_cached(
        "SELECT org_id, task_id, user_id, title, due FROM task_reminders
         WHERE fired_at IS NULL AND fire_at <= ?1 ORDER BY fire_at LIMIT 200",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(DueReminder {
            org_id: r.get(0)?,
            task_id: r.get(1)?,
            user_id: r.get(2)?,
            title: r.get(3)?,
            due: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Fires one reminder: the notification (unless the person turned the event
/// off, left the organization, or the task is no longer open and due then)
/// and its `fired_at`, in one control transaction — so it happens once.
pub fn fire(c: &Connection, r: &DueReminder, still_due: bool) -> AppResult<()> {
    let member: bool = c.query_row(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = ?1 AND user_id = ?2 AND status = 'active')",
        params![r.org_id, r.user_id],
        |row| row.get(0),
    )?;
    let updated = c.execute(
        "UPDATE task_reminders SET fired_at = ?4
         WHERE org_id = ?1 AND task_id = ?2 AND due = ?3 AND fired_at IS NULL",
        params![r.org_id, r.task_id, r.due, clock::now_stamp()],
    )?;
    if updated == 0 || !still_due || !member || is_off(c, &r.user_id, "task_due")? {
        return Ok(());
    }
    insert(
        c,
        &NewNotification {
            user_id: &r.user_id,
            org_id: &r.org_id,
            event: "task_due",
            dedupe_key: &format!("task_due:{}:{}:{}", r.org_id, r.task_id, r.due),
            title: &r.title,
            record_kind: Some("task"),
            record_id: Some(&r.task_id),
            actor: None,
        },
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgRef {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: String,
    pub org: OrgRef,
    /// task_assigned, task_due, mentioned, deal_assigned; about the organization itself:
    /// webhook_disabled (admins), org_export_ready (the owner who asked for the export).
    pub event: String,
    pub title: String,
    pub record_kind: Option<String>,
    pub record_id: Option<String>,
    /// Who caused it (a user id), if someone did.
    pub actor: Option<String>,
    pub created_at: String,
    pub read_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub next_cursor: Option<String>,
    /// Unread notifications in all the person's organizations.
    pub unread: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–100 (default 30).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only unread ones.
    pub unread: Option<bool>,
}

/// Only organizations the person still belongs to: one who left sees nothing of it.
const VISIBLE: &str = "n.user_id = ?1 AND EXISTS (SELECT 1 FROM memberships m
    WHERE m.org_id = n.org_id AND m.user_id = n.user_id AND m.status = 'active')";

fn unread(c: &Connection, user_id: &str) -> AppResult<i64> {
    Ok(c.query_row(
        &format!("SELECT count(*) FROM notifications n WHERE {VISIBLE} AND n.read_at IS NULL"),
        [user_id],
        |r| r.get(0),
    )?)
}

fn list(c: &Connection, user_id: &str, p: &ListParams) -> AppResult<NotificationPage> {
    let limit = p.limit.unwrap_or(30);
    if !(1..=100).contains(&limit) {
        return Err(AppError::field("limit", "use 1 to 100"));
    }
    let (at, id) = match &p.cursor {
        None => ("\u{10FFFF}".to_string(), String::new()),
        Some(cur) => cur
            .split_once('|')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| AppError::field("cursor", "not a cursor this server gave out"))?,
    };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT n.id, o.slug, o.name, n.event, n.title, n.record_kind, n.record_id, n.actor,
                n.created_at, n.read_at
         FROM notifications n JOIN orgs o ON o.id = n.org_id
         WHERE {VISIBLE} AND (?2 = 0 OR n.read_at IS NULL)
           AND (n.created_at < ?3 OR n.created_at = ?3 AND n.id < ?4)
         ORDER BY n.created_at DESC, n.id DESC LIMIT ?5"
    ))?;
    let mut items = stmt
        .query_map(
            params![user_id, p.unread.unwrap_or(false), at, id, limit + 1],
            |r| {
                Ok(Notification {
                    id: r.get(0)?,
                    org: OrgRef {
                        slug: r.get(1)?,
                        name: r.get(2)?,
                    },
                    event: r.get(3)?,
                    title: r.get(4)?,
                    record_kind: r.get(5)?,
                    record_id: r.get(6)?,
                    actor: r.get(7)?,
                    created_at: r.get(8)?,
                    read_at: r.get(9)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|n| format!("{}|{}", n.created_at, n.id))
    } else {
        None
    };
    Ok(NotificationPage {
        items,
        next_cursor,
        unread: unread(c, user_id)?,
    })
}

fn user_of(caller: &Caller) -> String {
    match caller {
        Caller::User { user, .. } => user.id.clone(),
        Caller::ApiKey(k) => k.owner_user_id.clone(),
    }
}

/// The person's notifications in all their organizations, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(ListParams),
    responses((status = 200, body = NotificationPage), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn list_route(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> AppResult<Json<NotificationPage>> {
    let user = user_of(&caller);
    Ok(Json(state.control.read(move |c| list(c, &user, &p)).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnreadCount {
    pub count: i64,
}

/// How many are unread (the bell's number).
#[utoipa::path(get, path = "/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody)))]
async fn unread_route(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<UnreadCount>> {
    let user = user_of(&caller);
    let count = state.control.read(move |c| unread(c, &user)).await?;
    Ok(Json(UnreadCount { count }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct NotificationPath {
    pub id: String,
}

/// Marks one read; another person's notification is 404.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn read_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<NotificationPath>,
) -> AppResult<StatusCode> {
    let user = user_of(&caller);
    let n = state
        .control
        .write(move |c| {
            Ok(c.execute(
                &format!(
                    "UPDATE notifications AS n SET read_at = coalesce(read_at, ?3)
                     WHERE {VISIBLE} AND n.id = ?2"
                ),
                params![user, p.id, clock::now_stamp()],
            )?)
        })
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Marks all read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn read_all(State(state): State<AppState>, caller: Caller) -> AppResult<StatusCode> {
    let user = user_of(&caller);
    state
        .control
        .write(move |c| {
            c.execute(
                "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
                params![user, clock::now_stamp()],
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// IANA time zone (Europe/Paris); null: the browser's.
    pub time_zone: Option<String>,
    /// Which events notify: task_assigned, task_due, mentioned, deal_assigned.
    #[schema(value_type = Object)]
    pub events: serde_json::Map<String, Value>,
}

fn settings(c: &Connection, user_id: &str) -> AppResult<Settings> {
    let (zone, off): (Option<String>, String) = c.query_row(
        "SELECT time_zone, notify_off FROM users WHERE id = ?1",
        [user_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let off: Vec<String> = serde_json::from_str(&off).unwrap_or_default();
    let events = EVENTS
        .iter()
        .map(|e| (e.to_string(), Value::Bool(!off.iter().any(|o| o == e))))
        .collect();
    Ok(Settings {
        time_zone: zone,
        events,
    })
}

/// The person's time zone and which events notify them.
#[utoipa::path(get, path = "/account/notifications", tag = "notifications",
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Settings>> {
    let user = caller.user()?.id.clone();
    Ok(Json(state.control.read(move |c| settings(c, &user)).await?))
}

/// Changes them; reminders of date-only tasks move to the new zone's 09:00.
#[utoipa::path(put, path = "/account/notifications", tag = "notifications", request_body = Settings,
    responses((status = 200, body = Settings), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Settings>,
) -> AppResult<Json<Settings>> {
    let user = caller.user()?.id.clone();
    if let Some(z) = &body.time_zone
        && (z.len() > 64 || jiff::tz::TimeZone::get(z).is_err())
    {
        return Err(AppError::field(
            "time_zone",
            "use an IANA time zone such as Europe/Paris",
        ));
    }
    let mut off = Vec::new();
    for (k, v) in &body.events {
        if !EVENTS.contains(&k.as_str()) {
            return Err(AppError::field(
                format!("events.{}", k.chars().take(40).collect::<String>()),
                "unknown event",
            ));
        }
        match v {
            Value::Bool(true) => {}
            Value::Bool(false) => off.push(k.clone()),
            _ => return Err(AppError::field(format!("events.{k}"), "true or false")),
        }
    }
    let off = serde_json::to_string(&off).map_err(|e| AppError::Internal(e.into()))?;
    let saved = state
        .control
        .write(move |c| {
            c.execute(
                "UPDATE users SET time_zone = ?2, notify_off = ?3 WHERE id = ?1",
                params![user, body.time_zone, off],
            )?;
            rezone(c, &user)?;
            settings(c, &user)
        })
        .await?;
    Ok(Json(saved))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_route))
        .routes(routes!(unread_route))
        .routes(routes!(read_one))
        .routes(routes!(read_all))
        .routes(routes!(get_settings, put_settings))
}

/// Tells one person something about the organization that is not a record
/// (their export is ready); `key` keeps a repeated call from doubling it.
pub fn notify_user(
    c: &Connection,
    org_id: &str,
    user_id: &str,
    event: &str,
    key: &str,
    title: &str,
) -> AppResult<()> {
    insert(
        c,
        &NewNotification {
            user_id,
            org_id,
            event,
            dedupe_key: &format!("{event}:{org_id}:{key}"),
            title,
            record_kind: None,
            record_id: None,
            actor: None,
        },
    )?;
    Ok(())
}

/// Tells every active admin and owner of an organization something about
/// the organization itself (a webhook disabled after days of failures);
/// `key` keeps a repeated call from doubling it.
pub fn notify_admins(
    c: &Connection,
    org_id: &str,
    event: &str,
    key: &str,
    title: &str,
) -> AppResult<usize> {
    let admins: Vec<String> = c
        .prepare_cached(
            "SELECT user_id FROM memberships WHERE org_id = ?1 AND status = 'active'
               AND role IN ('admin', 'owner')",
        )?
        .query_map([org_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for user_id in &admins {
        notify_user(c, org_id, user_id, event, key, title)?;
    }
    Ok(admins.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_reminds_at_nine_in_the_zone_across_daylight_saving() {
        // Europe/Paris: UTC+1 in winter, UTC+2 from 29 March 2026 (the switch day itself).
        assert_eq!(
            fire_at("2026-03-28", Some("Europe/Paris")).as_deref(),
            Some("2026-03-28T08:00:00.000000Z")
        );
        assert_eq!(
            fire_at("2026-03-29", Some("Europe/Paris")).as_deref(),
            Some("2026-03-29T07:00:00.000000Z")
        );
        assert_eq!(
            fire_at("2026-11-01", Some("America/New_York")).as_deref(),
            Some("2026-11-01T14:00:00.000000Z")
        );
        assert_eq!(
            fire_at("2026-12-04", None).as_deref(),
            Some("2026-12-04T09:00:00.000000Z")
        );
        assert_eq!(
            fire_at("2026-12-04T15:30:00+01:00", Some("Asia/Tokyo")).as_deref(),
            Some("2026-12-04T14:30:00.000000Z")
        );
    }
}
