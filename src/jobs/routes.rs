//! What the jobs look like from outside: `GET /admin/jobs` (platform admins),
//! `GET /orgs/{org}/jobs` (organization admins) and the jobs check of
//! `/readyz` (http/ready.rs), which fails while any job failed its last run.

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, JobRow, OrgJobRow};
use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub items: Vec<JobRow>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminJobList {
    /// The platform's own jobs.
    pub items: Vec<JobRow>,
    /// Every organization's jobs, as last reported by the runner.
    pub org_jobs: Vec<OrgJobRow>,
}

/// Every background job of the instance with its last run and next run
/// (platform admins).
#[utoipa::path(get, path = "/admin/jobs", tag = "jobs",
    responses((status = 200, body = AdminJobList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn admin_jobs(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<AdminJobList>> {
    if !caller.user()?.is_platform_admin {
        return Err(AppError::forbidden(
            "only platform admins see the instance's jobs",
        ));
    }
    let (items, org_jobs) = state
        .control
        .read(|c| Ok((store::list(c)?, store::org_jobs(c, false)?)))
        .await?;
    Ok(Json(AdminJobList { items, org_jobs }))
}

/// This organization's background jobs with their last run and next run (admin+).
#[utoipa::path(get, path = "/jobs", tag = "jobs",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = JobList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn org_jobs(access: OrgAccess) -> AppResult<Json<JobList>> {
    access.require(Role::Admin)?;
    let items = access.tenant.db.read(store::list).await?;
    Ok(Json(JobList { items }))
}

pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(admin_jobs))
}

/// Nested under `/orgs/{org}`.
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(org_jobs))
}

/// The jobs part of `/readyz`: `None` when no job failed its last run, else
/// which ones failed (names only: the answer is public).
pub async fn failing_jobs(state: &AppState) -> AppResult<Option<String>> {
    let (platform, orgs) = state
        .control
        .read(|c| Ok((store::failing(c)?, store::org_jobs(c, true)?)))
        .await?;
    Ok((!platform.is_empty() || !orgs.is_empty()).then(|| describe(&platform, &orgs)))
}

/// Which jobs failed, without their errors or organizations' names: this
/// answer is public, the details are for admins.
fn describe(platform: &[JobRow], orgs: &[OrgJobRow]) -> String {
    let mut parts = Vec::new();
    if !platform.is_empty() {
        let names: Vec<&str> = platform.iter().map(|j| j.name.as_str()).collect();
        parts.push(format!("platform: {}", names.join(", ")));
    }
    if !orgs.is_empty() {
        let mut names: Vec<&str> = orgs.iter().map(|o| o.job.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut slugs: Vec<&str> = orgs.iter().map(|o| o.org.as_str()).collect();
        slugs.dedup();
        parts.push(format!(
            "{} in {} organization(s)",
            names.join(", "),
            slugs.len()
        ));
    }
    format!(
        "{} job(s) failed their last run ({}); details: `harmonia jobs` or GET /api/v1/admin/jobs",
        platform.len() + orgs.len(),
        parts.join("; ")
    )
}
