//! Closing and reopening an organization, downloading its export, and the
//! platform admin's list of closing organizations (see `closure`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::auth::users;
use crate::backup::BackupKey;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::platform::access::{OrgAccess, OrgAccessEvenIfClosed};
use crate::platform::client_ip::ClientIp;
use crate::platform::closure::{self, Closure};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseOrg {
    /// The owner's password, to confirm.
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClosureStatus {
    /// Null while the organization is open.
    pub closure: Option<Closure>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClosureList {
    pub items: Vec<Closure>,
}

fn owner_user(access: &OrgAccess, what: &str) -> AppResult<users::User> {
    let user = access.caller.user().map_err(|_| {
        AppError::forbidden(format!("{what} needs a signed-in owner, not an API key"))
    })?;
    if access.role != Role::Owner {
        return Err(AppError::forbidden(format!(
            "only the organization's owners can {what}"
        )));
    }
    Ok(user.clone())
}

/// Close the organization (owners, with their password). It becomes
/// read-only for everyone, an export of its data is prepared for its owners,
/// and 30 days later it is erased unless an owner reopens it.
#[utoipa::path(post, path = "/close", tag = "organizations", request_body = CloseOrg,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = ClosureStatus), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "not an owner, or already closed (`org_closed`)"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn close_org(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    access: OrgAccess,
    Json(body): Json<CloseOrg>,
) -> AppResult<Json<ClosureStatus>> {
    let user = owner_user(&access, "close it")?;
    if !crate::platform::account::confirm_password(&state, &user, ip, body.password).await? {
        return Err(AppError::field("password", "not your password"));
    }
    let (org, now) = (access.org.clone(), clock::now());
    let actor = access.audit_actor();
    let closure = state
        .control
        .write(move |tx| {
            closure::close(tx, &org, &user.id, now)?;
            let closure = closure::of_org(tx, &org.id)?.map(|r| r.closure);
            // In the platform's log: the organization's own goes with it.
            audit::record(
                tx,
                &audit::Entry::new(actor, "org.closed")
                    .target("organization", &org.id, &org.slug)
                    .after(serde_json::to_value(&closure).unwrap_or_default()),
            )?;
            Ok(closure)
        })
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "org.closed").target(
                "organization",
                &access.org.id,
                &access.org.slug,
            ),
        )
        .await?;
    tracing::info!(org = %access.org.slug, "organization closed");
    // The export starts now; the closure job retries it if this fails.
    let st = state.clone();
    tokio::spawn(async move {
        if let Err(e) = closure::prepare_exports(&st).await {
            tracing::warn!(error = ?e, "preparing an export failed; the closure job will retry");
        }
    });
    Ok(Json(ClosureStatus { closure }))
}

/// Whether the organization is closed, when it will be erased, and its
/// export's state (every member).
#[utoipa::path(get, path = "/closure", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = ClosureStatus), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn closure_status(access: OrgAccess) -> AppResult<Json<ClosureStatus>> {
    Ok(Json(ClosureStatus {
        closure: access.closure,
    }))
}

/// Reopen a closed organization before it is erased (owners).
#[utoipa::path(post, path = "/reopen", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not closed, or past its erase date")))]
async fn reopen_org(
    State(state): State<AppState>,
    OrgAccessEvenIfClosed(access): OrgAccessEvenIfClosed,
) -> AppResult<StatusCode> {
    owner_user(&access, "reopen it")?;
    let Some(c) = &access.closure else {
        return Err(AppError::Conflict("the organization is not closed".into()));
    };
    if c.purge_at <= clock::now_stamp() {
        return Err(AppError::Conflict(
            "the organization is past its erase date and can no longer be reopened".into(),
        ));
    }
    let (org_id, slug) = (access.org.id.clone(), access.org.slug.clone());
    let actor = access.audit_actor();
    let file = state
        .control
        .write(move |tx| {
            let file = closure::reopen(tx, &org_id)?;
            audit::record(
                tx,
                &audit::Entry::new(actor, "org.reopened").target("organization", &org_id, &slug),
            )?;
            Ok(file)
        })
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "org.reopened").target(
                "organization",
                &access.org.id,
                &access.org.slug,
            ),
        )
        .await?;
    if let Some(file) = file {
        let path = closure::export_dir(&state.config.data_dir, &access.org.id).join(file);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(error = %e, "removing the export of a reopened organization");
        }
    }
    tracing::info!(org = %access.org.slug, "organization reopened");
    Ok(StatusCode::NO_CONTENT)
}

/// Download the closed organization's data (owners): a tar archive of its
/// SQLite database, its files and a manifest with SHA-256 checksums.
#[utoipa::path(get, path = "/closure/export", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, content_type = "application/x-tar", body = Vec<u8>),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not closed, or the export is not ready yet")))]
async fn download_export(State(state): State<AppState>, access: OrgAccess) -> AppResult<Response> {
    if access.role != Role::Owner {
        return Err(AppError::forbidden(
            "only the organization's owners download its export",
        ));
    }
    let org_id = access.org.id.clone();
    let row = state
        .control
        .read(move |c| closure::of_org(c, &org_id))
        .await?
        .ok_or_else(|| AppError::Conflict("the organization is not closed".into()))?;
    let (Some(file), Some(size)) = (row.export_file, row.closure.export.size) else {
        return Err(AppError::Conflict(
            "the export is still being prepared; try again in a few minutes".into(),
        ));
    };
    let path = closure::export_dir(&state.config.data_dir, &access.org.id).join(file);
    let key_file = state.config.backup.key_file(&state.config.data_dir);
    let name = format!(
        "{}-export-{}.tar",
        access.org.slug,
        &row.closure.closed_at[..10.min(row.closure.closed_at.len())]
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        decrypted_body(path, key_file),
    )
        .into_response())
}

/// A file kept encrypted with the backup key, decrypted as the client reads
/// it. A damaged file ends the download with an error (the connection
/// breaks) instead of a silently short file.
pub fn decrypted_body(path: std::path::PathBuf, key_file: std::path::PathBuf) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let result = (|| -> std::io::Result<()> {
            let key = BackupKey::load(&key_file, false).map_err(std::io::Error::other)?;
            let f = std::fs::File::open(&path)?;
            let mut plain =
                crate::backup::crypt::DecryptReader::new(std::io::BufReader::new(f), &key)
                    .map_err(std::io::Error::other)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = std::io::Read::read(&mut plain, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    return Ok(()); // the client went away
                }
            }
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "reading an export failed");
            let _ = tx.blocking_send(Err(e));
        }
    });
    // Fused: the compression layer polls a body once more after its end.
    Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

/// Closed organizations, their erase dates and exports (platform admins).
#[utoipa::path(get, path = "/admin/closures", tag = "organizations",
    responses((status = 200, body = ClosureList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn admin_closures(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<ClosureList>> {
    if !caller.user()?.is_platform_admin {
        return Err(AppError::forbidden(
            "only platform admins see closing organizations",
        ));
    }
    let now = clock::now();
    let items = state.control.read(move |c| closure::recent(c, now)).await?;
    Ok(Json(ClosureList { items }))
}

/// Routes under `/orgs/{org}`.
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(close_org))
        .routes(routes!(closure_status))
        .routes(routes!(reopen_org))
        .routes(routes!(download_export))
}

/// Routes at the API's root.
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(admin_closures))
}
