//! Files attached to records: a contract on a deal, a photo on a contact.
//!
//! A file is a row (`files`: its name, who added it, trash) pointing at a
//! blob of content stored once per organization by SHA-256 (`file_blobs`,
//! `blobs.rs`); `file_links` attach it to records of any kind through record
//! references, as notes and tasks attach. Files are found by name in search
//! (`Source`), appear as "file added" on the timelines of the records they
//! are attached to (`timeline.rs`), go to the trash for 30 days like
//! records, and are served so that nothing in them can run in a browser
//! (`serve.rs`). Thumbnails are made in the background (`thumbs.rs`).

pub mod blobs;
pub mod names;
pub mod routes;
pub mod serve;
pub mod thumbs;
pub mod timeline;
pub mod upload;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::crm::links;
use crate::error::{AppError, AppResult};
use crate::record::refs::{self, RecordRef};
use crate::search::{SearchDoc, Source};

/// The search and outbox kind of files.
pub const KIND: &str = "file";
/// An organization's storage unless a platform admin set another: 5 GiB.
pub const DEFAULT_QUOTA: i64 = 5 * 1024 * 1024 * 1024;
/// The most records one file is attached to.
pub const MAX_LINKS: usize = links::MAX_LINKS;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FileInfo {
    pub id: String,
    pub name: String,
    /// Bytes.
    pub size: i64,
    /// Sniffed from the content (never the uploader's word).
    pub content_type: String,
    pub sha256: String,
    /// A thumbnail can be fetched (`…/thumbnail`).
    pub has_thumbnail: bool,
    /// Pixel size, for images.
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// The records it is attached to.
    pub links: Vec<RecordRef>,
    pub created_at: String,
    /// A user id, or `api_key:<id>`.
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
    /// Set while it is in the trash.
    pub deleted_at: Option<String>,
}

const COLUMNS: &str = "f.id, f.name, b.size, b.content_type, f.sha256, b.thumb, b.width, b.height,
     f.created_at, f.created_by, f.updated_at, f.updated_by, f.deleted_at,
     (SELECT json_group_array(json_array(l.kind, l.record_id)) FROM
        (SELECT kind, record_id FROM file_links WHERE file_id = f.id ORDER BY linked_at, record_id) l)";
const FROM: &str = "files f JOIN file_blobs b ON b.sha256 = f.sha256";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<FileInfo> {
    let thumb: Option<String> = r.get(5)?;
    Ok(FileInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        size: r.get(2)?,
        content_type: r.get(3)?,
        sha256: r.get(4)?,
        has_thumbnail: thumb.is_some_and(|t| !t.is_empty()),
        width: r.get(6)?,
        height: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        updated_at: r.get(10)?,
        updated_by: r.get(11)?,
        deleted_at: r.get(12)?,
        links: links::parse(&r.get::<_, String>(13)?),
    })
}

fn load(conn: &Connection, cond: &str, args: impl rusqlite::Params) -> AppResult<Vec<FileInfo>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE {cond}"))?;
    let mut found = stmt
        .query_map(args, from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    links::name_all(conn, found.iter_mut().map(|f| &mut f.links))?;
    Ok(found)
}

/// How many live files there are.
pub fn live_count(conn: &Connection) -> AppResult<usize> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM files WHERE deleted_at IS NULL")?
        .query_row([], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A live file (not in the trash), or None.
pub fn get(conn: &Connection, id: &str) -> AppResult<Option<FileInfo>> {
    Ok(load(conn, "f.id = ?1 AND f.deleted_at IS NULL", [id])?.pop())
}

/// A file whether or not it is in the trash.
pub fn get_any(conn: &Connection, id: &str) -> AppResult<Option<FileInfo>> {
    Ok(load(conn, "f.id = ?1", [id])?.pop())
}

/// Where a page of files starts: after (created_at, id).
pub type After = Option<(String, String)>;

/// Live files, newest first; only those attached to `record` when given.
pub fn list(
    conn: &Connection,
    record: Option<(&str, &str)>,
    after: After,
    limit: usize,
) -> AppResult<Vec<FileInfo>> {
    let (at, id) = after.unwrap_or_else(|| ("\u{10ffff}".into(), String::new()));
    match record {
        Some((kind, rid)) => load(
            conn,
            "f.deleted_at IS NULL AND f.id IN
               (SELECT file_id FROM file_links WHERE record_id = ?1 AND kind = ?2)
             AND (f.created_at, f.id) < (?3, ?4) ORDER BY f.created_at DESC, f.id DESC LIMIT ?5",
            params![rid, kind, at, id, limit as i64],
        ),
        None => load(
            conn,
            "f.deleted_at IS NULL AND (f.created_at, f.id) < (?1, ?2)
             ORDER BY f.created_at DESC, f.id DESC LIMIT ?3",
            params![at, id, limit as i64],
        ),
    }
}

/// Bytes the organization stores (each distinct content once, the trash
/// included until it is erased and collected).
pub fn usage(conn: &Connection) -> AppResult<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(SUM(size), 0) FROM file_blobs", [], |r| {
            r.get(0)
        })?,
    )
}

/// Whether a live file with this content is attached to the record.
pub fn has_content(conn: &Connection, kind: &str, record_id: &str, sha: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM file_links l JOIN files f ON f.id = l.file_id
             WHERE l.kind = ?1 AND l.record_id = ?2 AND f.sha256 = ?3 AND f.deleted_at IS NULL)",
        )?
        .query_row(params![kind, record_id, sha], |r| r.get(0))?)
}

pub fn blob_exists(conn: &Connection, sha: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM file_blobs WHERE sha256 = ?1)")?
        .query_row([sha], |r| r.get(0))?)
}

/// A record a file is attached to, as a client names it.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A kind of record, as in `GET /schema` (`contact`, `company`, `deal`, …).
    pub kind: String,
    pub id: String,
}

impl Target {
    /// `kind:id`, as in `?record=` and the upload's `record` fields.
    pub fn parse(field: &str, s: &str) -> AppResult<Target> {
        let bad = || AppError::field(field, "use kind:id, e.g. contact:0190…");
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        if crate::record::kind(kind).is_none() {
            return Err(AppError::field(
                field,
                format!("no kind of record named {kind}"),
            ));
        }
        if id.is_empty() || id.len() > 64 {
            return Err(bad());
        }
        Ok(Target {
            kind: kind.to_string(),
            id: id.to_string(),
        })
    }
}

/// Checks that every target is a live record (a file is attached only to
/// what exists).
pub fn check_targets(conn: &Connection, field: &str, targets: &[Target]) -> AppResult<()> {
    for t in targets {
        let kind = crate::record::kind(&t.kind)
            .ok_or_else(|| AppError::field(field, "unknown kind of record"))?;
        if !refs::is_live(conn, kind, &t.id)? {
            return Err(AppError::field(field, format!("no such {}", t.kind)));
        }
        // Nothing new is attached to a record a privacy request restricted.
        crate::record::restrict::ensure_writable(conn, &t.kind, &t.id)?;
    }
    Ok(())
}

/// A new file's row (its blob is in place or about to be, in this
/// transaction).
pub struct NewFile<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub blob: &'a blobs::Finished,
    pub targets: &'a [Target],
    pub actor: &'a str,
}

/// Inserts the blob row (when the content is new) and the file's rows.
pub fn insert(conn: &Connection, f: &NewFile<'_>, blob_is_new: bool) -> AppResult<()> {
    let now = clock::now_stamp();
    if blob_is_new {
        conn.prepare_cached(
            "INSERT INTO file_blobs (sha256, size, content_type, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            f.blob.sha256,
            f.blob.size as i64,
            f.blob.content_type,
            now
        ])?;
    }
    conn.prepare_cached(
        "INSERT INTO files (id, sha256, name, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?5)",
    )?
    .execute(params![f.id, f.blob.sha256, f.name, now, f.actor])?;
    for t in f.targets {
        link(conn, f.id, t, f.actor, &now)?;
    }
    crate::search::enqueue(conn, KIND, f.id)
}

fn link(conn: &Connection, id: &str, t: &Target, actor: &str, now: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO file_links (file_id, kind, record_id, linked_at, linked_by)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, t.kind, t.id, now, actor])?
        > 0)
}

fn live(conn: &Connection, id: &str) -> AppResult<()> {
    let found: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE id = ?1 AND deleted_at IS NULL)")?
        .query_row([id], |r| r.get(0))?;
    if found {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn touch(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    conn.prepare_cached("UPDATE files SET updated_at = ?2, updated_by = ?3 WHERE id = ?1")?
        .execute(params![id, clock::now_stamp(), actor])?;
    crate::search::enqueue(conn, KIND, id)
}

pub fn rename(conn: &Connection, id: &str, name: &str, actor: &str) -> AppResult<()> {
    live(conn, id)?;
    conn.prepare_cached("UPDATE files SET name = ?2 WHERE id = ?1")?
        .execute(params![id, name])?;
    touch(conn, id, actor)
}

/// Attaches a live file to a live record (nothing changes if it already is).
pub fn attach(conn: &Connection, id: &str, t: &Target, actor: &str) -> AppResult<()> {
    live(conn, id)?;
    check_targets(conn, "record", std::slice::from_ref(t))?;
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM file_links WHERE file_id = ?1")?
        .query_row([id], |r| r.get(0))?;
    if count as usize >= MAX_LINKS {
        return Err(AppError::field(
            "record",
            format!("attach a file to at most {MAX_LINKS} records"),
        ));
    }
    if link(conn, id, t, actor, &clock::now_stamp())? {
        touch(conn, id, actor)?;
    }
    Ok(())
}

/// Detaches a file from a record; 404 when it was not attached.
pub fn detach(
    conn: &Connection,
    id: &str,
    kind: &str,
    record_id: &str,
    actor: &str,
) -> AppResult<()> {
    live(conn, id)?;
    crate::record::restrict::ensure_writable(conn, kind, record_id)?;
    let n = conn
        .prepare_cached(
            "DELETE FROM file_links WHERE file_id = ?1 AND kind = ?2 AND record_id = ?3",
        )?
        .execute(params![id, kind, record_id])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    touch(conn, id, actor)
}

/// Moves a file to the trash (restorable for 30 days).
pub fn trash(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    live(conn, id)?;
    conn.prepare_cached("UPDATE files SET deleted_at = ?2, deleted_by = ?3 WHERE id = ?1")?
        .execute(params![id, clock::now_stamp(), actor])?;
    crate::search::enqueue(conn, KIND, id)
}

/// Brings a file back from the trash; 404 unless it is there.
pub fn restore(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    let n = conn
        .prepare_cached(
            "UPDATE files SET deleted_at = NULL, deleted_by = NULL, updated_at = ?2, updated_by = ?3
             WHERE id = ?1 AND deleted_at IS NOT NULL",
        )?
        .execute(params![id, clock::now_stamp(), actor])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    crate::search::enqueue(conn, KIND, id)
}

/// Files in the trash, beside records: listed, restored and erased there.
pub struct FilesInTrash;

impl crate::record::trash::TrashSource for FilesInTrash {
    fn name(&self) -> &'static str {
        KIND
    }
    fn select(&self) -> String {
        format!(
            "SELECT '{KIND}' AS kind, f.id AS id, f.name AS name, f.deleted_at AS deleted_at,
                    f.deleted_by AS deleted_by
             FROM files f WHERE f.deleted_at >= ?1"
        )
    }
    fn restore(&self, conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
        restore(conn, id, actor)
    }
    fn erase(&self, conn: &Connection, id: &str) -> AppResult<()> {
        erase(conn, id)
    }
}

/// Erases a file in the trash now (its links go with it, its blob once
/// `collect` finds no row naming it); 404 unless it is in the trash.
pub fn erase(conn: &Connection, id: &str) -> AppResult<()> {
    let n = conn.execute(
        "DELETE FROM files WHERE id = ?1 AND deleted_at IS NOT NULL",
        [id],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    crate::search::enqueue(conn, KIND, id)
}

/// Erases files that stayed in the trash past their time (their links go
/// with them; their blobs once `collect` finds no row naming them).
pub fn purge_trash(conn: &Connection) -> AppResult<usize> {
    let cutoff = crate::record::store::trash_cutoff();
    Ok(conn.execute("DELETE FROM files WHERE deleted_at < ?1", [cutoff])?)
}

/// Drops blob rows no file names any more; their sha256s (whose files
/// on disk `blobs::collect` then removes).
pub fn drop_unused_blobs(conn: &Connection) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM file_blobs WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = file_blobs.sha256)",
        [],
    )?)
}

/// What serving a live file needs.
pub struct Stored {
    pub sha256: String,
    pub size: i64,
    /// Sniffed at upload.
    pub content_type: String,
    /// The thumbnail's type ('' or None: no thumbnail).
    pub thumb: Option<String>,
    pub name: String,
}

/// The blob and name of a live file.
pub fn stored(conn: &Connection, id: &str) -> AppResult<Option<Stored>> {
    Ok(conn
        .prepare_cached(
            "SELECT b.sha256, b.size, b.content_type, b.thumb, f.name FROM files f
             JOIN file_blobs b ON b.sha256 = f.sha256 WHERE f.id = ?1 AND f.deleted_at IS NULL",
        )?
        .query_row([id], |r| {
            Ok(Stored {
                sha256: r.get(0)?,
                size: r.get(1)?,
                content_type: r.get(2)?,
                thumb: r.get(3)?,
                name: r.get(4)?,
            })
        })
        .optional()?)
}

/// Files in search: found by name; the records they are attached to are the
/// subtitle.
pub struct FileSource;

fn search_doc(f: FileInfo) -> SearchDoc {
    let names: Vec<String> = f
        .links
        .iter()
        .filter(|l| !l.name.is_empty())
        .map(|l| l.name.clone())
        .collect();
    // "Q3-proposal_v2.pdf" is found by "proposal" too.
    let words: String = f
        .name
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    SearchDoc {
        rank: None,
        kind: KIND,
        id: f.id,
        title: f.name.clone(),
        subtitle: names.join(" · "),
        texts: vec![f.name.clone(), words],
        phones: Vec::new(),
        snippets: vec![f.name],
    }
}

impl Source for FileSource {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn docs(&self, conn: &Connection, ids: &[String]) -> AppResult<Vec<SearchDoc>> {
        let ids = serde_json::to_string(ids).map_err(|e| AppError::Internal(e.into()))?;
        Ok(load(
            conn,
            "f.deleted_at IS NULL AND f.id IN (SELECT value FROM json_each(?1))",
            [ids],
        )?
        .into_iter()
        .map(search_doc)
        .collect())
    }
    fn count(&self, conn: &Connection) -> AppResult<usize> {
        live_count(conn)
    }
    fn docs_after(
        &self,
        conn: &Connection,
        after: &str,
        limit: usize,
    ) -> AppResult<Vec<SearchDoc>> {
        Ok(load(
            conn,
            "f.deleted_at IS NULL AND f.id > ?1 ORDER BY f.id LIMIT ?2",
            params![after, limit as i64],
        )?
        .into_iter()
        .map(search_doc)
        .collect())
    }
}

/// The files job: forgets blobs no file names, removes what no row accounts
/// for on disk (leftovers of a crash or an interrupted upload), and makes
/// thumbnails still missing. (removed files, thumbnails made)
pub async fn upkeep(
    db: &std::sync::Arc<crate::db::Db>,
    store: &blobs::Store,
) -> AppResult<(usize, usize)> {
    db.write(drop_unused_blobs).await?;
    // Under the writer: no upload commits a blob in between.
    let s = store.clone();
    let removed = db
        .write(move |tx| blobs::collect(&s, &|sha| blob_exists(tx, sha)))
        .await?;
    let mut made = 0;
    loop {
        let batch = db.read(|c| thumbs::pending(c, 20)).await?;
        if batch.is_empty() {
            break;
        }
        for (sha, content_type) in batch {
            thumbs::make_for(db, store, &sha, &content_type).await?;
            made += 1;
        }
    }
    Ok((removed, made))
}

/// Erases what stayed in the trash past its time: records of every kind,
/// then files.
pub fn purge_all_trash(conn: &Connection) -> AppResult<usize> {
    Ok(crate::record::store::purge_trash(conn)? + purge_trash(conn)?)
}
