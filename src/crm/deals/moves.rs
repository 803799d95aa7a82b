//! Moving deals: between stages (every change recorded: from, to, who,
//! when) and within a stage's column. A column's order is the deals'
//! `position`, spaced `GAP` apart so a deal dropped between two others
//! takes the middle; when two neighbours have no room left the column is
//! renumbered in the same transaction. Writes are serialized per
//! organization, so simultaneous moves each see the column as the one
//! before left it.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::record::history;

use super::pipelines::{self, Stage, StageKind};

/// Room between two neighbours in a column.
pub const GAP: i64 = 1 << 20;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveDeal {
    /// The stage the deal goes to (its own stage to reorder within the column).
    pub stage_id: String,
    /// The deal it goes right before in that column; omitted: the end.
    #[serde(default)]
    pub before_id: Option<String>,
    /// Required when the stage is a lost one and the deal has no reason yet.
    #[serde(default)]
    pub lost_reason: Option<String>,
}

/// One stage change of a deal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub id: i64,
    pub deal_id: String,
    /// Null when the deal was created in `to_stage`.
    pub from_stage_id: Option<String>,
    /// The stage's name at the time.
    pub from_stage_name: Option<String>,
    pub to_stage_id: String,
    pub to_stage_name: String,
    /// A user id, or `api_key:<id>`.
    pub actor: String,
    pub at: String,
}

pub fn record_change(
    conn: &Connection,
    deal_id: &str,
    from: Option<&Stage>,
    to: &Stage,
    actor: &str,
    at: &str,
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO deal_stage_changes (deal_id, from_stage_id, from_stage_name, to_stage_id,
           to_stage_name, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        deal_id,
        from.map(|s| &s.id),
        from.map(|s| &s.name),
        to.id,
        to.name,
        actor,
        at
    ])?;
    if let Some(from) = from.filter(|f| f.id != to.id) {
        crate::events::emit(conn, "deal.stage_changed", || {
            Ok(json!({
                "kind": "deal", "id": deal_id,
                "from": {"stage_id": from.id, "stage_name": from.name, "pipeline_id": from.pipeline_id},
                "to": {"stage_id": to.id, "stage_name": to.name, "pipeline_id": to.pipeline_id},
                "actor": actor, "at": at,
            }))
        })?;
    }
    Ok(())
}

/// A deal's stage changes, newest first.
pub fn history_of(conn: &Connection, deal_id: &str) -> AppResult<Vec<StageChange>> {
    Ok(conn
        .prepare_cached(
            "SELECT seq, deal_id, from_stage_id, from_stage_name, to_stage_id, to_stage_name, actor, at
             FROM deal_stage_changes WHERE deal_id = ?1 ORDER BY seq DESC",
        )?
        .query_map([deal_id], |r| {
            Ok(StageChange {
                id: r.get(0)?,
                deal_id: r.get(1)?,
                from_stage_id: r.get(2)?,
                from_stage_name: r.get(3)?,
                to_stage_id: r.get(4)?,
                to_stage_name: r.get(5)?,
                actor: r.get(6)?,
                at: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// The position of a deal entering a column at the top.
pub fn top_of(conn: &Connection, stage_id: &str) -> AppResult<i64> {
    let min: Option<i64> = conn
        .prepare_cached("SELECT min(position) FROM deals WHERE stage_id = ?1")?
        .query_row([stage_id], |r| r.get(0))?;
    Ok(min.map_or(0, |m| m - GAP))
}

fn end_of(conn: &Connection, stage_id: &str, except: &str) -> AppResult<i64> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT max(position) FROM deals WHERE stage_id = ?1 AND id <> ?2")?
        .query_row([stage_id, except], |r| r.get(0))?;
    Ok(max.map_or(0, |m| m + GAP))
}

/// Spaces a column's deals (all but `except`) `GAP` apart, in their order.
fn renumber(conn: &Connection, stage_id: &str, except: &str) -> AppResult<()> {
    conn.prepare_cached(
        "UPDATE deals SET position = r.n * ?3
         FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS n
               FROM deals WHERE stage_id = ?1 AND id <> ?2) AS r
         WHERE deals.id = r.id",
    )?
    .execute(params![stage_id, except, GAP])?;
    Ok(())
}

/// The position right before deal `before_id` of the column (404 if it is
/// not a live deal of that column).
fn before(conn: &Connection, stage_id: &str, before_id: &str, except: &str) -> AppResult<i64> {
    for _ in 0..2 {
        let at: i64 = conn
            .prepare_cached(
                "SELECT position FROM deals WHERE id = ?1 AND stage_id = ?2 AND deleted_at IS NULL",
            )?
            .query_row([before_id, stage_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| AppError::field("before_id", "no such deal in that stage"))?;
        let prev: Option<i64> = conn
            .prepare_cached(
                "SELECT max(position) FROM deals WHERE stage_id = ?1 AND position < ?2 AND id <> ?3",
            )?
            .query_row(params![stage_id, at, except], |r| r.get(0))?;
        match prev {
            None => return Ok(at - GAP),
            Some(p) if at - p >= 2 => return Ok(p + (at - p) / 2),
            Some(_) => renumber(conn, stage_id, except)?,
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no room in a renumbered column"
    )))
}

/// What a deal's stage-derived columns become when it enters `to`.
pub struct Entry {
    pub status: &'static str,
    pub closed_at: Option<String>,
}

/// `closed_at` keeps its time while a deal stays closed the same way.
pub fn entry(from_status: Option<&str>, closed_at: Option<String>, to: &Stage, now: &str) -> Entry {
    let status = to.kind.as_str();
    let closed_at = match to.kind {
        StageKind::Open => None,
        _ if from_status == Some(status) => closed_at.or_else(|| Some(now.to_string())),
        _ => Some(now.to_string()),
    };
    Entry { status, closed_at }
}

/// Checks a lost reason a client sent.
pub fn clean_reason(reason: Option<String>) -> AppResult<Option<String>> {
    let mut p = crate::error::Problems::new();
    let r = crate::values::text(&mut p, "lost_reason", reason, 500);
    p.into_result()?;
    Ok(r)
}

/// Moves a live deal to a stage (of any pipeline) and a place in its
/// column. Another organization's stage or deal is 404 like a missing one.
pub fn move_deal(conn: &Connection, deal_id: &str, m: &MoveDeal, actor: &str) -> AppResult<()> {
    let reason = clean_reason(m.lost_reason.clone())?;
    let (from_id, status, closed_at, old_reason): (String, String, Option<String>, Option<String>) =
        conn.prepare_cached(
            "SELECT stage_id, status, closed_at, lost_reason FROM deals WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([deal_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?
        .ok_or(AppError::NotFound)?;
    let to = pipelines::stage(conn, &m.stage_id)?.ok_or(AppError::NotFound)?;
    let position = match m.before_id.as_deref() {
        Some(b) if b == deal_id => {
            return Err(AppError::field(
                "before_id",
                "a deal cannot go before itself",
            ));
        }
        Some(b) => before(conn, &to.id, b, deal_id)?,
        None => end_of(conn, &to.id, deal_id)?,
    };
    if to.id == from_id {
        conn.prepare_cached("UPDATE deals SET position = ?2 WHERE id = ?1")?
            .execute(params![deal_id, position])?;
        return Ok(());
    }
    let lost_reason = match to.kind {
        StageKind::Lost => Some(
            reason
                .or(old_reason.clone())
                .ok_or_else(|| AppError::field("lost_reason", "say why the deal was lost"))?,
        ),
        _ => None,
    };
    let from = pipelines::stage(conn, &from_id)?.ok_or(AppError::NotFound)?;
    let now = clock::now_stamp();
    let e = entry(Some(&status), closed_at, &to, &now);
    conn.prepare_cached(
        "UPDATE deals SET stage_id = ?2, pipeline_id = ?3, status = ?4, position = ?5,
           closed_at = ?6, lost_reason = ?7, stage_entered_at = ?8, updated_at = ?8, updated_by = ?9
         WHERE id = ?1",
    )?
    .execute(params![
        deal_id,
        to.id,
        to.pipeline_id,
        e.status,
        position,
        e.closed_at,
        lost_reason,
        now,
        actor
    ])?;
    record_change(conn, deal_id, Some(&from), &to, actor, &now)?;
    let mut changes = Map::new();
    changes.insert("stage_id".into(), json!([from.id, to.id]));
    if from.pipeline_id != to.pipeline_id {
        changes.insert(
            "pipeline_id".into(),
            json!([from.pipeline_id, to.pipeline_id]),
        );
    }
    if old_reason != lost_reason {
        changes.insert("lost_reason".into(), json!([old_reason, lost_reason]));
    }
    history::record(conn, "deal", deal_id, actor, &now, "updated", &changes)?;
    crate::record::store::emit::<super::Deals>(conn, "updated", deal_id, Some(&changes), None)?;
    crate::search::enqueue(conn, "deal", deal_id)
}

/// Moves every deal of stage `from` (live or in the trash) to the end of
/// stage `to`, keeping their order: a stage or pipeline is being deleted.
pub fn move_all(
    conn: &Connection,
    from: &Stage,
    to: &Stage,
    actor: &str,
    now: &str,
) -> AppResult<()> {
    let base = end_of(conn, &to.id, "")?;
    let min: i64 = conn.query_row(
        "SELECT coalesce(min(position), 0) FROM deals WHERE stage_id = ?1",
        [&from.id],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO deal_stage_changes (deal_id, from_stage_id, from_stage_name, to_stage_id,
           to_stage_name, actor, at)
         SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM deals WHERE stage_id = ?1",
        params![from.id, from.id, from.name, to.id, to.name, actor, now],
    )?;
    let changes = Value::Object(Map::from_iter([(
        "stage_id".to_string(),
        json!([from.id, to.id]),
    )]))
    .to_string();
    conn.execute(
        "INSERT INTO record_history (kind, record_id, at, actor, action, changes)
         SELECT 'deal', id, ?2, ?3, 'updated', ?4 FROM deals WHERE stage_id = ?1",
        params![from.id, now, actor, changes],
    )?;
    crate::search::enqueue_select(
        conn,
        "deal",
        "SELECT id FROM deals WHERE stage_id = ?2",
        &from.id,
    )?;
    let closed = to.kind != StageKind::Open;
    conn.execute(
        "UPDATE deals SET stage_id = ?2, pipeline_id = ?3, status = ?4,
           position = position - ?5 + ?6,
           closed_at = CASE WHEN NOT ?7 THEN NULL WHEN status = ?4 THEN closed_at ELSE ?8 END,
           lost_reason = CASE WHEN ?4 = 'lost' THEN lost_reason END,
           stage_entered_at = ?8, updated_at = ?8, updated_by = ?9
         WHERE stage_id = ?1",
        params![
            from.id,
            to.id,
            to.pipeline_id,
            to.kind.as_str(),
            min,
            base,
            closed,
            now,
            actor
        ],
    )?;
    Ok(())
}
