//! Owners ask for an archive of the whole organization, follow its
//! preparation and download it (Settings → Organization → Export everything).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::prepare;
use super::store::{self, Archive};
use crate::audit;
use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OrgArchiveList)]
pub struct ArchiveList {
    pub items: Vec<Archive>,
}

fn owners_only(access: &OrgAccess) -> AppResult<()> {
    if access.role != Role::Owner {
        return Err(AppError::forbidden(
            "only the organization's owners export all of its data",
        ));
    }
    Ok(())
}

/// Prepare an archive of everything the organization holds (owners). It is
/// made in the background; follow it with `GET /archives/{id}`.
#[utoipa::path(post, path = "/archives", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 202, body = Archive), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "an archive is already being prepared"),
              (status = 429, body = ErrorBody)))]
async fn request_archive(
    State(state): State<AppState>,
    access: OrgAccess,
) -> AppResult<(StatusCode, Json<Archive>)> {
    owners_only(&access)?;
    let (org_id, id, by, at) = (
        access.org.id.clone(),
        clock::new_id(),
        access.actor_person(),
        clock::now_stamp(),
    );
    let id2 = id.clone();
    let archive = state
        .control
        .write(move |c| {
            if store::preparing_in(c, &org_id)? {
                return Err(AppError::Conflict(
                    "an archive of this organization is already being prepared".into(),
                ));
            }
            store::request(c, &org_id, &id2, &by, &at)?;
            store::one(c, &org_id, &id2)?
                .map(|r| r.archive)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the archive row vanished")))
        })
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "org.exported").target(
                "archive",
                &id,
                &access.org.slug,
            ),
        )
        .await?;
    let st = state.clone();
    tokio::spawn(async move {
        if let Err(e) = prepare::prepare_pending(&st).await {
            tracing::warn!(error = ?e, "preparing an archive failed; the archives job looks again");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(archive)))
}

/// The organization's archives, newest first (owners).
#[utoipa::path(get, path = "/archives", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = ArchiveList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_archives(
    State(state): State<AppState>,
    access: OrgAccess,
) -> AppResult<Json<ArchiveList>> {
    owners_only(&access)?;
    let org_id = access.org.id.clone();
    let items = state
        .control
        .read(move |c| store::of_org(c, &org_id))
        .await?;
    Ok(Json(ArchiveList { items }))
}

async fn find(state: &AppState, access: &OrgAccess, id: String) -> AppResult<store::Row> {
    owners_only(access)?;
    let org_id = access.org.id.clone();
    state
        .control
        .read(move |c| store::one(c, &org_id, &id))
        .await?
        .ok_or_else(|| AppError::NotFound)
}

/// One archive: whether it is ready, its size, when it expires (owners).
#[utoipa::path(get, path = "/archives/{id}", tag = "organizations",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "archive id")),
    responses((status = 200, body = Archive), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_archive(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<Archive>> {
    Ok(Json(find(&state, &access, path.id).await?.archive))
}

/// Download a ready archive: a ZIP of NDJSON tables, files and a manifest
/// (`docs/org-export.md`), loadable with `harmonia import-org` (owners).
#[utoipa::path(get, path = "/archives/{id}/download", tag = "organizations",
    params(("org" = String, Path, description = "organization slug"),
           ("id" = String, Path, description = "archive id")),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "still being prepared, or it failed")))]
async fn download_archive(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Response> {
    let row = find(&state, &access, path.id).await?;
    let (Some(file), Some(size)) = (row.file, row.archive.size) else {
        return Err(AppError::Conflict(match row.archive.status.as_str() {
            "failed" => "preparing this archive failed; ask for a new one".into(),
            _ => "the archive is still being prepared; try again in a minute".into(),
        }));
    };
    let path = prepare::dir(&state.config.data_dir, &access.org.id).join(file);
    let key_file = state.config.backup.key_file(&state.config.data_dir);
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "org.export_downloaded").target(
                "archive",
                &row.archive.id,
                &access.org.slug,
            ),
        )
        .await?;
    let day = &row.archive.requested_at[..10.min(row.archive.requested_at.len())];
    let name = format!("{}-harmonia-{day}.zip", access.org.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        crate::platform::closure_routes::decrypted_body(path, key_file),
    )
        .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_archive, list_archives))
        .routes(routes!(get_archive))
        .routes(routes!(download_archive))
}
