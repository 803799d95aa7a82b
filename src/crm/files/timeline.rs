//! "File added" on the timelines of the records a file is attached to (at
//! the moment it was attached there), while the file is not in the trash.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::record::timeline::{Entry, Position, Subject, TimelineSource};

pub struct FilesAdded;

fn key(file_id: &str) -> String {
    format!("file:added:{file_id}")
}

impl TimelineSource for FilesAdded {
    fn group(&self) -> &'static str {
        "files"
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
        let mut stmt = conn.prepare_cached(
            "SELECT l.linked_at, l.file_id, l.linked_by FROM file_links l
             JOIN files f ON f.id = l.file_id
             WHERE l.record_id = ?1 AND f.deleted_at IS NULL
               AND (l.linked_at < ?2 OR l.linked_at = ?2 AND 'file:added:' || l.file_id < ?3)
             ORDER BY l.linked_at DESC, l.file_id DESC LIMIT ?4",
        )?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        // One index lookup per record; a file attached to two of them is one entry.
        for record in &subject.ids {
            let rows = stmt.query_map(params![record, at, k, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (at, id, by) = row?;
                if seen.insert(id.clone()) {
                    out.push(Entry {
                        key: key(&id),
                        group: "files".into(),
                        event: "added".into(),
                        at: at.clone(),
                        actor: Some(by),
                        item: Value::String(id.clone()),
                        position: Position { at, key: key(&id) },
                    });
                }
            }
        }
        Ok(out)
    }

    /// The files of the entries shown, as `GET /files/{id}` answers.
    fn fill(&self, conn: &Connection, entries: &mut [Entry]) -> AppResult<()> {
        let mut files: HashMap<String, Value> = HashMap::new();
        for e in entries.iter() {
            if let Some(id) = e.item.as_str()
                && !files.contains_key(id)
                && let Some(f) = super::get(conn, id)?
            {
                files.insert(
                    id.to_string(),
                    serde_json::to_value(&f).map_err(|e| AppError::Internal(e.into()))?,
                );
            }
        }
        for e in entries.iter_mut() {
            if let Some(f) = e.item.as_str().and_then(|id| files.get(id)) {
                e.item = f.clone();
            }
        }
        Ok(())
    }
}
