//! Saved views: a named list of a kind — filter, sorts, columns, layout —
//! personal (only its owner sees it) or shared with the organization (admins
//! manage those), plus each user's default view per kind.

use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::catalogue::Catalogue;
use crate::record::filter::Filter;
use crate::record::list::Items;
use crate::record::{custom, kind, routes::me};
use crate::state::AppState;

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// A field key (`name`, `stage`, `custom.plan`, `tags`).
    pub field: String,
    /// Width in pixels.
    pub width: Option<u32>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct View {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// personal or shared.
    pub scope: String,
    /// The filter language's JSON, or null.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// As the list's `sort` parameter, e.g. `-updated,name`.
    pub sort: Option<String>,
    /// Visible columns in order.
    pub columns: Vec<Column>,
    /// table, or kanban (grouped by `group_by`, a select field).
    pub layout: String,
    pub group_by: Option<String>,
    pub position: i64,
    /// This user's default view for the kind.
    pub is_default: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    pub kind: Option<String>,
    pub name: Option<String>,
    /// personal (default) or shared (admin+).
    pub scope: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Option<Value>>,
    /// null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub sort: Option<Option<String>>,
    pub columns: Option<Vec<Column>>,
    pub layout: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub group_by: Option<Option<String>>,
    pub position: Option<i64>,
    /// Make this the caller's default view for its kind (false: stop).
    pub is_default: Option<bool>,
}

const COLUMNS: &str = "v.id, v.kind, v.name, v.owner_id, v.filter, v.sort, v.columns, v.layout,
    v.group_by, v.position, d.view_id IS NOT NULL, v.created_by, v.created_at, v.updated_at";
const FROM: &str = "views v LEFT JOIN view_defaults d ON d.view_id = v.id AND d.user_id = ?1";

/// A field that was sent, null included (`Some(None)`: clear it); absent
/// fields stay `None` through `#[serde(default)]`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<View> {
    let json = |i: usize| -> rusqlite::Result<Option<Value>> {
        let s: Option<String> = r.get(i)?;
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
            })
    };
    let owner: Option<String> = r.get(3)?;
    let columns = json(6)?.unwrap_or(Value::Array(Vec::new()));
    Ok(View {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        scope: if owner.is_some() {
            "personal"
        } else {
            "shared"
        }
        .into(),
        filter: json(4)?,
        sort: r.get(5)?,
        columns: serde_json::from_value(columns).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, e.into())
        })?,
        layout: r.get(7)?,
        group_by: r.get(8)?,
        position: r.get(9)?,
        is_default: r.get(10)?,
        created_by: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// The views a user sees: the shared ones and their own.
fn visible(conn: &Connection, user: &str, kind: Option<&str>) -> AppResult<Vec<View>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE (v.owner_id IS NULL OR v.owner_id = ?1) AND (?2 IS NULL OR v.kind = ?2)
         ORDER BY v.kind, v.position, v.created_at"
    ))?;
    let rows = stmt.query_map(params![user, kind], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One view the user sees (shared, or their own); 404 otherwise.
pub fn one(conn: &Connection, user: &str, id: &str) -> AppResult<View> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE v.id = ?2 AND (v.owner_id IS NULL OR v.owner_id = ?1)"
    ))?
    .query_row(params![user, id], from_row)
    .optional()?
    .ok_or(AppError::NotFound)
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// Checks a view's filter, sort, columns and grouping against its kind's fields.
fn check(conn: &Connection, v: &View) -> AppResult<()> {
    let k = kind(&v.kind).ok_or_else(|| AppError::field("kind", "no such kind"))?;
    let fields = custom::of_kind(conn, k.name())?;
    let cat = Catalogue {
        builtins: k.fields(),
        custom: &fields,
    };
    let mut p = Problems::new();
    if let Some(f) = &v.filter {
        let ctx = crate::record::filter::Context {
            me: Some(String::new()),
            now: clock::now(),
        };
        let mut count = 0;
        if let Err(AppError::Validation { fields, .. }) =
            Filter::from_json(f, 0, &mut count).and_then(|f| f.compile(&cat, &ctx).map(|_| ()))
        {
            p.add("filter", fields.into_values().next().unwrap_or_default());
        }
    }
    if let Some(s) = &v.sort
        && crate::record::sort::Sorts::parse(Some(s), &cat).is_err()
    {
        p.add("sort", "names a field that cannot be sorted by");
    }
    for (i, c) in v.columns.iter().enumerate() {
        let known = c.field == "tags"
            || cat.resolve(&c.field).is_ok()
            || k.fields().iter().any(|b| b.key == c.field);
        if !known {
            p.add(format!("columns[{i}].field"), "no such field");
        }
    }
    if !matches!(v.layout.as_str(), "table" | "kanban") {
        p.add("layout", "use table or kanban");
    }
    if v.layout == "kanban" {
        let ok = v
            .group_by
            .as_deref()
            .and_then(|g| cat.resolve(g).ok())
            .is_some_and(|f| f.ty == crate::record::FieldType::Select);
        if !ok {
            p.add("group_by", "a kanban groups by a select field");
        }
    }
    if v.columns.len() > 100 {
        p.add("columns", "use at most 100 columns");
    }
    p.into_result()
}

fn apply(v: &mut View, input: ViewInput, p: &mut Problems) {
    let sent = input.name.is_some();
    match crate::values::text(p, "name", input.name, 100) {
        Some(n) => v.name = n,
        None if sent => p.add("name", "required"),
        None => {}
    }
    if let Some(f) = input.filter {
        v.filter = f.filter(|f| !f.is_null());
    }
    if let Some(s) = input.sort {
        v.sort = s.filter(|s| !s.trim().is_empty());
    }
    if let Some(c) = input.columns {
        v.columns = c;
    }
    if let Some(l) = input.layout {
        v.layout = l;
    }
    if let Some(g) = input.group_by {
        v.group_by = g.filter(|g| !g.is_empty());
    }
    if let Some(pos) = input.position {
        v.position = pos;
    }
}

fn save(conn: &Connection, v: &View, owner: Option<&str>, creating: bool) -> AppResult<()> {
    let filter = v.filter.as_ref().map(to_json).transpose()?;
    let columns = to_json(&v.columns)?;
    let now = clock::now_stamp();
    if creating {
        conn.execute(
            "INSERT INTO views (id, kind, name, owner_id, filter, sort, columns, layout, group_by, position,
               created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
            params![v.id, v.kind, v.name, owner, filter, v.sort, columns, v.layout, v.group_by, v.position, v.created_by, now],
        )?;
    } else {
        conn.execute(
            "UPDATE views SET name = ?2, filter = ?3, sort = ?4, columns = ?5, layout = ?6, group_by = ?7,
               position = ?8, updated_at = ?9 WHERE id = ?1",
            params![v.id, v.name, filter, v.sort, columns, v.layout, v.group_by, v.position, now],
        )?;
    }
    Ok(())
}

fn set_default(conn: &Connection, user: &str, v: &View, on: bool) -> AppResult<()> {
    if on {
        conn.execute(
            "INSERT INTO view_defaults (user_id, kind, view_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, kind) DO UPDATE SET view_id = excluded.view_id",
            params![user, v.kind, v.id],
        )?;
    } else {
        conn.execute(
            "DELETE FROM view_defaults WHERE user_id = ?1 AND view_id = ?2",
            params![user, v.id],
        )?;
    }
    Ok(())
}

fn remove(conn: &Connection, id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM views WHERE id = ?1", [id])?;
    Ok(())
}

fn may_change(access: &OrgAccess, v: &View) -> AppResult<()> {
    if v.scope == "shared" {
        access.require(Role::Admin)
    } else {
        Ok(())
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ViewParams {
    /// Only views of this kind.
    pub kind: Option<String>,
}

/// The caller's views: the organization's shared ones and their own.
#[utoipa::path(get, path = "/views", tag = "views",
    params(("org" = String, Path, description = "organization slug"), ViewParams),
    responses((status = 200, body = Items<View>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_views(
    access: OrgAccess,
    Query(params): Query<ViewParams>,
) -> AppResult<Json<Items<View>>> {
    let user = me(&access).id.unwrap_or_default();
    let items = access
        .tenant
        .db
        .read(move |c| visible(c, &user, params.kind.as_deref()))
        .await?;
    Ok(Json(Items { items }))
}

/// Save a view (personal: anyone; shared: admin+).
#[utoipa::path(post, path = "/views", tag = "views", request_body = ViewInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = View), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_view(
    access: OrgAccess,
    Json(input): Json<ViewInput>,
) -> AppResult<(StatusCode, Json<View>)> {
    let user = me(&access).id.unwrap_or_default();
    let mut p = Problems::new();
    let kind_name = input.kind.clone().unwrap_or_default();
    if kind(&kind_name).is_none() {
        p.add("kind", "no such kind");
    }
    if input.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        p.add("name", "required");
    }
    let scope = input.scope.clone().unwrap_or_else(|| "personal".into());
    if !matches!(scope.as_str(), "personal" | "shared") {
        p.add("scope", "use personal or shared");
    }
    let is_default = input.is_default.unwrap_or(false);
    let mut v = View {
        id: clock::new_id(),
        kind: kind_name,
        name: String::new(),
        scope,
        filter: None,
        sort: None,
        columns: Vec::new(),
        layout: "table".into(),
        group_by: None,
        position: 0,
        is_default: false,
        created_by: access.actor().stamp(),
        created_at: String::new(),
        updated_at: String::new(),
    };
    apply(&mut v, input, &mut p);
    p.into_result()?;
    may_change(&access, &v)?;
    let owner = (v.scope == "personal").then(|| user.clone());
    let view = access
        .tenant
        .write(move |tx| {
            check(tx, &v)?;
            save(tx, &v, owner.as_deref(), true)?;
            if is_default {
                set_default(tx, &user, &v, true)?;
            }
            one(tx, &user, &v.id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Change a view (its owner; shared ones admin+). `is_default` is the caller's own choice.
#[utoipa::path(patch, path = "/views/{id}", tag = "views", request_body = ViewInput,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = View), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_view(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(input): Json<ViewInput>,
) -> AppResult<Json<View>> {
    let user = me(&access).id.unwrap_or_default();
    let lookup = (user.clone(), path.id.clone());
    let mut v = access
        .tenant
        .db
        .read(move |c| one(c, &lookup.0, &lookup.1))
        .await?;
    let only_default = input.name.is_none()
        && input.filter.is_none()
        && input.sort.is_none()
        && input.columns.is_none()
        && input.layout.is_none()
        && input.group_by.is_none()
        && input.position.is_none()
        && input.scope.is_none()
        && input.kind.is_none();
    if !only_default {
        may_change(&access, &v)?;
    }
    let mut p = Problems::new();
    if input.kind.as_deref().is_some_and(|k| k != v.kind) {
        p.add("kind", "a view's kind cannot change");
    }
    if input.scope.as_deref().is_some_and(|s| s != v.scope) {
        p.add("scope", "save it as a new view to change who sees it");
    }
    let is_default = input.is_default;
    apply(&mut v, input, &mut p);
    p.into_result()?;
    let view = access
        .tenant
        .write(move |tx| {
            check(tx, &v)?;
            if !only_default {
                save(tx, &v, None, false)?;
            }
            if let Some(d) = is_default {
                set_default(tx, &user, &v, d)?;
            }
            one(tx, &user, &v.id)
        })
        .await?;
    Ok(Json(view))
}

/// Delete a view (its owner; shared ones admin+).
#[utoipa::path(delete, path = "/views/{id}", tag = "views",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_view(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<StatusCode> {
    let user = me(&access).id.unwrap_or_default();
    let lookup = (user.clone(), path.id.clone());
    let v = access
        .tenant
        .db
        .read(move |c| one(c, &lookup.0, &lookup.1))
        .await?;
    may_change(&access, &v)?;
    access.tenant.write(move |tx| remove(tx, &v.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_views, create_view))
        .routes(routes!(update_view, delete_view))
}
