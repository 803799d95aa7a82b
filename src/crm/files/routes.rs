//! The files API under `/orgs/{org}/files`, and the platform admin's
//! per-organization storage quota.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::blobs::Store;
use super::serve::{self, Content};
use super::{FileInfo, Target, names};
use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, ErrorBody, Json, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::state::AppState;

/// The organization's file storage.
pub fn store(state: &AppState, org_id: &str) -> Store {
    Store::new(state.tenants.dir(org_id), state.config.sync_full)
}

/// The organization's quota in bytes (a platform admin may have set one).
pub async fn quota(state: &AppState, org_id: &str) -> AppResult<i64> {
    let id = org_id.to_string();
    let q: Option<i64> = state
        .control
        .read(move |c| {
            Ok(c.query_row(
                "SELECT file_quota_bytes FROM orgs WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
        })
        .await?;
    Ok(q.unwrap_or(super::DEFAULT_QUOTA))
}

/// The form of an upload (`multipart/form-data`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The content; its part's file name is the file's name unless `name` is sent.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Records to attach it to, `kind:id` (repeat the part for several).
    record: Option<Vec<String>>,
    /// The file's name.
    name: Option<String>,
}

/// Upload a file (member+), attached to the records named by `record`
/// parts. Streamed: any size up to the limit (`--max-upload-mb`, default
/// 50 MiB) within the organization's quota; over either → 413 and nothing
/// is kept. Content already stored in the organization is stored once.
#[utoipa::path(post, path = "/files", tag = "files",
    params(("org" = String, Path, description = "organization slug")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = FileInfo), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 408, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 507, body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    access: OrgAccess,
    form: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<FileInfo>)> {
    access.require(Role::Member)?;
    let form = form.map_err(|_| {
        AppError::UnsupportedMediaType("send multipart/form-data with a file part".into())
    })?;
    let store = store(&state, &access.org.id);
    let quota = quota(&state, &access.org.id).await?;
    let got = super::upload::receive(
        form,
        &store,
        state.config.max_upload_bytes,
        state.config.request_timeout,
    )
    .await?;
    let actor = access.actor().stamp();
    let id = crate::clock::new_id();
    let (sha, content_type) = (got.blob.sha256.clone(), got.blob.content_type.clone());
    let placing = store.clone();
    let info = access
        .tenant
        .write(move |tx| {
            let mut upload = got.upload;
            super::check_targets(tx, "record", &got.targets)?;
            let is_new = !super::blob_exists(tx, &got.blob.sha256)?;
            if is_new {
                let used = super::usage(tx)?;
                if used.saturating_add(got.blob.size as i64) > quota {
                    return Err(AppError::TooLargeBecause(format!(
                        "the organization's file storage is full ({} of {} MiB used)",
                        used / (1024 * 1024),
                        quota / (1024 * 1024)
                    )));
                }
                placing.place(&mut upload, &got.blob.sha256)?;
            }
            super::insert(
                tx,
                &super::NewFile {
                    id: &id,
                    name: &got.name,
                    blob: &got.blob,
                    targets: &got.targets,
                    actor: &actor,
                },
                is_new,
            )?;
            super::get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    if !info.has_thumbnail && super::thumbs::is_image(&content_type) {
        let db = access.tenant.db.clone();
        tokio::spawn(async move {
            if let Err(e) = super::thumbs::make_for(&db, &store, &sha, &content_type).await {
                tracing::warn!(error = %e, "making a thumbnail failed; the files job retries");
            }
        });
    }
    Ok((StatusCode::CREATED, Json(info)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only files attached to this record: `kind:id`.
    pub record: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FilePage {
    pub items: Vec<FileInfo>,
    pub next_cursor: Option<String>,
}

fn cursor_of(f: &FileInfo) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}\n{}", f.created_at, f.id))
}

fn parse_cursor(c: &str) -> AppResult<(String, String)> {
    use base64::Engine;
    let bad = || AppError::field("cursor", "not a cursor this server gave out");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (a, b) = text.split_once('\n').ok_or_else(bad)?;
    Ok((a.to_string(), b.to_string()))
}

/// Files, newest first; with `record`, those attached to that record.
#[utoipa::path(get, path = "/files", tag = "files",
    params(("org" = String, Path, description = "organization slug"), ListParams),
    responses((status = 200, body = FilePage), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_files(access: OrgAccess, Query(p): Query<ListParams>) -> AppResult<Json<FilePage>> {
    let limit = crate::record::list::limit(p.limit.as_ref())?;
    let record = p
        .record
        .as_deref()
        .map(|r| Target::parse("record", r))
        .transpose()?;
    let after = p.cursor.as_deref().map(parse_cursor).transpose()?;
    let mut items = access
        .tenant
        .db
        .read(move |c| {
            super::list(
                c,
                record.as_ref().map(|t| (t.kind.as_str(), t.id.as_str())),
                after,
                limit + 1,
            )
        })
        .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Ok(Json(FilePage { items, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// Bytes stored (each distinct content once, the trash included).
    pub used_bytes: i64,
    pub quota_bytes: i64,
    /// The largest file one upload may carry.
    pub max_upload_bytes: u64,
}

/// Storage used by the organization's files, its quota and the upload limit.
#[utoipa::path(get, path = "/files/usage", tag = "files",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Usage), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn usage(State(state): State<AppState>, access: OrgAccess) -> AppResult<Json<Usage>> {
    let quota_bytes = quota(&state, &access.org.id).await?;
    let used_bytes = access.tenant.db.read(super::usage).await?;
    Ok(Json(Usage {
        used_bytes,
        quota_bytes,
        max_upload_bytes: state.config.max_upload_bytes,
    }))
}

/// A file: name, size, sniffed type, SHA-256, who added it and when, the
/// records it is attached to.
#[utoipa::path(get, path = "/files/{id}", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 200, body = FileInfo), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn get_file(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<Json<FileInfo>> {
    let id = path.id;
    let f = access.tenant.db.read(move |c| super::get(c, &id)).await?;
    f.map(Json).ok_or(AppError::NotFound)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilePatch {
    /// The new name (made safe: no paths, control or direction characters).
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

/// Rename a file (member+).
#[utoipa::path(patch, path = "/files/{id}", tag = "files", request_body = FilePatch,
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 200, body = FileInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn rename(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<FilePatch>,
) -> AppResult<Json<FileInfo>> {
    access.require(Role::Member)?;
    if body.name.chars().count() > names::MAX_NAME_BYTES {
        return Err(AppError::field("name", "at most 255 characters"));
    }
    let name =
        names::clean(&body.name).ok_or_else(|| AppError::field("name", "a file needs a name"))?;
    let (id, actor) = (path.id, access.actor().stamp());
    let f = access
        .tenant
        .write(move |tx| {
            super::rename(tx, &id, &name, &actor)?;
            super::get(tx, &id)
        })
        .await?;
    f.map(Json).ok_or(AppError::NotFound)
}

/// Move a file to the trash (member+): restorable for 30 days.
#[utoipa::path(delete, path = "/files/{id}", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_file(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<StatusCode> {
    access.require(Role::Member)?;
    let (id, actor) = (path.id, access.actor().stamp());
    access
        .tenant
        .write(move |tx| super::trash(tx, &id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a file back from the trash (member+).
#[utoipa::path(post, path = "/files/{id}/restore", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 200, body = FileInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<Json<FileInfo>> {
    access.require(Role::Member)?;
    let (id, actor) = (path.id, access.actor().stamp());
    let f = access
        .tenant
        .write(move |tx| {
            super::restore(tx, &id, &actor)?;
            super::get(tx, &id)
        })
        .await?;
    f.map(Json).ok_or(AppError::NotFound)
}

/// Attach a file to one more record (member+).
#[utoipa::path(post, path = "/files/{id}/links", tag = "files", request_body = Target,
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 200, body = FileInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn attach(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<Target>,
) -> AppResult<Json<FileInfo>> {
    access.require(Role::Member)?;
    let target = Target::parse("record", &format!("{}:{}", body.kind, body.id))?;
    let (id, actor) = (path.id, access.actor().stamp());
    let f = access
        .tenant
        .write(move |tx| {
            super::attach(tx, &id, &target, &actor)?;
            super::get(tx, &id)
        })
        .await?;
    f.map(Json).ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
pub struct LinkPath {
    #[allow(dead_code)]
    pub org: String,
    pub id: String,
    pub kind: String,
    pub record_id: String,
}

/// Detach a file from a record (member+); the file itself stays.
#[utoipa::path(delete, path = "/files/{id}/links/{kind}/{record_id}", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id"),
           ("kind" = String, Path, description = "the record's kind"),
           ("record_id" = String, Path, description = "the record's id")),
    responses((status = 200, body = FileInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn detach(access: OrgAccess, Path(p): Path<LinkPath>) -> AppResult<Json<FileInfo>> {
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let id = p.id;
    let f = access
        .tenant
        .write(move |tx| {
            super::detach(tx, &id, &p.kind, &p.record_id, &actor)?;
            super::get(tx, &id)
        })
        .await?;
    f.map(Json).ok_or(AppError::NotFound)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// Show it in the browser rather than download it: honoured only for
    /// PNG, JPEG, GIF, WebP and PDF (never SVG or HTML).
    pub inline: Option<bool>,
}

/// The file's bytes. `Content-Disposition: attachment` (inline only for
/// images and PDFs asked for with `inline=true`), the sniffed type,
/// `X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox`;
/// strong ETag (`If-None-Match` → 304) and single byte ranges (206, 416).
#[utoipa::path(get, path = "/files/{id}/content", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id"), ContentParams),
    responses((status = 200, description = "the content, as its sniffed type when that is a raster image, PDF or plain text",
               content((String = "application/octet-stream"), (String = "image/png"), (String = "image/jpeg"), (String = "image/gif"), (String = "image/webp"), (String = "application/pdf"), (String = "text/plain"))),
              (status = 206, description = "the requested range",
               content((String = "application/octet-stream"), (String = "image/png"), (String = "image/jpeg"), (String = "image/gif"), (String = "image/webp"), (String = "application/pdf"), (String = "text/plain"))),
              (status = 304, description = "not modified (If-None-Match)"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 416, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn content(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(p): Query<ContentParams>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let id = path.id;
    let f = access
        .tenant
        .db
        .read(move |c| super::stored(c, &id))
        .await?
        .ok_or(AppError::NotFound)?;
    let store = store(&state, &access.org.id);
    serve::respond(
        &headers,
        Content {
            path: store.blob(&f.sha256),
            size: f.size as u64,
            sha256: f.sha256,
            sniffed: f.content_type,
            name: f.name,
            inline: p.inline.unwrap_or(false),
        },
    )
    .await
}

/// A small preview of an image file (PNG or JPEG, at most 320 px, metadata
/// stripped). A file without one (not an image, not made yet, or refused)
/// answers 409: the file is there, its preview is not (404 would say the
/// file is missing).
#[utoipa::path(get, path = "/files/{id}/thumbnail", tag = "files",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "the file's id")),
    responses((status = 200, description = "the thumbnail", content((String = "image/jpeg"), (String = "image/png"))),
              (status = 304, description = "not modified (If-None-Match)"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "the file has no thumbnail", body = ErrorBody)))]
async fn thumbnail(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let id = path.id;
    let f = access
        .tenant
        .db
        .read(move |c| super::stored(c, &id))
        .await?
        .ok_or(AppError::NotFound)?;
    let (sha, name) = (f.sha256, f.name);
    let none = || {
        AppError::Conflict(
            "this file has no thumbnail: PNG, JPEG, WebP and GIF images get one a moment after upload"
                .into(),
        )
    };
    let thumb = f.thumb.filter(|t| !t.is_empty()).ok_or_else(none)?;
    let store = store(&state, &access.org.id);
    let path = store.thumb(&sha);
    // Gone from the disk: the files job makes it again.
    let size = tokio::fs::metadata(&path).await.map_err(|_| none())?.len();
    serve::respond(
        &headers,
        Content {
            path,
            size,
            // Distinct from the original's tag.
            sha256: format!("{sha}-thumb"),
            sniffed: thumb,
            name: format!("thumbnail-{name}"),
            inline: true,
        },
    )
    .await
}

/// Routes under `/orgs/{org}`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload reads its own body, streamed, with its own limit.
        .routes(routes!(upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(list_files))
        .routes(routes!(usage))
        .routes(routes!(get_file, rename, delete_file))
        .routes(routes!(restore))
        .routes(routes!(attach))
        .routes(routes!(detach))
        .routes(routes!(content))
        .routes(routes!(thumbnail))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaInput {
    /// Bytes the organization may store; null for the default (5 GiB).
    #[schema(minimum = 0)]
    pub bytes: Option<i64>,
}

#[derive(Deserialize)]
pub struct AdminOrgPath {
    pub org: String,
}

/// Set an organization's file storage quota (platform admins).
#[utoipa::path(put, path = "/admin/orgs/{org}/file-quota", tag = "files", request_body = QuotaInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Usage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn set_quota(
    State(state): State<AppState>,
    caller: Caller,
    Path(p): Path<AdminOrgPath>,
    Json(body): Json<QuotaInput>,
) -> AppResult<Json<Usage>> {
    if !caller.user()?.is_platform_admin {
        return Err(AppError::forbidden(
            "only platform admins set storage quotas",
        ));
    }
    if body.bytes.is_some_and(|b| b < 0) {
        return Err(AppError::field("bytes", "a number of bytes, 0 or more"));
    }
    let slug = p.org;
    let org = state
        .control
        .write(move |tx| {
            let org = crate::platform::orgs::by_slug(tx, &slug)?.ok_or(AppError::NotFound)?;
            tx.execute(
                "UPDATE orgs SET file_quota_bytes = ?2 WHERE id = ?1",
                rusqlite::params![org.id, body.bytes],
            )?;
            Ok(org)
        })
        .await?;
    let tenant = state.tenants.get(&org.id).await?;
    let used_bytes = tenant.db.read(super::usage).await?;
    Ok(Json(Usage {
        used_bytes,
        quota_bytes: quota(&state, &org.id).await?,
        max_upload_bytes: state.config.max_upload_bytes,
    }))
}

/// Routes at the API's root.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_quota))
}
