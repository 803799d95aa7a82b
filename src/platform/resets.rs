//! Password reset without email: an owner or admin makes a one-time link for
//! a member of their organization (valid one hour), and the member chooses a
//! new password with it. Using it ends every session of the account. The
//! email issue will send the same link by mail.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, Event};
use crate::auth::roles::Role;
use crate::auth::{password, reset, session, users};
use crate::error::{AppError, AppResult, ErrorBody, Json, Path};
use crate::platform::access::OrgAccess;
use crate::platform::client_ip::RequestFrom;
use crate::platform::members;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetLink {
    /// Give this to the person (it is shown only now). One use, one hour.
    pub reset_url: String,
    pub expires_at: String,
}

/// Make a one-time password reset link for a member (admin+; only owners
/// for owners; people only, not API keys). Earlier unused links stop working.
#[utoipa::path(post, path = "/members/{user_id}/reset-link", tag = "members",
    params(("org" = String, Path, description = "organization slug"), ("user_id" = String, Path)),
    responses((status = 201, body = ResetLink), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "the person has not accepted their invitation")))]
async fn create_link(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    access: OrgAccess,
    Path(path): Path<crate::paths::MemberPath>,
) -> AppResult<(StatusCode, Json<ResetLink>)> {
    access.require(Role::Admin)?;
    let me = access.caller.user()?.clone();
    let (org_id, caller_role, config) = (access.org.id.clone(), access.role, state.config.clone());
    let link = state
        .control
        .write(move |tx| {
            let member = members::find(tx, &org_id, &path.user_id)?.ok_or(AppError::NotFound)?;
            if member.role > caller_role {
                return Err(AppError::forbidden(
                    "only an owner makes reset links for owners",
                ));
            }
            let link = reset::create(tx, &member.user_id, &me.id, &config)?;
            activity::record(
                tx,
                &member.user_id,
                Event::PasswordResetLinkCreated,
                &from,
                Some(&me.email),
            )?;
            Ok(link)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetLink {
            reset_url: link.url,
            expires_at: link.expires_at,
        }),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetInfo {
    /// The account whose password the link resets.
    pub email: String,
    pub expires_at: String,
}

#[derive(Deserialize)]
struct TokenPath {
    token: String,
}

/// What a reset link is for, so the page can name the account.
#[utoipa::path(get, path = "/password-resets/{token}", tag = "auth",
    params(("token" = String, Path)),
    responses((status = 200, body = ResetInfo),
              (status = 404, body = ErrorBody, description = "unknown, used or expired")))]
async fn reset_info(
    State(state): State<AppState>,
    Path(TokenPath { token }): Path<TokenPath>,
) -> AppResult<Json<ResetInfo>> {
    let (_, email, expires_at) = state
        .control
        .read(move |c| reset::pending(c, &token))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(ResetInfo { email, expires_at }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptReset {
    #[schema(max_length = 128)]
    pub token: String,
    /// The new password (10+ characters).
    #[schema(max_length = 1024)]
    pub password: String,
}

/// Choose a new password with a reset link. Every session of the account
/// ends; sign in with the new password (and the second factor, if any).
#[utoipa::path(post, path = "/password-resets/accept", tag = "auth", request_body = AcceptReset,
    responses((status = 204), (status = 404, body = ErrorBody, description = "unknown, used or expired"),
              (status = 422, body = ErrorBody)))]
async fn accept_reset(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    Json(body): Json<AcceptReset>,
) -> AppResult<StatusCode> {
    // A bogus token costs no password hashing.
    let token = body.token.clone();
    if state
        .control
        .read(move |c| reset::pending(c, &token))
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    password::check_strength("password", &body.password)?;
    let hash = password::hash(body.password).await?;
    state
        .control
        .write(move |tx| {
            let user_id = reset::consume(tx, &body.token)?.ok_or(AppError::NotFound)?;
            users::set_password(tx, &user_id, &hash)?;
            session::revoke_all(tx, &user_id, None)?;
            activity::record(tx, &user_id, Event::PasswordReset, &from, None)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The member route, under `/orgs/{org}`.
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_link))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reset_info))
        .routes(routes!(accept_reset))
}
