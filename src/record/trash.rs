//! The trash of every kind in one place: what was deleted, by whom, when,
//! and how long it stays restorable; restore several at once; erase one for
//! good before its time (admins). Each kind's own restore runs, so a restore
//! undoes exactly what its delete changed.

use axum::extract::Path;
use axum::http::StatusCode;
use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Query};
use crate::platform::access::OrgAccess;
use crate::record::store::{self, TRASH_DAYS};
use crate::record::{Kind, kind, kinds};
use crate::state::AppState;

/// What else can sit in the trash beside records (files): the layer lists,
/// restores and erases it with them without knowing what it is.
pub trait TrashSource: Send + Sync {
    /// Its `kind` in the trash (`file`).
    fn name(&self) -> &'static str;
    /// `SELECT '<name>' AS kind, id, name, deleted_at, deleted_by FROM …
    /// WHERE deleted_at >= ?1`: what of it is restorable.
    fn select(&self) -> String;
    /// Out of the trash; 404 unless it is there.
    fn restore(&self, conn: &Connection, id: &str, actor: &str) -> AppResult<()>;
    /// Gone for good; 404 unless it is in the trash.
    fn erase(&self, conn: &Connection, id: &str) -> AppResult<()>;
}

static OTHERS: OnceLock<&'static [&'static dyn TrashSource]> = OnceLock::new();

/// Hands the layer what else goes to the trash (the first call wins).
pub fn install(others: &'static [&'static dyn TrashSource]) {
    let _ = OTHERS.set(others);
}

fn others() -> &'static [&'static dyn TrashSource] {
    OTHERS.get().copied().unwrap_or(&[])
}

/// A kind of thing in the trash: records of a kind, or another source.
#[derive(Clone, Copy)]
pub enum Trashed {
    Record(&'static dyn Kind),
    Other(&'static dyn TrashSource),
}

impl Trashed {
    /// By its name in the trash (`contact`, `file`, …).
    pub fn named(name: &str) -> Option<Trashed> {
        kind(name).map(Trashed::Record).or_else(|| {
            others()
                .iter()
                .copied()
                .find(|o| o.name() == name)
                .map(Trashed::Other)
        })
    }

    fn all() -> Vec<Trashed> {
        kinds()
            .iter()
            .copied()
            .map(Trashed::Record)
            .chain(others().iter().copied().map(Trashed::Other))
            .collect()
    }

    /// Its name in the trash (`contact`, `file`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Trashed::Record(k) => k.name(),
            Trashed::Other(o) => o.name(),
        }
    }

    /// What the trash calls `id` (empty if it has no name or isn't there).
    fn name_in_trash(&self, conn: &Connection, id: &str) -> AppResult<String> {
        let sql = format!("SELECT name FROM ({}) WHERE id = ?2", self.select());
        Ok(conn
            .query_row(&sql, params!["", id], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten()
            .unwrap_or_default())
    }

    fn select(&self) -> String {
        match self {
            Trashed::Record(k) => format!(
                "SELECT '{}' AS kind, t.id AS id, {} AS name, t.deleted_at AS deleted_at,
                        t.updated_by AS deleted_by
                 FROM {} t WHERE t.deleted_at >= ?1",
                k.name(),
                k.name_sql(),
                k.table()
            ),
            Trashed::Other(o) => o.select(),
        }
    }

    fn restore(&self, conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
        match self {
            Trashed::Record(k) => k.restore(conn, id, actor),
            Trashed::Other(o) => o.restore(conn, id, actor),
        }
    }

    fn erase(&self, conn: &Connection, id: &str) -> AppResult<()> {
        match self {
            Trashed::Record(k) => erase(conn, *k, id),
            Trashed::Other(o) => o.erase(conn, id),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TrashItem {
    /// The record's kind (`contact`, `company`, …), or `file`.
    pub kind: String,
    pub id: String,
    pub name: String,
    pub deleted_at: String,
    /// A user id, or `api_key:<id>`.
    pub deleted_by: Option<String>,
    /// When it is erased for good unless restored.
    pub purge_at: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrashParams {
    /// Only this kind (`contact`, `company`, …, or `file`).
    pub kind: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Keyset position: (deleted_at, kind, id) of the last row of a page.
fn cursor_of(item: &TrashItem) -> String {
    use base64::Engine;
    let raw = format!("{}\u{1f}{}\u{1f}{}", item.deleted_at, item.kind, item.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn parse_cursor(c: &str) -> AppResult<(String, String, String)> {
    use base64::Engine;
    let bad = || AppError::field("cursor", "not a cursor this server gave out");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = raw.split('\u{1f}');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(k), Some(i), None) => Ok((a.into(), k.into(), i.into())),
        _ => Err(bad()),
    }
}

/// Restorable records of `only` (or every kind) and files, newest
/// deletion first.
pub fn list(
    conn: &Connection,
    only: Option<Trashed>,
    after: Option<(String, String, String)>,
    limit: usize,
) -> AppResult<Vec<TrashItem>> {
    let chosen = match only {
        Some(t) => vec![t],
        None => Trashed::all(),
    };
    let union = chosen
        .iter()
        .map(Trashed::select)
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let (a, k, i) = after.unwrap_or_else(|| ("\u{10ffff}".into(), String::new(), String::new()));
    let sql = format!(
        "SELECT kind, id, name, deleted_at, deleted_by FROM ({union})
         WHERE (deleted_at, kind, id) < (?2, ?3, ?4)
         ORDER BY deleted_at DESC, kind DESC, id DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params![store::trash_cutoff(), a, k, i, limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(kind, id, name, deleted_at, deleted_by)| {
            let at = time::OffsetDateTime::parse(
                &deleted_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                AppError::Internal(anyhow::anyhow!("stored deleted_at {deleted_at}: {e}"))
            })?;
            Ok(TrashItem {
                kind,
                id,
                name,
                purge_at: clock::stamp(at + time::Duration::days(TRASH_DAYS)),
                deleted_at,
                deleted_by,
            })
        })
        .collect()
}

/// Erases one record in the trash now: its row, tags and history.
pub fn erase(conn: &Connection, k: &dyn Kind, id: &str) -> AppResult<()> {
    crate::record::restrict::ensure_writable(conn, k.label(), id)?;
    let table = k.table();
    let n = conn.execute(
        &format!("DELETE FROM {table} WHERE id = ?1 AND deleted_at IS NOT NULL"),
        [id],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    conn.execute(
        "DELETE FROM record_tags WHERE kind = ?1 AND record_id = ?2",
        params![k.name(), id],
    )?;
    conn.execute(
        "DELETE FROM record_history WHERE kind = ?1 AND record_id = ?2",
        params![k.name(), id],
    )?;
    crate::search::enqueue(conn, k.name(), id)
}

fn kind_named(name: &str, field: &str) -> AppResult<Trashed> {
    Trashed::named(name).ok_or_else(|| AppError::field(field, format!("no kind named {name}")))
}

/// Deleted records of every kind, newest first (everyone in the organization).
#[utoipa::path(get, path = "/trash", tag = "trash", params(TrashParams,
        ("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = TrashPage), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_trash(
    access: OrgAccess,
    Query(params): Query<TrashParams>,
) -> AppResult<Json<TrashPage>> {
    let limit = crate::record::list::limit(params.limit.map(|l| l.to_string()).as_ref())?;
    let only = match params.kind.as_deref() {
        Some(k) => Some(kind_named(k, "kind")?),
        None => None,
    };
    let after = params.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut items = access
        .tenant
        .db
        .read(move |c| list(c, only, after, limit + 1))
        .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Ok(Json(TrashPage { items, next_cursor }))
}

/// A page of the trash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TrashPage {
    pub items: Vec<TrashItem>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    pub kind: String,
    pub id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreMany {
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<RecordKey>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Restored {
    pub restored: usize,
}

/// Restore several deleted records at once (member+), each as its own
/// restore would: all of them or, if one is gone, none (404).
#[utoipa::path(post, path = "/trash/restore", tag = "trash", request_body = RestoreMany,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Restored), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn restore_many(
    access: OrgAccess,
    Json(body): Json<RestoreMany>,
) -> AppResult<Json<Restored>> {
    access.require(Role::Member)?;
    if body.items.is_empty() || body.items.len() > 500 {
        return Err(AppError::field("items", "restore 1–500 records at a time"));
    }
    let items = body
        .items
        .into_iter()
        .enumerate()
        .map(|(i, r)| Ok((kind_named(&r.kind, &format!("items[{i}].kind"))?, r.id)))
        .collect::<AppResult<Vec<_>>>()?;
    let actor = access.actor().stamp();
    let restored = access
        .tenant
        .write(move |tx| {
            for (k, id) in &items {
                k.restore(tx, id, &actor)?;
            }
            Ok(items.len())
        })
        .await?;
    Ok(Json(Restored { restored }))
}

#[derive(Deserialize)]
pub struct TrashPath {
    #[allow(dead_code)]
    pub org: String,
    pub kind: String,
    pub id: String,
}

/// Erase one deleted record for good, now (admin+).
#[utoipa::path(delete, path = "/trash/{kind}/{id}", tag = "trash",
    params(("org" = String, Path, description = "organization slug"),
           ("kind" = String, Path, description = "the record's kind"),
           ("id" = String, Path, description = "the record's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn erase_one(access: OrgAccess, Path(path): Path<TrashPath>) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    let k = Trashed::named(&path.kind).ok_or(AppError::NotFound)?;
    let id = path.id;
    let actor = access.audit_actor();
    access
        .tenant
        .write(move |tx| {
            let name = k.name_in_trash(tx, &id)?;
            k.erase(tx, &id)?;
            crate::audit::record(
                tx,
                &crate::audit::Entry::new(actor, "record.erased").target(k.name(), &id, &name),
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trash))
        .routes(routes!(restore_many))
        .routes(routes!(erase_one))
}
