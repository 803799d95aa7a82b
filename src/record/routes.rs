//! The routes every kind gets, generic over the kind: list, count, create,
//! get, PATCH, delete, restore, history, tags on a record and in bulk.
//! Their OpenAPI description is built beside them (`record::openapi`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, Json, JsonBytes, Path, Query};
use crate::paths::{IdPath, TagPath};
use crate::platform::access::OrgAccess;
use crate::record::history::{self, Change};
use crate::record::list::{Count, ListQuery, Page, Params, Viewer, fields_of};
use crate::record::{RecordKind, find, openapi, patch, restrict, store, tags, timeline};
use crate::state::AppState;

/// Who asks: the caller's user id (an API key's owner), for `me` in
/// filters, and their time zone, for where "today" begins.
pub fn me(access: &OrgAccess) -> Viewer {
    let id = match &access.caller {
        Caller::User { user, .. } => user.id.clone(),
        Caller::ApiKey(k) => k.owner_user_id.clone(),
    };
    Viewer {
        id: Some(id),
        time_zone: access.time_zone.clone(),
    }
}

/// A list page of any kind: the query checked against its fields, then read
/// and written as JSON on the reading thread (see `JsonBytes`).
pub async fn list_page<K: RecordKind>(
    access: &OrgAccess,
    params: Params,
    narrow: Option<(&'static str, String)>,
) -> AppResult<JsonBytes> {
    let me = me(access);
    let found = find::found::<K>(access, &params).await?;
    access
        .tenant
        .db
        .read(move |c| {
            let mut q =
                ListQuery::with_found::<K>(&params, &fields_of::<K>(c)?, me, found.as_ref())?;
            if let Some((sql, v)) = narrow {
                q.and(sql, rusqlite::types::Value::Text(v));
            }
            JsonBytes::of(&q.page::<K>(c)?)
        })
        .await
}

async fn list<K: RecordKind>(
    access: OrgAccess,
    Query(params): Query<Params>,
) -> AppResult<JsonBytes> {
    list_page::<K>(&access, params, None).await
}

async fn count<K: RecordKind>(
    access: OrgAccess,
    Query(params): Query<Params>,
) -> AppResult<Json<Count>> {
    let me = me(&access);
    let found = find::found::<K>(&access, &params).await?;
    let count = access
        .tenant
        .db
        .read(move |c| {
            ListQuery::with_found::<K>(&params, &fields_of::<K>(c)?, me, found.as_ref())?
                .count::<K>(c)
        })
        .await?;
    Ok(Json(Count { count }))
}

async fn create<K: RecordKind>(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<Value>,
) -> AppResult<(StatusCode, Json<K::Record>)> {
    access.require(Role::Member)?;
    let rec = patch::create::<K>(&state, &access, body).await?;
    Ok((StatusCode::CREATED, Json(rec)))
}

async fn get_one<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<K::Record>> {
    let id = path.id;
    let rec = access
        .tenant
        .db
        .lookup(move |c| store::get::<K>(c, &id))
        .await?;
    rec.map(Json).ok_or(AppError::NotFound)
}

async fn update<K: RecordKind>(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<Value>,
) -> AppResult<Json<K::Record>> {
    access.require(Role::Member)?;
    Ok(Json(
        patch::update::<K>(&state, &access, path.id, body).await?,
    ))
}

async fn remove<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<StatusCode> {
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let id = path.id;
    access
        .tenant
        .write(move |tx| store::trash::<K>(tx, &id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<K::Record>> {
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let id = path.id;
    let rec = access
        .tenant
        .write(move |tx| {
            store::restore::<K>(tx, &id, &actor)?;
            store::get::<K>(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(rec))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Entries per page, 1–200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

async fn history<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<HistoryParams>,
) -> AppResult<Json<Page<Change>>> {
    let limit = crate::record::list::limit(params.limit.map(|l| l.to_string()).as_ref())?;
    let before = match params.cursor {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::field("cursor", "not a cursor this server gave out"))?,
        ),
        None => None,
    };
    let id = path.id;
    let items = access
        .tenant
        .db
        .read(move |c| {
            if !store::exists(c, K::TABLE, &id)? && !in_trash::<K>(c, &id)? {
                return Err(AppError::NotFound);
            }
            history::of_record(c, K::KIND, &id, before, limit + 1)
        })
        .await?;
    let mut items = items;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|c| c.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Comma-separated groups (changes, notes, tasks, activities, …).
    pub types: Option<String>,
    /// `related`: a company's contacts' entries too.
    pub include: Option<String>,
}

/// A page of a record's timeline; `pinned` (first page only) stays on top.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub pinned: Vec<timeline::Entry>,
    pub items: Vec<timeline::Entry>,
    pub next_cursor: Option<String>,
}

async fn timeline<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<TimelineParams>,
) -> AppResult<Json<Timeline>> {
    let limit = crate::record::list::limit(params.limit.map(|l| l.to_string()).as_ref())?;
    let before = params.cursor.as_deref().map(timeline::decode).transpose()?;
    let known = timeline::groups();
    let groups: Vec<String> = match params.types.as_deref() {
        None => Vec::new(),
        Some(t) => {
            let groups: Vec<String> = t.split(',').map(|g| g.trim().to_string()).collect();
            if groups.iter().any(|g| !known.contains(&g.as_str())) {
                return Err(AppError::field(
                    "types",
                    format!("use some of {}", known.join(", ")),
                ));
            }
            groups
        }
    };
    let related = match params.include.as_deref() {
        None => false,
        Some("related") => true,
        Some(_) => return Err(AppError::field("include", "use related")),
    };
    let id = path.id;
    let page = access
        .tenant
        .db
        .read(move |c| {
            if !store::exists(c, K::TABLE, &id)? {
                return Err(AppError::NotFound);
            }
            let kind = crate::record::kind(K::KIND).ok_or(AppError::NotFound)?;
            let mut ids = vec![id.clone()];
            if related {
                ids.extend(K::related(c, &id)?);
            }
            let subject = timeline::Subject { kind, id: &id, ids };
            timeline::page(c, &subject, &groups, before.as_ref(), limit)
        })
        .await?;
    Ok(Json(Timeline {
        pinned: page.pinned,
        items: page.items,
        next_cursor: page.next.as_ref().map(timeline::encode),
    }))
}

fn in_trash<K: RecordKind>(c: &rusqlite::Connection, id: &str) -> AppResult<bool> {
    Ok(c.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1)",
        K::TABLE
    ))?
    .query_row([id], |r| r.get(0))?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagIds {
    #[schema(min_items = 1, max_items = 100)]
    pub tag_ids: Vec<String>,
}

async fn add_tags<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<TagIds>,
) -> AppResult<Json<K::Record>> {
    access.require(Role::Member)?;
    let id = path.id;
    let rec = access
        .tenant
        .write(move |tx| {
            store::load::<K>(tx, &id)?.ok_or(AppError::NotFound)?;
            tags::check_ids(tx, &body.tag_ids)?;
            tags::set_on(tx, K::KIND, &id, &body.tag_ids, true)?;
            store::get::<K>(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(rec))
}

async fn remove_tag<K: RecordKind>(
    access: OrgAccess,
    Path(path): Path<TagPath>,
) -> AppResult<Json<K::Record>> {
    access.require(Role::Member)?;
    let rec = access
        .tenant
        .write(move |tx| {
            store::load::<K>(tx, &path.id)?.ok_or(AppError::NotFound)?;
            tags::set_on(
                tx,
                K::KIND,
                &path.id,
                std::slice::from_ref(&path.tag_id),
                false,
            )?;
            store::get::<K>(tx, &path.id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(rec))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTags {
    /// The records (up to 1,000).
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<String>,
    /// Tag ids to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Tag ids to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Updated {
    /// Records whose tags changed.
    pub updated: usize,
}

pub const MAX_BULK: usize = 1000;

async fn bulk_tags<K: RecordKind>(
    access: OrgAccess,
    Json(body): Json<BulkTags>,
) -> AppResult<Json<Updated>> {
    access.require(Role::Member)?;
    if body.ids.is_empty() || body.ids.len() > MAX_BULK {
        return Err(AppError::field(
            "ids",
            format!("send 1 to {MAX_BULK} record ids"),
        ));
    }
    if body.add.is_empty() && body.remove.is_empty() {
        return Err(AppError::field("add", "send tags to add or remove"));
    }
    let updated = access
        .tenant
        .write(move |tx| {
            for list in [&body.add, &body.remove] {
                if !list.is_empty() {
                    tags::check_ids(tx, list)?;
                }
            }
            restrict::ensure_none_among(tx, K::LABEL_PLURAL, &body.ids)?;
            let mut n = 0;
            for id in &body.ids {
                if !store::exists(tx, K::TABLE, id)? {
                    continue;
                }
                let added = tags::set_on(tx, K::KIND, id, &body.add, true)?;
                let removed = tags::set_on(tx, K::KIND, id, &body.remove, false)?;
                n += usize::from(added || removed);
            }
            Ok(n)
        })
        .await?;
    Ok(Json(Updated { updated }))
}

/// Every route of kind `K`, with its OpenAPI description.
pub fn router<K: RecordKind>() -> OpenApiRouter<AppState> {
    let base = format!("/{}", K::PATH);
    let one = format!("{base}/{{id}}");
    OpenApiRouter::new()
        .routes((
            openapi::schemas::<K>(),
            openapi::collection::<K>(&base),
            get(list::<K>).post(create::<K>),
        ))
        .routes((Vec::new(), openapi::count::<K>(&base), get(count::<K>)))
        .routes((
            Vec::new(),
            openapi::export::<K>(&base),
            get(crate::record::export::export::<K>),
        ))
        .routes((
            Vec::new(),
            openapi::one::<K>(&one),
            get(get_one::<K>).patch(update::<K>).delete(remove::<K>),
        ))
        .routes((Vec::new(), openapi::restore::<K>(&one), post(restore::<K>)))
        .routes((Vec::new(), openapi::history::<K>(&one), get(history::<K>)))
        .routes((Vec::new(), openapi::timeline::<K>(&one), get(timeline::<K>)))
        .routes((Vec::new(), openapi::tags::<K>(&one), post(add_tags::<K>)))
        .routes((
            Vec::new(),
            openapi::untag::<K>(&one),
            delete(remove_tag::<K>),
        ))
        .routes((
            Vec::new(),
            openapi::bulk_tags::<K>(&base),
            post(bulk_tags::<K>),
        ))
        .routes((
            Vec::new(),
            openapi::bulk::<K>(&base),
            post(crate::record::bulk::bulk::<K>),
        ))
        .merge(K::extra_routes())
}
