//! `/tags`: the organization's tags. Everyone reads and creates them; members
//! rename and merge; admins delete.

use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::list::Items;
use crate::record::tags::{self, Tag, TagInput};
use crate::state::AppState;

/// Every tag, by name, with how many records carry it.
#[utoipa::path(get, path = "/tags", tag = "tags",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Items<Tag>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_tags(access: OrgAccess) -> AppResult<Json<Items<Tag>>> {
    let items = access.tenant.db.read(tags::all).await?;
    Ok(Json(Items { items }))
}

/// Create a tag (member+).
#[utoipa::path(post, path = "/tags", tag = "tags", request_body = TagInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = Tag), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tag(
    access: OrgAccess,
    Json(input): Json<TagInput>,
) -> AppResult<(StatusCode, Json<Tag>)> {
    access.require(Role::Member)?;
    let (name, color) = tags::validate(input, true)?;
    let name = name.ok_or_else(|| AppError::field("name", "required"))?;
    let tag = access
        .tenant
        .write(move |tx| tags::create(tx, &name, color.as_deref()))
        .await?;
    Ok((StatusCode::CREATED, Json(tag)))
}

/// Rename or recolour a tag (member+).
#[utoipa::path(patch, path = "/tags/{id}", tag = "tags", request_body = TagInput,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Tag), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_tag(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(input): Json<TagInput>,
) -> AppResult<Json<Tag>> {
    access.require(Role::Member)?;
    let (name, color) = tags::validate(input, false)?;
    let tag = access
        .tenant
        .write(move |tx| tags::update(tx, &path.id, name.as_deref(), color.as_deref()))
        .await?;
    Ok(Json(tag))
}

/// Delete a tag from every record (admin+).
#[utoipa::path(delete, path = "/tags/{id}", tag = "tags",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_tag(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    access
        .tenant
        .write(move |tx| tags::delete(tx, &path.id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInto {
    /// The tag that stays.
    pub into: String,
}

/// Merge this tag into another (member+): its records get the other tag, and it goes.
#[utoipa::path(post, path = "/tags/{id}/merge", tag = "tags", request_body = MergeInto,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Tag), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn merge_tag(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<MergeInto>,
) -> AppResult<Json<Tag>> {
    access.require(Role::Member)?;
    let tag = access
        .tenant
        .write(move |tx| tags::merge(tx, &path.id, &body.into))
        .await?;
    Ok(Json(tag))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(update_tag, delete_tag))
        .routes(routes!(merge_tag))
}
