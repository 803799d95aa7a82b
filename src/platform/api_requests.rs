//! The organization's API request log over HTTP (admin+): the last 30 days
//! of requests to its routes, newest first (Settings → API).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::requests::{self, ApiRequestItem, RequestFilter};
use crate::auth::roles::Role;
use crate::error::{AppResult, ErrorBody, Json, Problems, Query};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestParams {
    /// Only this API key's or person's requests (their id).
    pub actor: Option<String>,
    /// `api_key`: only requests made with API keys; `user`: only people's.
    pub via: Option<String>,
    /// `true`: only answers with status 400 or above.
    pub failed: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestPage {
    /// Newest first.
    pub items: Vec<ApiRequestItem>,
    pub next_cursor: Option<String>,
}

impl RequestParams {
    fn filter(&self) -> AppResult<(RequestFilter, u32)> {
        let mut p = Problems::new();
        let actor = self
            .actor
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if actor.is_some_and(|a| a.len() > 64 || a.chars().any(char::is_control)) {
            p.add("actor", "an API key's or person's id");
        }
        let min_status = match self.failed.as_deref() {
            None | Some("" | "false") => None,
            Some("true") => Some(400),
            Some(_) => {
                p.add("failed", "true or false");
                None
            }
        };
        let actor_kind = match self.via.as_deref() {
            None | Some("") => None,
            Some(v @ ("api_key" | "user")) => Some(v.to_string()),
            Some(_) => {
                p.add("via", "api_key or user");
                None
            }
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
        let limit = match self.limit.as_deref() {
            None => 50,
            Some(l) => l.parse::<u32>().unwrap_or(0),
        };
        if !(1..=200).contains(&limit) {
            p.add("limit", "use 1 to 200");
        }
        p.into_result()?;
        Ok((
            RequestFilter {
                actor: actor.map(str::to_string),
                actor_kind,
                min_status,
                before_seq,
            },
            limit,
        ))
    }
}

/// The organization's API requests of the last 30 days, newest first
/// (admin+): who (API key or person), method, route template, status,
/// latency and address.
#[utoipa::path(get, path = "/api-requests", tag = "audit",
    params(("org" = String, Path, description = "organization slug"), RequestParams),
    responses((status = 200, body = RequestPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    access: OrgAccess,
    Query(params): Query<RequestParams>,
) -> AppResult<Json<RequestPage>> {
    access.require(Role::Admin)?;
    let (filter, limit) = params.filter()?;
    // What is still in memory first, so the page is current.
    requests::flush(&state.api_requests, &state.control).await?;
    let org_id = access.org.id.clone();
    let mut items = state
        .control
        .read(move |c| requests::list(c, &org_id, &filter, limit + 1))
        .await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|i| i.seq.to_string())
    } else {
        None
    };
    Ok(Json(RequestPage { items, next_cursor }))
}

/// Nested under `/orgs/{org}`.
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_requests))
}
