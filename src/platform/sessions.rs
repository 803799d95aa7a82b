//! Where you are signed in and what happened to your account: the sessions
//! list with "sign out" per session and everywhere else, and the sign-in
//! activity (`auth::activity`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, ActivityItem, Event};
use crate::auth::caller::Caller;
use crate::auth::session::{self, SessionInfo};
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Query};
use crate::platform::client_ip::RequestFrom;
use crate::state::AppState;

/// The signed-in person behind a cookie (API keys have no sessions).
fn person(caller: Caller) -> AppResult<(crate::auth::users::User, String)> {
    match caller {
        Caller::User {
            user,
            session_token,
            ..
        } => Ok((user, session_token)),
        Caller::ApiKey(_) => Err(AppError::forbidden(
            "this needs a signed-in user, not an API key",
        )),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionInfo>,
}

/// Your live sessions: browser, system, address, when opened and last used,
/// and which one is this.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth",
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<SessionList>> {
    let (user, token) = person(caller)?;
    let config = state.config.clone();
    let items = state
        .control
        .read(move |c| session::list(c, &user.id, &token, &config))
        .await?;
    Ok(Json(SessionList { items }))
}

#[derive(Deserialize)]
struct SessionPath {
    id: String,
}

/// Sign out one of your sessions (a lost laptop). It stops working on its
/// next request. Another person's session id answers 404.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Path(SessionPath { id }): Path<SessionPath>,
) -> AppResult<StatusCode> {
    let (user, _) = person(caller)?;
    state
        .control
        .write(move |tx| {
            if !session::revoke_by_id(tx, &user.id, &id)? {
                return Err(AppError::NotFound);
            }
            activity::record(tx, &user.id, Event::SessionRevoked, &from, None)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// How many sessions ended.
    pub revoked: usize,
}

/// Sign out everywhere else: every session of yours but this one ends.
#[utoipa::path(post, path = "/auth/sessions/revoke-others", tag = "auth",
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn revoke_others(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
) -> AppResult<Json<Revoked>> {
    let (user, token) = person(caller)?;
    let revoked = state
        .control
        .write(move |tx| {
            let n = session::revoke_all(tx, &user.id, Some(&token))?;
            activity::record(tx, &user.id, Event::OtherSessionsRevoked, &from, None)?;
            Ok(n)
        })
        .await?;
    Ok(Json(Revoked { revoked }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// Events per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub items: Vec<ActivityItem>,
    pub next_cursor: Option<String>,
}

/// Your sign-in activity of the last 12 months, newest first: sign-ins,
/// failed attempts, second-factor failures, password and factor changes.
#[utoipa::path(get, path = "/auth/activity", tag = "auth", params(ActivityParams),
    responses((status = 200, body = ActivityPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_activity(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ActivityParams>,
) -> AppResult<Json<ActivityPage>> {
    let (user, _) = person(caller)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::field("limit", "use 1–200"));
    }
    let before = params.cursor;
    if let Some(c) = &before
        && uuid::Uuid::parse_str(c).is_err()
    {
        return Err(AppError::field(
            "cursor",
            "not a cursor this server gave out",
        ));
    }
    let mut items = state
        .control
        .read(move |c| activity::list(c, &user.id, before.as_deref(), limit + 1))
        .await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(Json(ActivityPage { items, next_cursor }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_others))
        .routes(routes!(list_activity))
}
