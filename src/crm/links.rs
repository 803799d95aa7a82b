//! Links from a note, task or activity to the records it is about: one or
//! more records of any kind, as (kind, id) references (`record::refs`).
//! Each linking kind keeps them in its own table (`note_links`, …) so a
//! purge erases them with it.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, Problems};
use crate::record::refs::{self, RecordRef};

/// The most records one note, task or activity links to.
pub const MAX_LINKS: usize = 50;

/// A link as a client sends it.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// A kind of record, as in `GET /schema` (`contact`, `company`, …).
    pub kind: String,
    pub id: String,
}

/// Checks the shape of links: known kinds, no duplicates, not too many.
pub fn check(p: &mut Problems, field: &str, links: Vec<LinkInput>) -> Vec<LinkInput> {
    if links.len() > MAX_LINKS {
        p.add(field, format!("link at most {MAX_LINKS} records"));
        return Vec::new();
    }
    let mut out: Vec<LinkInput> = Vec::new();
    for l in links {
        if crate::record::kind(&l.kind).is_none() {
            p.add(field, "unknown kind of record");
            return Vec::new();
        }
        if l.id.is_empty() || l.id.len() > 64 {
            p.add(field, "no such record");
            return Vec::new();
        }
        if !out.iter().any(|o| o.id == l.id) {
            out.push(l);
        }
    }
    out
}

/// A linking kind's table: `note_links (note_id, kind, record_id)`.
pub struct LinkTable {
    pub table: &'static str,
    pub owner: &'static str,
    /// The owner's times a link row carries for the timeline's index, as
    /// `(columns, values)` with `?1` the owner's id: written by the insert
    /// itself, since a trigger would make every insert into the table copy
    /// its pages into a statement journal (see tenant migration V26).
    pub times: (&'static str, &'static str),
}

impl LinkTable {
    /// Replaces the links of `owner_id`; whether they changed. A new link
    /// must be to a live record; one the owner already had may stay even if
    /// that record is in the trash. The same links are left as they are:
    /// rewriting them (and their triggers) came with every edit of a note.
    pub fn save(&self, conn: &Connection, owner_id: &str, links: &[LinkInput]) -> AppResult<bool> {
        let before: Vec<String> = conn
            .prepare_cached(&format!(
                "SELECT record_id FROM {} WHERE {} = ?1",
                self.table, self.owner
            ))?
            .query_map([owner_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // Links are a set (`clean` drops repeats); record ids are unique.
        if before.len() == links.len() && links.iter().all(|l| before.contains(&l.id)) {
            return Ok(false);
        }
        for l in links {
            let kind = crate::record::kind(&l.kind)
                .ok_or_else(|| AppError::field("links", "unknown kind of record"))?;
            if !before.contains(&l.id) && !refs::is_live(conn, kind, &l.id)? {
                return Err(AppError::field(
                    "links",
                    format!("no such {}: {}", l.kind, short(&l.id)),
                ));
            }
            // Nothing new is attached to a restricted record; links it had stay.
            if !before.contains(&l.id) {
                crate::record::restrict::ensure_writable(conn, &l.kind, &l.id)?;
            }
        }
        conn.prepare_cached(&format!(
            "DELETE FROM {} WHERE {} = ?1",
            self.table, self.owner
        ))?
        .execute([owner_id])?;
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO {} ({}, kind, record_id, {}) VALUES (?1, ?2, ?3, {})",
            self.table, self.owner, self.times.0, self.times.1
        ))?;
        for l in links {
            insert.execute(params![owner_id, l.kind, l.id])?;
        }
        Ok(true)
    }
}

fn short(id: &str) -> String {
    id.chars().take(64).collect()
}

/// Reads the `[kind, id]` pairs of a links column (names filled in by `name_all`).
pub fn parse(json: &str) -> Vec<RecordRef> {
    let pairs: Vec<(String, String)> = serde_json::from_str(json).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(kind, id)| RecordRef {
            kind,
            id,
            name: String::new(),
            deleted: false,
        })
        .collect()
}

/// Fills in the names of links (several records' at once, one query per kind).
pub fn name_all<'a>(
    conn: &Connection,
    links: impl Iterator<Item = &'a mut Vec<RecordRef>>,
) -> AppResult<()> {
    let lists: Vec<&mut Vec<RecordRef>> = links.collect();
    let mut by_kind: HashMap<String, Vec<String>> = HashMap::new();
    for list in &lists {
        for l in list.iter() {
            by_kind
                .entry(l.kind.clone())
                .or_default()
                .push(l.id.clone());
        }
    }
    let mut names: HashMap<String, HashMap<String, (String, bool)>> = HashMap::new();
    for (kind_name, ids) in &by_kind {
        if let Some(kind) = crate::record::kind(kind_name) {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            names.insert(kind_name.clone(), refs::names(conn, kind, &ids)?);
        }
    }
    let empty = HashMap::new();
    for list in lists {
        for l in list.iter_mut() {
            *l = refs::shown(&l.kind, &l.id, names.get(&l.kind).unwrap_or(&empty));
        }
    }
    Ok(())
}

/// Links as inputs again (what `to_input` gives back).
pub fn as_inputs(links: &[RecordRef]) -> Vec<LinkInput> {
    links
        .iter()
        .map(|l| LinkInput {
            kind: l.kind.clone(),
            id: l.id.clone(),
        })
        .collect()
}
