//! Accepting an invitation to an organization. The token proves the person
//! was invited to *that* organization only: accepting activates that one
//! membership. Someone invited who has no account yet chooses a name and a
//! password; an account that already has a password must be signed in to
//! accept (a token is never a way into an existing account).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, Event};
use crate::auth::caller::CSRF_HEADER;
use crate::auth::roles::Role;
use crate::auth::users;
use crate::auth::{password, session, tokens};
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path};
use crate::platform::account::{SignedIn, signed_in};
use crate::platform::client_ip::RequestFrom;
use crate::platform::orgs;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct InviteOrg {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InviteInfo {
    pub organization: InviteOrg,
    pub email: String,
    pub role: Role,
    pub expires_at: String,
    /// True when the email already has an account: sign in, then accept.
    pub account_exists: bool,
}

struct Pending {
    info: InviteInfo,
    org_id: String,
    user_id: String,
}

fn pending(c: &Connection, token: &str) -> AppResult<Option<Pending>> {
    Ok(c.query_row(
        "SELECT o.slug, o.name, u.email, m.role, i.expires_at, u.password_hash IS NOT NULL,
                    o.id, u.id
             FROM invites i
             JOIN orgs o ON o.id = i.org_id
             JOIN users u ON u.id = i.user_id
             JOIN memberships m ON m.org_id = i.org_id AND m.user_id = i.user_id
             WHERE i.token_hash = ?1 AND i.accepted_at IS NULL AND i.expires_at > ?2
               AND m.status = 'invited'",
        params![tokens::sha256(token), clock::now_stamp()],
        |r| {
            Ok(Pending {
                info: InviteInfo {
                    organization: InviteOrg {
                        slug: r.get(0)?,
                        name: r.get(1)?,
                    },
                    email: r.get(2)?,
                    role: r.get(3)?,
                    expires_at: r.get(4)?,
                    account_exists: r.get(5)?,
                },
                org_id: r.get(6)?,
                user_id: r.get(7)?,
            })
        },
    )
    .optional()?)
}

/// Activates the membership and uses up the token.
fn activate(c: &Connection, token: &str, p: &Pending) -> AppResult<()> {
    c.execute(
        // Joined is when they accepted, not when they were invited.
        "UPDATE memberships SET status = 'active', created_at = ?3 WHERE org_id = ?1 AND user_id = ?2",
        params![p.org_id, p.user_id, clock::now_stamp()],
    )?;
    c.execute(
        "UPDATE invites SET accepted_at = ?2 WHERE token_hash = ?1",
        params![tokens::sha256(token), clock::now_stamp()],
    )?;
    Ok(())
}

/// What an invitation is for, so the page can say who invited you where.
#[utoipa::path(get, path = "/invites/{token}", tag = "auth",
    params(("token" = String, Path)),
    responses((status = 200, body = InviteInfo), (status = 404, body = ErrorBody)))]
async fn invite_info(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Json<InviteInfo>> {
    let found = state
        .control
        .read(move |c| pending(c, &token))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(found.info))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub token: String,
    /// For a new account: your name.
    #[serde(default)]
    pub name: Option<String>,
    /// For a new account: your password (10+ characters).
    #[serde(default)]
    pub password: Option<String>,
}

/// Accept an invitation. New accounts send name and password and are signed
/// in; an existing account sends only the token, signed in as itself (with
/// its CSRF token).
#[utoipa::path(post, path = "/invites/accept", tag = "auth", request_body = AcceptInvite,
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    headers: HeaderMap,
    Json(body): Json<AcceptInvite>,
) -> AppResult<Response> {
    // Look the token up before any password hashing: a bogus token costs nothing.
    let token = body.token.clone();
    let found = state
        .control
        .read(move |c| pending(c, &token))
        .await?
        .ok_or(AppError::NotFound)?;
    if found.info.account_exists {
        return accept_as_signed_in(&state, &headers, body.token, found).await;
    }
    let name = users::check_name("name", body.name.as_deref().unwrap_or(""))?;
    let pw = body.password.unwrap_or_default();
    password::check_strength("password", &pw)?;
    let hash = password::hash(pw).await?;
    let config = state.config.clone();
    let (user, session_token, org_id) = state
        .control
        .write(move |tx| {
            // Checked again inside the transaction: the first to accept wins.
            let p = pending(tx, &body.token)?.ok_or(AppError::NotFound)?;
            if p.info.account_exists {
                return Err(AppError::Conflict(
                    "this account was set up meanwhile; sign in to accept".into(),
                ));
            }
            users::set_password(tx, &p.user_id, &hash)?;
            users::set_name(tx, &p.user_id, &name)?;
            activate(tx, &body.token, &p)?;
            let t = session::create(tx, &p.user_id, &config, &from)?;
            activity::record(tx, &p.user_id, Event::SignedIn, &from, Some("invitation"))?;
            let (user, _) = users::by_id(tx, &p.user_id)?.ok_or(AppError::NotFound)?;
            Ok((user, t, p.org_id))
        })
        .await?;
    crate::platform::members::names_changed(&state, &org_id).await;
    signed_in(&state, StatusCode::OK, user, session_token, None).await
}

async fn accept_as_signed_in(
    state: &AppState,
    headers: &HeaderMap,
    token: String,
    found: Pending,
) -> AppResult<Response> {
    let cookie = session::cookie_value(headers, session::COOKIE_NAME).ok_or_else(|| {
        AppError::forbidden("this email has an account: sign in as it, then accept")
    })?;
    let config = state.config.clone();
    let c2 = cookie.clone();
    let me = state
        .control
        .read(move |c| session::find(c, &c2, &config))
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !tokens::constant_time_eq(sent, &tokens::csrf_for(&cookie)) {
        return Err(AppError::Csrf);
    }
    if me.user.id != found.user_id {
        return Err(AppError::forbidden(
            "this invitation is for another account; sign in as the invited email",
        ));
    }
    let org_id = state
        .control
        .write(move |tx| {
            let p = pending(tx, &token)?.ok_or(AppError::NotFound)?;
            activate(tx, &token, &p)?;
            Ok(p.org_id)
        })
        .await?;
    crate::platform::members::names_changed(state, &org_id).await;
    let uid = me.user.id.clone();
    let organizations = state.control.read(move |c| orgs::of_user(c, &uid)).await?;
    Ok(Json(SignedIn {
        user: me.user,
        organizations,
        csrf_token: tokens::csrf_for(&cookie),
    })
    .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite_info))
        .routes(routes!(accept_invite))
}
