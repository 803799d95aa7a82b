//! What the jobs look like from outside: `GET /admin/jobs` (platform admins),
//! `GET /orgs/{org}/jobs` (organization admins) and `/readyz`, which answers
//! 503 while any job failed its last run, so a monitor notices.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

#[derive(Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Readiness: the control database answers and no job failed its last run.
/// 503 names the failing checks; a job's failure clears with its next success.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let found = state
        .control
        .read(|c| Ok((store::failing(c)?, store::org_jobs(c, true)?)))
        .await;
    let checks = match found {
        Err(e) => {
            tracing::error!(error = %e, "readiness: the control database does not answer");
            vec![Check {
                name: "database",
                ok: false,
                detail: Some("the control database does not answer".into()),
            }]
        }
        Ok((platform, orgs)) => {
            let failed = platform.len() + orgs.len();
            vec![
                Check {
                    name: "database",
                    ok: true,
                    detail: None,
                },
                Check {
                    name: "jobs",
                    ok: failed == 0,
                    detail: (failed > 0).then(|| describe(&platform, &orgs)),
                },
            ]
        }
    };
    let failing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if failing.is_empty() { "ok" } else { "unavailable" },
        "failing": failing,
        "checks": checks,
    });
    (status, axum::Json(body)).into_response()
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
