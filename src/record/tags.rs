//! Tags: names with a colour that any record can carry. Records refer to
//! tags by id, so renaming a tag renames it everywhere; merging moves every
//! record of one tag to another.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{AppError, AppResult, Problems};
use crate::values;

pub const COLORS: &[&str] = &[
    "gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink",
];
pub const MAX_TAGS_PER_REQUEST: usize = 100;

/// A tag as records show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TagRef {
    pub id: String,
    pub name: String,
    pub color: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub color: String,
    /// Live records carrying it.
    pub count: i64,
    pub created_at: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    #[schema(min_length = 1, max_length = 60, pattern = r"\S")]
    pub name: Option<String>,
    /// gray (default), red, orange, yellow, green, teal, blue, purple or pink.
    #[schema(pattern = "^(gray|red|orange|yellow|green|teal|blue|purple|pink)$")]
    pub color: Option<String>,
}

pub fn check_color(p: &mut Problems, field: &str, c: Option<String>) -> Option<String> {
    let c = c?;
    if COLORS.contains(&c.as_str()) {
        Some(c)
    } else {
        p.add(field, format!("use one of {}", COLORS.join(", ")));
        None
    }
}

/// A clean tag name and colour; `creating` makes the name required.
pub fn validate(input: TagInput, creating: bool) -> AppResult<(Option<String>, Option<String>)> {
    let mut p = Problems::new();
    let sent = input.name.is_some();
    let name = values::text(&mut p, "name", input.name, 60);
    if (creating || sent) && name.is_none() {
        p.add("name", "required");
    }
    if name.as_deref().is_some_and(|n| n.contains('\n')) {
        p.add("name", "use one line");
    }
    let color = check_color(&mut p, "color", input.color);
    p.into_result()?;
    Ok((name, color))
}

const SELECT: &str = "SELECT tg.id, tg.name, tg.color, tg.created_at,
    (SELECT count(*) FROM record_tags rt WHERE rt.tag_id = tg.id) FROM tags tg";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Tag> {
    Ok(Tag {
        id: r.get(0)?,
        name: r.get(1)?,
        color: r.get(2)?,
        created_at: r.get(3)?,
        count: r.get(4)?,
    })
}

pub fn all(conn: &Connection) -> AppResult<Vec<Tag>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY tg.name COLLATE NOCASE"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Tag>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE tg.id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

fn name_taken(conn: &Connection, name: &str, except: &str) -> AppResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tags WHERE name = ?1 COLLATE NOCASE AND id <> ?2)",
        params![name, except],
        |r| r.get(0),
    )?)
}

pub fn create(conn: &Connection, name: &str, color: Option<&str>) -> AppResult<Tag> {
    if name_taken(conn, name, "")? {
        return Err(AppError::field("name", "a tag with this name exists"));
    }
    let id = clock::new_id();
    conn.execute(
        "INSERT INTO tags (id, name, color, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, color.unwrap_or("gray"), clock::now_stamp()],
    )?;
    get(conn, &id)?.ok_or(AppError::NotFound)
}

pub fn update(
    conn: &Connection,
    id: &str,
    name: Option<&str>,
    color: Option<&str>,
) -> AppResult<Tag> {
    let current = get(conn, id)?.ok_or(AppError::NotFound)?;
    let name = name.unwrap_or(&current.name);
    if name_taken(conn, name, id)? {
        return Err(AppError::field(
            "name",
            "a tag with this name exists (merge them instead)",
        ));
    }
    conn.execute(
        "UPDATE tags SET name = ?2, color = ?3 WHERE id = ?1",
        params![id, name, color.unwrap_or(&current.color)],
    )?;
    reindex_tagged(conn, id)?;
    get(conn, id)?.ok_or(AppError::NotFound)
}

/// Records carrying a tag are found in search by its name: a rename or a
/// merge reindexes them.
fn reindex_tagged(conn: &Connection, tag_id: &str) -> AppResult<()> {
    conn.execute(
        "INSERT INTO search_outbox (kind, id) SELECT kind, record_id FROM record_tags WHERE tag_id = ?1",
        [tag_id],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: &str) -> AppResult<()> {
    reindex_tagged(conn, id)?;
    if conn.execute("DELETE FROM tags WHERE id = ?1", [id])? == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Moves every record of tag `from` to tag `into` and deletes `from`.
pub fn merge(conn: &Connection, from: &str, into: &str) -> AppResult<Tag> {
    if from == into {
        return Err(AppError::field("into", "merge a tag into another one"));
    }
    get(conn, from)?.ok_or(AppError::NotFound)?;
    get(conn, into)?.ok_or_else(|| AppError::field("into", "no such tag"))?;
    reindex_tagged(conn, from)?;
    conn.execute(
        "INSERT OR IGNORE INTO record_tags (tag_id, kind, record_id)
         SELECT ?2, kind, record_id FROM record_tags WHERE tag_id = ?1",
        params![from, into],
    )?;
    conn.execute("DELETE FROM tags WHERE id = ?1", [from])?;
    get(conn, into)?.ok_or(AppError::NotFound)
}

/// Checks that every id names a tag.
pub fn check_ids(conn: &Connection, ids: &[String]) -> AppResult<()> {
    if ids.is_empty() || ids.len() > MAX_TAGS_PER_REQUEST {
        return Err(AppError::field(
            "tag_ids",
            format!("send 1 to {MAX_TAGS_PER_REQUEST} tag ids"),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        let known: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM tags WHERE id = ?1)")?
            .query_row([id], |r| r.get(0))?;
        if !known {
            return Err(AppError::field(format!("tag_ids[{i}]"), "no such tag"));
        }
    }
    Ok(())
}

/// Adds (or removes) tags on a record; true if anything changed.
pub fn set_on(
    conn: &Connection,
    kind: &str,
    record_id: &str,
    tag_ids: &[String],
    add: bool,
) -> AppResult<bool> {
    crate::record::restrict::ensure_writable(conn, kind, record_id)?;
    let mut changed = 0;
    for t in tag_ids {
        changed += if add {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO record_tags (tag_id, kind, record_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![t, kind, record_id])?
        } else {
            conn.prepare_cached("DELETE FROM record_tags WHERE tag_id = ?1 AND record_id = ?2")?
                .execute(params![t, record_id])?
        };
    }
    if changed > 0 {
        crate::search::enqueue(conn, kind, record_id)?;
    }
    Ok(changed > 0)
}

/// The tags of each of these records, by record id.
pub fn of_records(conn: &Connection, ids: &[String]) -> AppResult<HashMap<String, Vec<TagRef>>> {
    let mut out: HashMap<String, Vec<TagRef>> = HashMap::new();
    // Most records carry no tag: one cheap check skips the lookups.
    let any: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM record_tags)")?
        .query_row([], |r| r.get(0))?;
    if !any {
        return Ok(out);
    }
    // One index lookup per record: an `IN (json_each(…))` list lets the
    // planner choose a scan of the whole table.
    let mut stmt = conn.prepare_cached(
        "SELECT tg.id, tg.name, tg.color FROM record_tags rt
         JOIN tags tg ON tg.id = rt.tag_id
         WHERE rt.record_id = ?1
         ORDER BY tg.name COLLATE NOCASE",
    )?;
    for id in ids {
        let tags = stmt
            .query_map([id], |r| {
                Ok(TagRef {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    color: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if !tags.is_empty() {
            out.insert(id.clone(), tags);
        }
    }
    Ok(out)
}
