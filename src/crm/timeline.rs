//! Notes, tasks and activities on the timelines of the records they link
//! to. A kind that links to records says once where its moments are
//! (`OnTimeline`), and `Linked::<Kind>::NEW` in `crm::TIMELINE` puts it on
//! every timeline; a kind with a table of its own events (deal stage moves)
//! implements `record::timeline::TimelineSource` instead and is listed there
//! the same way.

use std::collections::HashMap;
use std::marker::PhantomData;

use rusqlite::Connection;
use serde_json::Value;

use crate::crm::links::LinkTable;
use crate::error::{AppError, AppResult};
use crate::record::timeline::{Entry, Position, Subject, TimelineSource};
use crate::record::{Record, RecordKind, store};

/// A kind whose records appear on the timelines of the records they link to.
pub trait OnTimeline: RecordKind {
    /// The `types=` group (`notes`).
    const GROUP: &'static str;
    const LINKS: LinkTable;
    /// (event, column of its time on the link rows `l`, a copy of the
    /// item's kept by triggers): each a separate entry when not NULL. The
    /// links table has an index on (record_id, column, owner) for each, so a
    /// page is a range of that index, newest first.
    const MOMENTS: &'static [(&'static str, &'static str)];
    /// SQL over `t` of what stays on top of the first page, if anything does.
    const PINNED: Option<&'static str> = None;
}

pub struct Linked<K>(PhantomData<fn() -> K>);

impl<K> Linked<K> {
    pub const NEW: Linked<K> = Linked(PhantomData);
}

impl<K: OnTimeline> Linked<K> {
    /// Entries at their positions, items still to be filled.
    fn positions(found: Vec<(String, String, String)>) -> Vec<Entry> {
        found
            .into_iter()
            .map(|(event, at, id)| {
                let key = key(K::KIND, &event, &id);
                Entry {
                    key: key.clone(),
                    group: K::GROUP.to_string(),
                    event,
                    at: at.clone(),
                    actor: None,
                    item: Value::String(id),
                    position: Position { at, key },
                }
            })
            .collect()
    }
}

fn key(kind: &str, event: &str, id: &str) -> String {
    format!("{kind}:{event}:{id}")
}

impl<K: OnTimeline> TimelineSource for Linked<K> {
    fn group(&self) -> &'static str {
        K::GROUP
    }
    fn entries(
        &self,
        conn: &Connection,
        subject: &Subject<'_>,
        before: Option<&Position>,
        limit: usize,
    ) -> AppResult<Vec<Entry>> {
        let (at, k) = before
            .map(|p| (p.at.clone(), p.key.clone()))
            .unwrap_or(("\u{10FFFF}".into(), String::new()));
        let mut found = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (n, (event, col)) in K::MOMENTS.iter().enumerate() {
            // Pinned items sit on top (`pinned`), not in the stream.
            let unpinned = match (n, K::PINNED) {
                (0, Some(cond)) => format!("AND NOT ({cond})"),
                _ => String::new(),
            };
            let prefix = format!("{}:{event}:", K::KIND);
            // `{col} <= ?2` bounds the index range; the rest breaks ties.
            let sql = format!(
                "SELECT l.{col}, l.{owner} FROM {links} l JOIN {table} t ON t.id = l.{owner}
                 WHERE l.record_id = ?1 AND l.{col} IS NOT NULL AND l.{col} <= ?2
                   AND (l.{col} < ?2 OR ?3 || l.{owner} < ?4)
                   AND t.deleted_at IS NULL {unpinned}
                 ORDER BY l.{col} DESC, l.{owner} DESC LIMIT ?5",
                links = K::LINKS.table,
                owner = K::LINKS.owner,
                table = K::TABLE,
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            // One query per record (an index lookup each); an item linked to
            // two of them is one entry.
            for record in &subject.ids {
                let rows = stmt.query_map(
                    rusqlite::params![record, at, prefix, k, limit as i64],
                    |r| {
                        Ok((
                            event.to_string(),
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                        ))
                    },
                )?;
                for row in rows {
                    let row = row?;
                    if seen.insert((row.0.clone(), row.2.clone())) {
                        found.push(row);
                    }
                }
            }
        }
        Ok(Self::positions(found))
    }
    fn pinned(&self, conn: &Connection, subject: &Subject<'_>) -> AppResult<Vec<Entry>> {
        let Some(cond) = K::PINNED else {
            return Ok(Vec::new());
        };
        let ids = serde_json::to_string(&subject.ids).map_err(|e| AppError::Internal(e.into()))?;
        let (event, col) = K::MOMENTS[0];
        let sql = format!(
            "SELECT DISTINCT l.{col}, t.id FROM {links} l JOIN {table} t ON t.id = l.{owner}
             WHERE l.record_id IN (SELECT value FROM json_each(?1)) AND t.deleted_at IS NULL
               AND {cond}
             ORDER BY l.{col} DESC, t.id DESC LIMIT 20",
            links = K::LINKS.table,
            owner = K::LINKS.owner,
            table = K::TABLE,
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let found = stmt
            .query_map([ids], |r| {
                Ok((
                    event.to_string(),
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Self::positions(found);
        out.sort_by(|a, b| b.position.cmp(&a.position));
        Ok(out)
    }
    /// Loads the records of the entries shown (their ids wait in `item`).
    fn fill(&self, conn: &Connection, entries: &mut [Entry]) -> AppResult<()> {
        let ids: Vec<String> = entries
            .iter()
            .filter_map(|e| e.item.as_str().map(str::to_string))
            .collect();
        let mut recs: HashMap<String, Value> = HashMap::new();
        for r in store::get_many::<K>(conn, &ids)? {
            let id = r.id().to_string();
            recs.insert(
                id,
                serde_json::to_value(&r).map_err(|e| AppError::Internal(e.into()))?,
            );
        }
        for e in entries.iter_mut() {
            let Some(item) = e.item.as_str().and_then(|id| recs.get(id)) else {
                continue;
            };
            e.actor = match e.event.as_str() {
                "completed" => item.get("done_by"),
                _ => item.get("created_by"),
            }
            .and_then(Value::as_str)
            .map(str::to_string);
            e.item = item.clone();
        }
        Ok(())
    }
}

impl OnTimeline for crate::crm::notes::Notes {
    const GROUP: &'static str = "notes";
    const LINKS: LinkTable = crate::crm::notes::LINKS;
    const MOMENTS: &'static [(&'static str, &'static str)] = &[("created", "at")];
    const PINNED: Option<&'static str> = Some("t.pinned = 1");
}

impl OnTimeline for crate::crm::tasks::Tasks {
    const GROUP: &'static str = "tasks";
    const LINKS: LinkTable = crate::crm::tasks::LINKS;
    const MOMENTS: &'static [(&'static str, &'static str)] =
        &[("created", "created_at"), ("completed", "done_at")];
}

impl OnTimeline for crate::crm::activities::Activities {
    const GROUP: &'static str = "activities";
    const LINKS: LinkTable = crate::crm::activities::LINKS;
    const MOMENTS: &'static [(&'static str, &'static str)] = &[("logged", "at")];
}
