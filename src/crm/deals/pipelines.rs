//! Pipelines and their stages: how an organization describes its sales
//! process. A stage has a win probability, a kind (open, won, lost) and an
//! optional number of idle days after which its deals count as rotting.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{AppError, AppResult, Problems};
use crate::values;

use super::moves;

pub const MAX_STAGES: usize = 30;
pub const MAX_PIPELINES: i64 = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Open,
    Won,
    Lost,
}

impl StageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Open => "open",
            StageKind::Won => "won",
            StageKind::Lost => "lost",
        }
    }
    pub fn parse(s: &str) -> Option<StageKind> {
        [StageKind::Open, StageKind::Won, StageKind::Lost]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
    fn default_probability(self) -> i64 {
        match self {
            StageKind::Open => 50,
            StageKind::Won => 100,
            StageKind::Lost => 0,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = PipelineStage)]
pub struct Stage {
    pub id: String,
    pub pipeline_id: String,
    pub name: String,
    pub position: i64,
    /// Chance to win a deal in this stage, 0–100.
    pub probability: i64,
    pub kind: StageKind,
    /// A deal idle longer than this many days is flagged as rotting.
    pub rotting_days: Option<i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
    pub position: i64,
    /// In board order.
    pub stages: Vec<Stage>,
    pub created_at: String,
    pub updated_at: String,
}

/// A stage as a client sends it: with `id` to keep (and change) an existing
/// stage, without to add one. Its place in the list is its position.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// 0–100; by default 50 for open stages, 100 won, 0 lost.
    #[serde(default)]
    pub probability: Option<i64>,
    /// open by default.
    #[serde(default)]
    pub kind: Option<StageKind>,
    /// 1–3650 days, or null for never.
    #[serde(default)]
    pub rotting_days: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipeline {
    pub name: String,
    /// Where it sits among the pipelines; last by default.
    #[serde(default)]
    pub position: Option<i64>,
    /// In board order; at least one open stage.
    pub stages: Vec<StageInput>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub position: Option<i64>,
    /// The whole new list of stages in order. Stages left out are deleted;
    /// one that holds deals needs an entry in `move_deals`.
    #[serde(default)]
    pub stages: Option<Vec<StageInput>>,
    /// Deleted stage id → the stage its deals move to.
    #[serde(default)]
    pub move_deals: BTreeMap<String, String>,
}

/// Stages, checked (ids not yet checked against the database).
pub struct CleanStage {
    pub id: Option<String>,
    pub name: String,
    pub probability: i64,
    pub kind: StageKind,
    pub rotting_days: Option<i64>,
}

pub fn clean_name(p: &mut Problems, field: &str, name: Option<String>) -> Option<String> {
    let n = values::text(p, field, name, 100);
    if n.is_none() {
        p.add(field, "required");
    }
    n
}

pub fn clean_stages(p: &mut Problems, stages: Vec<StageInput>) -> Vec<CleanStage> {
    if stages.is_empty() || stages.len() > MAX_STAGES {
        p.add("stages", format!("give 1 to {MAX_STAGES} stages"));
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for (i, s) in stages.into_iter().enumerate() {
        let f = |k: &str| format!("stages[{i}].{k}");
        let name = values::text(p, &f("name"), Some(s.name), 60);
        let Some(name) = name else {
            p.add(f("name"), "required");
            continue;
        };
        if !names.insert(name.to_lowercase()) {
            p.add(f("name"), "another stage has this name");
        }
        if let Some(id) = &s.id
            && !ids.insert(id.clone())
        {
            p.add(f("id"), "listed twice");
        }
        let kind = s.kind.unwrap_or(StageKind::Open);
        let probability = s.probability.unwrap_or(kind.default_probability());
        if !(0..=100).contains(&probability) {
            p.add(f("probability"), "use 0 to 100");
        }
        if let Some(d) = s.rotting_days
            && !(1..=3650).contains(&d)
        {
            p.add(f("rotting_days"), "use 1 to 3650 days, or null");
        }
        out.push(CleanStage {
            id: s.id,
            name,
            probability,
            kind,
            rotting_days: s.rotting_days,
        });
    }
    if !out.is_empty() && !out.iter().any(|s| s.kind == StageKind::Open) {
        p.add("stages", "a pipeline needs at least one open stage");
    }
    out
}

fn stage_row(r: &rusqlite::Row) -> rusqlite::Result<Stage> {
    let kind: String = r.get(5)?;
    Ok(Stage {
        id: r.get(0)?,
        pipeline_id: r.get(1)?,
        name: r.get(2)?,
        position: r.get(3)?,
        probability: r.get(4)?,
        kind: StageKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown stage kind {kind:?}").into(),
            )
        })?,
        rotting_days: r.get(6)?,
    })
}

const STAGE_COLUMNS: &str = "id, pipeline_id, name, position, probability, kind, rotting_days";

pub fn stage(conn: &Connection, id: &str) -> AppResult<Option<Stage>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {STAGE_COLUMNS} FROM stages WHERE id = ?1"))?
        .query_row([id], stage_row)
        .optional()?)
}

pub fn stages_of(conn: &Connection, pipeline_id: &str) -> AppResult<Vec<Stage>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {STAGE_COLUMNS} FROM stages WHERE pipeline_id = ?1 ORDER BY position, id"
        ))?
        .query_map([pipeline_id], stage_row)?
        .collect::<Result<_, _>>()?)
}

/// The first open stage of a pipeline: where new deals start.
pub fn first_open(conn: &Connection, pipeline_id: &str) -> AppResult<Option<Stage>> {
    Ok(stages_of(conn, pipeline_id)?
        .into_iter()
        .find(|s| s.kind == StageKind::Open))
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Pipeline>> {
    let head = conn
        .prepare_cached(
            "SELECT id, name, position, created_at, updated_at FROM pipelines WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Pipeline {
                id: r.get(0)?,
                name: r.get(1)?,
                position: r.get(2)?,
                stages: Vec::new(),
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
            })
        })
        .optional()?;
    let Some(mut p) = head else {
        return Ok(None);
    };
    p.stages = stages_of(conn, id)?;
    Ok(Some(p))
}

pub fn all(conn: &Connection) -> AppResult<Vec<Pipeline>> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM pipelines ORDER BY position, created_at")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(get(conn, &id)?);
    }
    Ok(out)
}

/// The pipeline new deals go to when they name none: the first one.
pub fn default_id(conn: &Connection) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM pipelines ORDER BY position, created_at LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

fn insert_stage(conn: &Connection, pipeline_id: &str, pos: usize, s: &CleanStage) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO stages (id, pipeline_id, name, position, probability, kind, rotting_days)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        clock::new_id(),
        pipeline_id,
        s.name,
        pos as i64,
        s.probability,
        s.kind.as_str(),
        s.rotting_days
    ])?;
    Ok(())
}

pub fn create(
    conn: &Connection,
    name: &str,
    position: Option<i64>,
    stages: &[CleanStage],
) -> AppResult<Pipeline> {
    let count: i64 = conn.query_row("SELECT count(*) FROM pipelines", [], |r| r.get(0))?;
    if count >= MAX_PIPELINES {
        return Err(AppError::field(
            "name",
            format!("an organization has at most {MAX_PIPELINES} pipelines"),
        ));
    }
    if let Some((i, _)) = stages.iter().enumerate().find(|(_, s)| s.id.is_some()) {
        return Err(AppError::field(
            format!("stages[{i}].id"),
            "a new pipeline's stages are new: leave the id out",
        ));
    }
    let position = match position {
        Some(p) => p,
        None => conn.query_row(
            "SELECT coalesce(max(position) + 1, 0) FROM pipelines",
            [],
            |r| r.get(0),
        )?,
    };
    let id = clock::new_id();
    let now = clock::now_stamp();
    conn.execute(
        "INSERT INTO pipelines (id, name, position, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![id, name, position, now],
    )?;
    for (i, s) in stages.iter().enumerate() {
        insert_stage(conn, &id, i, s)?;
    }
    get(conn, &id)?.ok_or(AppError::NotFound)
}

/// How many deals (live or in the trash) are in a stage.
fn deals_in(conn: &Connection, stage_id: &str) -> AppResult<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM deals WHERE stage_id = ?1")?
        .query_row([stage_id], |r| r.get(0))?)
}

/// The stage a deleted stage's deals move to, checked: it exists, stays,
/// and is not a lost stage for deals that have no lost reason.
fn move_target(
    conn: &Connection,
    field: &str,
    from: &Stage,
    target_id: Option<&String>,
    deleted: &HashSet<String>,
) -> AppResult<Stage> {
    let n = deals_in(conn, &from.id)?;
    let target_id = target_id.ok_or_else(|| {
        AppError::field(
            field,
            format!(
                "{} holds {n} deal(s): name the stage they move to",
                from.name
            ),
        )
    })?;
    let target = stage(conn, target_id)?
        .filter(|t| !deleted.contains(&t.id))
        .ok_or_else(|| AppError::field(field, "no such stage (or it is deleted too)"))?;
    if target.kind == StageKind::Lost {
        let unexplained: i64 = conn.query_row(
            "SELECT count(*) FROM deals WHERE stage_id = ?1 AND lost_reason IS NULL",
            [&from.id],
            |r| r.get(0),
        )?;
        if unexplained > 0 {
            return Err(AppError::field(
                field,
                "deals without a lost reason cannot move to a lost stage",
            ));
        }
    }
    Ok(target)
}

/// Changes a pipeline: name, position, and (when `stages` is given) the
/// whole list of stages — renamed, reordered, added, deleted with their
/// deals moved.
pub fn update(
    conn: &Connection,
    id: &str,
    name: Option<String>,
    position: Option<i64>,
    stages: Option<Vec<CleanStage>>,
    move_deals: &BTreeMap<String, String>,
    actor: &str,
) -> AppResult<Pipeline> {
    let current = get(conn, id)?.ok_or(AppError::NotFound)?;
    let now = clock::now_stamp();
    conn.execute(
        "UPDATE pipelines SET name = ?2, position = ?3, updated_at = ?4 WHERE id = ?1",
        params![
            id,
            name.unwrap_or(current.name.clone()),
            position.unwrap_or(current.position),
            now
        ],
    )?;
    let Some(stages) = stages else {
        return get(conn, id)?.ok_or(AppError::NotFound);
    };
    for (i, s) in stages.iter().enumerate() {
        if let Some(sid) = &s.id
            && !current.stages.iter().any(|c| &c.id == sid)
        {
            return Err(AppError::field(
                format!("stages[{i}].id"),
                "no such stage in this pipeline",
            ));
        }
    }
    let kept: HashSet<String> = stages.iter().filter_map(|s| s.id.clone()).collect();
    let deleted: HashSet<String> = current
        .stages
        .iter()
        .filter(|s| !kept.contains(&s.id))
        .map(|s| s.id.clone())
        .collect();
    if let Some(k) = move_deals.keys().find(|k| !deleted.contains(*k)) {
        let shown: String = k.chars().take(60).collect();
        return Err(AppError::field(
            format!("move_deals.{shown}"),
            "not a stage this change deletes",
        ));
    }
    // Positions first, beyond the current ones, so no two stages ever share one.
    for (i, s) in stages.iter().enumerate() {
        let pos = (i + MAX_STAGES * 2) as i64;
        match &s.id {
            Some(sid) => {
                let before = current.stages.iter().find(|c| &c.id == sid);
                if let Some(b) = before
                    && b.kind != s.kind
                    && deals_in(conn, sid)? > 0
                {
                    return Err(AppError::field(
                        format!("stages[{i}].kind"),
                        format!("{} holds deals: move them before changing its kind", b.name),
                    ));
                }
                conn.prepare_cached(
                    "UPDATE stages SET name = ?2, position = ?3, probability = ?4, kind = ?5,
                       rotting_days = ?6 WHERE id = ?1",
                )?
                .execute(params![
                    sid,
                    s.name,
                    pos,
                    s.probability,
                    s.kind.as_str(),
                    s.rotting_days
                ])?;
            }
            None => insert_stage(conn, id, i + MAX_STAGES * 2, s)?,
        }
    }
    for gone in current.stages.iter().filter(|s| deleted.contains(&s.id)) {
        if deals_in(conn, &gone.id)? > 0 {
            let field = format!("move_deals.{}", gone.id);
            let target = move_target(conn, &field, gone, move_deals.get(&gone.id), &deleted)?;
            moves::move_all(conn, gone, &target, actor, &now)?;
        }
        conn.execute("DELETE FROM stages WHERE id = ?1", [&gone.id])?;
    }
    conn.execute(
        "UPDATE stages SET position = position - ?2 WHERE pipeline_id = ?1",
        params![id, (MAX_STAGES * 2) as i64],
    )?;
    get(conn, id)?.ok_or(AppError::NotFound)
}

/// Deletes a pipeline; its deals (if any) move to `move_to`, a stage of
/// another pipeline. The last pipeline stays.
pub fn delete(conn: &Connection, id: &str, move_to: Option<&str>, actor: &str) -> AppResult<()> {
    let current = get(conn, id)?.ok_or(AppError::NotFound)?;
    let count: i64 = conn.query_row("SELECT count(*) FROM pipelines", [], |r| r.get(0))?;
    if count <= 1 {
        return Err(AppError::Conflict(
            "an organization keeps at least one pipeline".into(),
        ));
    }
    let deals: i64 = conn.query_row(
        "SELECT count(*) FROM deals WHERE pipeline_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let now = clock::now_stamp();
    if deals > 0 {
        let deleted: HashSet<String> = current.stages.iter().map(|s| s.id.clone()).collect();
        let target_id = move_to.map(str::to_string);
        for s in &current.stages {
            if deals_in(conn, &s.id)? > 0 {
                let target = move_target(conn, "move_to", s, target_id.as_ref(), &deleted)?;
                moves::move_all(conn, s, &target, actor, &now)?;
            }
        }
    }
    conn.execute("DELETE FROM stages WHERE pipeline_id = ?1", [id])?;
    conn.execute("DELETE FROM pipelines WHERE id = ?1", [id])?;
    Ok(())
}
