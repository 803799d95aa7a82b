//! Reading the audit logs over HTTP: an organization's (`/orgs/{org}/audit`,
//! admin+) and the platform's (`/admin/audit`, platform admins), each as
//! filtered JSON pages and as a CSV export of the same filter. Nothing here
//! writes: no route edits or deletes an entry.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::query::{self, AuditItem, Filter};
use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorBody, Json, Problems, Query};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// An actor's id, or part of their email or key name.
    pub actor: Option<String>,
    /// An action (`member.invited`), or every action of an area with a
    /// trailing dot (`member.`).
    pub action: Option<String>,
    /// A target's id, or part of its name.
    pub target: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub since: Option<String>,
    /// Up to this time (RFC 3339), exclusive.
    pub until: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditItem>,
    pub next_cursor: Option<String>,
}

/// The longest filter text accepted.
const MAX_FILTER: usize = 200;

impl AuditParams {
    fn filter(&self) -> AppResult<(Filter, usize)> {
        let mut p = Problems::new();
        let text = |p: &mut Problems, name: &str, v: &Option<String>| {
            let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
            if v.chars().count() > MAX_FILTER || v.chars().any(char::is_control) {
                p.add(name, "at most 200 characters, no control characters");
                return None;
            }
            Some(v.to_string())
        };
        let time = |p: &mut Problems, name: &str, v: &Option<String>| {
            let v = v.as_deref().filter(|s| !s.is_empty())?;
            let t = crate::clock::parse_rfc3339(v);
            if t.is_none() {
                p.add(name, "an RFC 3339 time, e.g. 2026-01-31T00:00:00Z");
            }
            t
        };
        let before_seq = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match c.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    p.add("cursor", "not a cursor this server gave out");
                    None
                }
            },
        };
        let filter = Filter {
            actor: text(&mut p, "actor", &self.actor),
            action: text(&mut p, "action", &self.action),
            target: text(&mut p, "target", &self.target),
            since: time(&mut p, "since", &self.since),
            until: time(&mut p, "until", &self.until),
            before_seq,
        };
        let limit = match self.limit.as_deref() {
            None => 50,
            Some(l) => l.parse::<usize>().unwrap_or(0),
        };
        if !(1..=200).contains(&limit) {
            p.add("limit", "use 1 to 200");
        }
        p.into_result()?;
        Ok((filter, limit))
    }
}

async fn page(db: &Arc<Db>, params: &AuditParams) -> AppResult<Json<AuditPage>> {
    let (filter, limit) = params.filter()?;
    let mut items = db
        .read(move |c| query::list(c, &filter, limit as u32 + 1))
        .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| i.seq.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
}

/// At most this many rows in one export (a year of a busy organization).
const MAX_EXPORT: usize = 200_000;

async fn export(db: &Arc<Db>, params: &AuditParams, name: &str) -> AppResult<Response> {
    let (filter, _) = params.filter()?;
    let body = db
        .read(move |c| {
            let mut out = query::csv_header();
            let mut f = filter;
            let mut total = 0;
            loop {
                let batch = query::list(c, &f, 1000)?;
                for item in &batch {
                    out.push_str(&query::csv_row(item));
                }
                total += batch.len();
                match batch.last() {
                    Some(last) if batch.len() == 1000 && total < MAX_EXPORT => {
                        f.before_seq = Some(last.seq)
                    }
                    _ => break,
                }
            }
            Ok(out)
        })
        .await?;
    let disposition = format!(
        "attachment; filename=\"{name}-audit-{}.csv\"",
        &crate::clock::now_stamp()[..10]
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response())
}

/// The organization's audit log, newest first (admin+).
#[utoipa::path(get, path = "/audit", tag = "audit",
    params(("org" = String, Path, description = "organization slug"), AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn org_audit(
    access: OrgAccess,
    Query(params): Query<AuditParams>,
) -> AppResult<Json<AuditPage>> {
    access.require(Role::Admin)?;
    page(&access.tenant.db, &params).await
}

/// The organization's audit log as CSV, the same filter as `/audit` without
/// paging (admin+). Cells a spreadsheet would run as a formula are neutralised.
#[utoipa::path(get, path = "/audit/export", tag = "audit",
    params(("org" = String, Path, description = "organization slug"), AuditParams),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn org_audit_export(
    access: OrgAccess,
    Query(params): Query<AuditParams>,
) -> AppResult<Response> {
    access.require(Role::Admin)?;
    export(&access.tenant.db, &params, &access.org.slug).await
}

fn platform_admin(caller: &Caller) -> AppResult<()> {
    if caller.user()?.is_platform_admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only platform admins read the platform's audit log",
        ))
    }
}

/// The platform's audit log (sign-ins, account security, backups, closures),
/// newest first (platform admins).
#[utoipa::path(get, path = "/admin/audit", tag = "audit",
    params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn admin_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> AppResult<Json<AuditPage>> {
    platform_admin(&caller)?;
    page(&state.control, &params).await
}

/// The platform's audit log as CSV (platform admins).
#[utoipa::path(get, path = "/admin/audit/export", tag = "audit",
    params(AuditParams),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn admin_audit_export(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> AppResult<Response> {
    platform_admin(&caller)?;
    export(&state.control, &params, "platform").await
}

/// Nested under `/orgs/{org}`.
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(org_audit))
        .routes(routes!(org_audit_export))
}

pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_audit))
        .routes(routes!(admin_audit_export))
}
