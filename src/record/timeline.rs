//! One timeline per record: what happened to it and around it, newest
//! first, with keyset paging. Entries come from timeline sources — the
//! record's own history (here), and whatever the layers above register
//! (notes, tasks, activities, deal stage moves, later emails and files) —
//! through one mechanism, `install_sources`, like the search sources.
//!
//! Paging is by position (time, key), the key unique across sources, so
//! equal times keep a stable order and no entry is shown twice or skipped.
//! History edits by one actor within two minutes are one entry, placed at
//! its oldest edit (so the next page starts cleanly below it) and shown at
//! its newest.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{AppError, AppResult};
use crate::record::catalogue::FieldType;
use crate::record::{Kind, refs};

/// Where an entry sits: newest first by time, then by key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub at: String,
    pub key: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// Unique in the timeline (`note:created:<id>`, `change:<seq>`).
    pub key: String,
    /// notes, tasks, activities, changes, … (what `types=` filters by).
    #[serde(rename = "type")]
    pub group: String,
    /// What happened: created, updated, completed, logged, deleted, …
    pub event: String,
    /// When (RFC 3339 UTC; for grouped changes, the newest).
    pub at: String,
    /// A user id, or `api_key:<id>`.
    pub actor: Option<String>,
    /// The note, task or activity as its API shows it; for changes,
    /// `{"changes": {field: {label, before, after}}}`.
    #[schema(value_type = Object)]
    pub item: Value,
    #[serde(skip)]
    pub position: Position,
}

/// The records a timeline covers: the record itself, and (with
/// `include=related`) records whose entries it shows too.
pub struct Subject<'a> {
    pub kind: &'a dyn Kind,
    pub id: &'a str,
    pub ids: Vec<String>,
}

/// A kind of timeline entry. Implementations read their own tables.
pub trait TimelineSource: Sync {
    /// The name `types=` filters by (`notes`).
    fn group(&self) -> &'static str;
    /// Up to `limit` entries about `ids` strictly before `before`, newest first.
    fn entries(
        &self,
        conn: &Connection,
        subject: &Subject<'_>,
        before: Option<&Position>,
        limit: usize,
    ) -> AppResult<Vec<Entry>>;
    /// Entries that stay on top (pinned notes), shown with the first page.
    fn pinned(&self, _conn: &Connection, _subject: &Subject<'_>) -> AppResult<Vec<Entry>> {
        Ok(Vec::new())
    }
    /// Fills in the items of this source's entries that made the page, for
    /// a source whose `entries` answer only positions (items `null`): only
    /// what is shown is loaded.
    fn fill(&self, _conn: &Connection, _entries: &mut [Entry]) -> AppResult<()> {
        Ok(())
    }
}

static SOURCES: OnceLock<&'static [&'static dyn TimelineSource]> = OnceLock::new();

/// Hands the layer the timeline sources beside history (first call wins).
pub fn install_sources(sources: &'static [&'static dyn TimelineSource]) {
    let _ = SOURCES.set(sources);
}

/// The history source and every installed one.
pub fn sources() -> Vec<&'static dyn TimelineSource> {
    let mut all: Vec<&'static dyn TimelineSource> = vec![&HISTORY];
    all.extend(SOURCES.get().copied().unwrap_or(&[]).iter().copied());
    all
}

/// The groups `types=` accepts.
pub fn groups() -> Vec<&'static str> {
    sources().iter().map(|s| s.group()).collect()
}

pub fn encode(p: &Position) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}\n{}", p.at, p.key))
}

pub fn decode(cursor: &str) -> AppResult<Position> {
    let bad = || AppError::field("cursor", "not a cursor this server gave out");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, key) = text.split_once('\n').ok_or_else(bad)?;
    Ok(Position {
        at: at.to_string(),
        key: key.to_string(),
    })
}

/// One page: entries of the chosen sources merged newest first.
pub struct TimelinePage {
    pub pinned: Vec<Entry>,
    pub items: Vec<Entry>,
    pub next: Option<Position>,
}

pub fn page(
    conn: &Connection,
    subject: &Subject<'_>,
    groups: &[String],
    before: Option<&Position>,
    limit: usize,
) -> AppResult<TimelinePage> {
    let chosen: Vec<&dyn TimelineSource> = sources()
        .into_iter()
        .filter(|s| groups.is_empty() || groups.iter().any(|g| g == s.group()))
        .collect();
    let mut all = Vec::new();
    let mut pinned = Vec::new();
    for s in &chosen {
        all.extend(s.entries(conn, subject, before, limit + 1)?);
        if before.is_none() {
            let mut top = s.pinned(conn, subject)?;
            s.fill(conn, &mut top)?;
            pinned.extend(top);
        }
    }
    all.sort_by(|a, b| b.position.cmp(&a.position));
    let more = all.len() > limit;
    all.truncate(limit);
    let next = if more {
        all.last().map(|e| e.position.clone())
    } else {
        None
    };
    // Each source fills in its own entries of the page, in page order.
    for s in &chosen {
        let (mut mine, rest): (Vec<Entry>, Vec<Entry>) =
            all.into_iter().partition(|e| e.group == s.group());
        s.fill(conn, &mut mine)?;
        all = rest;
        all.extend(mine);
    }
    all.sort_by(|a, b| b.position.cmp(&a.position));
    Ok(TimelinePage {
        pinned,
        items: all,
        next,
    })
}

/// The record's own history.
struct History;
static HISTORY: History = History;

/// Edits by one actor this close together are one entry.
const GROUP_WINDOW_SECS: i64 = 120;

struct Row {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    record_id: String,
    changes: Map<String, Value>,
}

fn history_key(seq: i64) -> String {
    format!("change:{seq:020}")
}

fn secs_between(newer: &str, older: &str) -> i64 {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    match (parse(newer), parse(older)) {
        (Some(a), Some(b)) => (a - b).whole_seconds(),
        _ => i64::MAX,
    }
}

impl History {
    /// One record's history rows before `before`, newest first (the index
    /// `record_history_by_record_time` serves the order).
    fn rows(conn: &Connection, id: &str, before: &Position, limit: usize) -> AppResult<Vec<Row>> {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at, actor, action, record_id, changes FROM record_history
             WHERE record_id = ?1
               AND (at < ?2 OR at = ?2 AND printf('change:%020d', seq) < ?3)
             ORDER BY at DESC, seq DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            rusqlite::params![id, before.at, before.key, limit as i64],
            |r| {
                let changes: String = r.get(5)?;
                Ok(Row {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    record_id: r.get(4)?,
                    changes: serde_json::from_str(&changes).unwrap_or_default(),
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Up to `limit` complete groups of one record's rows before `before`:
    /// rows are read until one more group has begun.
    fn groups(
        conn: &Connection,
        id: &str,
        before: Option<&Position>,
        limit: usize,
    ) -> AppResult<Vec<Group>> {
        let mut cursor = before.cloned().unwrap_or(Position {
            at: "\u{10FFFF}".into(),
            key: String::new(),
        });
        let mut groups: Vec<Group> = Vec::new();
        loop {
            let batch = History::rows(conn, id, &cursor, 200)?;
            let done = batch.len() < 200;
            for r in batch {
                cursor = Position {
                    at: r.at.clone(),
                    key: history_key(r.seq),
                };
                match groups.last_mut() {
                    Some(g) if g.takes(&r) => g.rows.push(r),
                    _ => groups.push(Group { rows: vec![r] }),
                }
            }
            if done || groups.len() > limit {
                break;
            }
        }
        groups.truncate(limit);
        Ok(groups)
    }
}

/// Consecutive rows (newest first) that make one entry.
struct Group {
    rows: Vec<Row>,
}

impl Group {
    /// Where the group sits: at its oldest row.
    fn position(&self) -> Position {
        let oldest = &self.rows[self.rows.len() - 1];
        Position {
            at: oldest.at.clone(),
            key: history_key(oldest.seq),
        }
    }

    fn takes(&self, r: &Row) -> bool {
        let head = &self.rows[0];
        let last = &self.rows[self.rows.len() - 1];
        head.action == "updated"
            && r.action == "updated"
            && r.actor == head.actor
            && r.record_id == head.record_id
            && secs_between(&head.at, &r.at) <= GROUP_WINDOW_SECS
            && last.seq > r.seq
    }
}

impl TimelineSource for History {
    fn group(&self) -> &'static str {
        "changes"
    }
    fn entries(
        &self,
        conn: &Connection,
        subject: &Subject<'_>,
        before: Option<&Position>,
        limit: usize,
    ) -> AppResult<Vec<Entry>> {
        // Groups never span records: each record's are read apart, then merged.
        let mut groups: Vec<Group> = Vec::new();
        for id in &subject.ids {
            groups.extend(History::groups(conn, id, before, limit)?);
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.position()));
        groups.truncate(limit);
        let names = ref_names(conn, subject, &groups)?;
        Ok(groups
            .into_iter()
            .map(|g| shown_group(g, subject, &names))
            .collect())
    }
}

/// A built-in field of the subject's kind (related records' changes are
/// shown with their keys as labels).
fn field_of<'a>(kind: &'a dyn Kind, key: &str) -> Option<&'a crate::record::Builtin> {
    kind.fields().iter().find(|b| b.key == key)
}

/// kind → id → (name, in the trash).
type NamesByKind = HashMap<String, HashMap<String, (String, bool)>>;

/// Names of the records that changed reference fields pointed to.
fn ref_names(conn: &Connection, subject: &Subject<'_>, groups: &[Group]) -> AppResult<NamesByKind> {
    let mut wanted: HashMap<&'static str, Vec<String>> = HashMap::new();
    for g in groups {
        for r in g.rows.iter().filter(|r| r.record_id == subject.id) {
            for (k, v) in &r.changes {
                let Some(target) = field_of(subject.kind, k)
                    .filter(|b| b.ty == FieldType::Record)
                    .and_then(|b| b.target)
                else {
                    continue;
                };
                for side in v.as_array().into_iter().flatten() {
                    if let Some(id) = side.as_str() {
                        wanted.entry(target).or_default().push(id.to_string());
                    }
                }
            }
        }
    }
    let mut out = HashMap::new();
    for (target, ids) in wanted {
        if let Some(k) = crate::record::kind(target) {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            out.insert(target.to_string(), refs::names(conn, k, &ids)?);
        }
    }
    Ok(out)
}

fn shown_group(g: Group, subject: &Subject<'_>, names: &NamesByKind) -> Entry {
    let head = &g.rows[0];
    let oldest = &g.rows[g.rows.len() - 1];
    // field → (before of the oldest edit, after of the newest).
    let mut merged: Map<String, Value> = Map::new();
    // Only edits carry [before, after]; a deletion keeps what its restore needs.
    for r in g
        .rows
        .iter()
        .rev()
        .filter(|r| matches!(r.action.as_str(), "updated" | "completed" | "reopened"))
    {
        for (k, v) in &r.changes {
            let (before, after) = match v.as_array().map(Vec::as_slice) {
                Some([b, a]) => (b.clone(), a.clone()),
                _ => (Value::Null, v.clone()),
            };
            match merged.get_mut(k) {
                Some(Value::Object(o)) => {
                    o.insert("after".into(), after);
                }
                _ => {
                    merged.insert(k.clone(), json!({"before": before, "after": after}));
                }
            }
        }
    }
    let own = head.record_id == subject.id;
    for (k, v) in merged.iter_mut() {
        let Some(o) = v.as_object_mut() else { continue };
        let field = if own { field_of(subject.kind, k) } else { None };
        o.insert(
            "label".into(),
            Value::String(
                field
                    .map(|b| b.label.to_string())
                    .unwrap_or_else(|| k.clone()),
            ),
        );
        if let Some(target) = field
            .filter(|b| b.ty == FieldType::Record)
            .and_then(|b| b.target)
        {
            let empty = HashMap::new();
            let known = names.get(target).unwrap_or(&empty);
            for side in ["before", "after"] {
                if let Some(id) = o.get(side).and_then(Value::as_str).map(str::to_string) {
                    o.insert(
                        side.into(),
                        serde_json::to_value(refs::shown(target, &id, known))
                            .unwrap_or(Value::Null),
                    );
                }
            }
        }
    }
    let mut item = Map::new();
    item.insert("record_id".into(), Value::String(head.record_id.clone()));
    item.insert("changes".into(), Value::Object(merged));
    item.insert("edits".into(), Value::from(g.rows.len()));
    if head.action == "merged" {
        // What was merged into (or from) this record, and what moved.
        item.insert("merge".into(), Value::Object(head.changes.clone()));
    }
    Entry {
        key: history_key(oldest.seq),
        group: "changes".into(),
        event: head.action.clone(),
        at: head.at.clone(),
        actor: Some(head.actor.clone()),
        item: Value::Object(item),
        position: Position {
            at: oldest.at.clone(),
            key: history_key(oldest.seq),
        },
    }
}
