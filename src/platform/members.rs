//! Members of an organization and their roles; inviting people by email.
//! Rules: admins manage members; only owners make or unmake owners; the
//! last owner can neither leave nor be demoted; anyone may leave.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::auth::tokens;
use crate::auth::users;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

pub const INVITE_LIFETIME: time::Duration = time::Duration::days(7);

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `invited` until the person accepts the invitation and sets a password.
    pub status: String,
    pub joined_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub items: Vec<Member>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    #[schema(format = Email)]
    pub email: String,
    pub role: Role,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AddedMember {
    pub member: Member,
    /// A one-time link for someone without an account yet (valid 7 days); null
    /// when the person already had an account and was added at once.
    pub invite_url: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// Until an invitation is accepted, the person's chosen name (if they have an
/// account elsewhere on this server) is not shown to the inviting organization.
const SELECT: &str = "SELECT u.id, u.email,
       CASE WHEN m.status = 'invited' THEN substr(u.email, 1, instr(u.email, '@') - 1) ELSE u.name END,
       m.role, m.status = 'invited', m.created_at
     FROM memberships m JOIN users u ON u.id = m.user_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Member> {
    let invited: bool = r.get(4)?;
    Ok(Member {
        user_id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: r.get(3)?,
        status: if invited { "invited" } else { "active" }.into(),
        joined_at: r.get(5)?,
    })
}

pub fn find(conn: &Connection, org_id: &str, user_id: &str) -> AppResult<Option<Member>> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE m.org_id = ?1 AND m.user_id = ?2"),
            [org_id, user_id],
            from_row,
        )
        .optional()?)
}

/// An active member (one who has accepted, if they were invited).
/// The role of an active member; None for anyone else (pending included).
pub fn active_role(conn: &Connection, org_id: &str, user_id: &str) -> AppResult<Option<Role>> {
    Ok(conn
        .prepare_cached(
            "SELECT role FROM memberships WHERE org_id = ?1 AND user_id = ?2 AND status = 'active'",
        )?
        .query_row([org_id, user_id], |r| r.get::<_, Role>(0))
        .optional()?)
}

pub fn is_member(conn: &Connection, org_id: &str, user_id: &str) -> AppResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM memberships
                        WHERE org_id = ?1 AND user_id = ?2 AND status = 'active')",
        [org_id, user_id],
        |r| r.get(0),
    )?)
}

fn has_membership(conn: &Connection, org_id: &str, user_id: &str) -> AppResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = ?1 AND user_id = ?2)",
        [org_id, user_id],
        |r| r.get(0),
    )?)
}

/// Owners who can sign in: a pending invitation does not keep an organization owned.
fn owner_count(conn: &Connection, org_id: &str) -> AppResult<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM memberships WHERE org_id = ?1 AND role = 'owner' AND status = 'active'",
        [org_id],
        |r| r.get(0),
    )?)
}

/// Creates an invitation token for `user_id` and returns the secret.
pub fn create_invite(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    role: Role,
    by: &str,
) -> AppResult<String> {
    let token = tokens::random_token();
    conn.execute(
        "INSERT INTO invites (token_hash, org_id, user_id, role, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            tokens::sha256(&token),
            org_id,
            user_id,
            role.as_str(),
            by,
            clock::now_stamp(),
            clock::stamp_in(INVITE_LIFETIME)
        ],
    )?;
    Ok(token)
}

/// Everyone in the organization, by name.
fn all(conn: &Connection, org_id: &str) -> AppResult<Vec<Member>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE m.org_id = ?1 ORDER BY u.name COLLATE NOCASE, u.id"
    ))?;
    let items = stmt
        .query_map([org_id], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// Adds someone by email: an account joins at once, anyone else gets an
/// account-to-be, a pending membership and an invitation token.
fn add(
    tx: &Connection,
    org_id: &str,
    email: &str,
    role: Role,
    by: &str,
) -> AppResult<(Member, Option<String>)> {
    let user = match users::by_email(tx, email)? {
        Some((u, hash)) => (u, hash.is_some()),
        None => {
            let name = email.split('@').next().unwrap_or(email).to_string();
            (users::insert(tx, email, &name, None, false)?, false)
        }
    };
    let (user, active) = user;
    if has_membership(tx, org_id, &user.id)? {
        return Err(AppError::Conflict(format!(
            "{} is already a member or invited",
            user.email
        )));
    }
    // Someone with an account joins at once; anyone else is pending
    // until they accept this organization's invitation.
    tx.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            org_id,
            user.id,
            role.as_str(),
            clock::now_stamp(),
            if active { "active" } else { "invited" }
        ],
    )?;
    let token = if active {
        None
    } else {
        Some(create_invite(tx, org_id, &user.id, role, by)?)
    };
    let member = find(tx, org_id, &user.id)?.ok_or(AppError::NotFound)?;
    Ok((member, token))
}

/// Changes a member's role: only owners give or take the owner role, and
/// the last owner stays an owner.
fn set_role(
    tx: &Connection,
    org_id: &str,
    user_id: &str,
    role: Role,
    caller_role: Role,
) -> AppResult<(Role, Member)> {
    let current = find(tx, org_id, user_id)?.ok_or(AppError::NotFound)?;
    if (role == Role::Owner || current.role == Role::Owner) && caller_role < Role::Owner {
        return Err(AppError::forbidden(
            "only owners give or take the owner role",
        ));
    }
    if current.role == Role::Owner
        && current.status == "active"
        && role != Role::Owner
        && owner_count(tx, org_id)? <= 1
    {
        return Err(AppError::Conflict(
            "the last owner cannot be demoted; make someone else owner first".into(),
        ));
    }
    tx.execute(
        "UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
        params![org_id, user_id, role.as_str()],
    )?;
    Ok((
        current.role,
        find(tx, org_id, user_id)?.ok_or(AppError::NotFound)?,
    ))
}

/// Removes a member with their invitations and API keys; only owners
/// remove owners, and the last owner cannot leave.
fn remove(
    tx: &Connection,
    org_id: &str,
    user_id: &str,
    is_self: bool,
    caller_role: Role,
) -> AppResult<Member> {
    let current = find(tx, org_id, user_id)?.ok_or(AppError::NotFound)?;
    if current.role == Role::Owner {
        if !is_self && caller_role < Role::Owner {
            return Err(AppError::forbidden("only owners remove owners"));
        }
        if current.status == "active" && owner_count(tx, org_id)? <= 1 {
            return Err(AppError::Conflict(
                "the last owner cannot leave; make someone else owner first".into(),
            ));
        }
    }
    tx.execute(
        "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
        [org_id, user_id],
    )?;
    tx.execute(
        "DELETE FROM invites WHERE org_id = ?1 AND user_id = ?2",
        [org_id, user_id],
    )?;
    // Their keys would stop working anyway; revoke them so that being
    // added again later does not bring them back.
    tx.execute(
        "UPDATE api_keys SET revoked_at = ?3
         WHERE org_id = ?1 AND owner_user_id = ?2 AND revoked_at IS NULL",
        rusqlite::params![org_id, user_id, clock::now_stamp()],
    )?;
    Ok(current)
}

fn caller_id(caller: &Caller) -> String {
    match caller {
        Caller::User { user, .. } => user.id.clone(),
        Caller::ApiKey(k) => format!("api_key:{}", k.id),
    }
}

/// Everyone in the organization (any role may see who their colleagues are).
#[utoipa::path(get, path = "/members", tag = "members",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    access: OrgAccess,
) -> AppResult<Json<MemberList>> {
    let org_id = access.org.id.clone();
    let items = state.control.read(move |c| all(c, &org_id)).await?;
    Ok(Json(MemberList { items }))
}

/// Copies members' names into the organization's own database after someone
/// joined or renamed themselves (lists sort by owner name there). The change
/// itself is done; a failed copy is retried when the organization next opens.
pub async fn names_changed(state: &AppState, org_id: &str) {
    if let Err(e) = state.tenants.people_changed(org_id).await {
        tracing::warn!(org = %org_id, error = %e, "copying members' names failed");
    }
}

/// Add someone by email (admin+). Someone without an account gets an invite link.
#[utoipa::path(post, path = "/members", tag = "members", request_body = AddMember,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = AddedMember), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<AddMember>,
) -> AppResult<(StatusCode, Json<AddedMember>)> {
    access.require(Role::Admin)?;
    if body.role == Role::Owner {
        access.require(Role::Owner)?;
    }
    let email = users::normalize_email("email", &body.email)?;
    let org_id = access.org.id.clone();
    let by = caller_id(&access.caller);
    let role = body.role;
    let (member, token) = state
        .control
        .write(move |tx| add(tx, &org_id, &email, role, &by))
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "member.invited")
                .target("member", &member.user_id, &member.email)
                .after(json!({"role": member.role, "status": member.status})),
        )
        .await?;
    names_changed(&state, &access.org.id).await;
    let invite_url = token.map(|t| state.config.link(&format!("/invite?token={t}")));
    emit_event(&access, "member.added", serde_json::to_value(&member).ok()).await;
    Ok((
        StatusCode::CREATED,
        Json(AddedMember { member, invite_url }),
    ))
}

/// Change a member's role (admin+; only owners give or take the owner role).
#[utoipa::path(patch, path = "/members/{user_id}", tag = "members", request_body = ChangeRole,
    params(("org" = String, Path, description = "organization slug"), ("user_id" = String, Path)),
    responses((status = 200, body = Member), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_role(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::MemberPath>,
    Json(body): Json<ChangeRole>,
) -> AppResult<Json<Member>> {
    let user_id = path.user_id;
    access.require(Role::Admin)?;
    let org_id = access.org.id.clone();
    let caller_role = access.role;
    let (before, member) = state
        .control
        .write(move |tx| set_role(tx, &org_id, &user_id, body.role, caller_role))
        .await?;
    if before != member.role {
        access
            .audit(
                audit::Entry::new(access.audit_actor(), "member.role_changed")
                    .target("member", &member.user_id, &member.email)
                    .before(json!({"role": before}))
                    .after(json!({"role": member.role})),
            )
            .await?;
    }
    Ok(Json(member))
}

/// Remove a member (admin+, or yourself to leave). The last owner cannot leave.
#[utoipa::path(delete, path = "/members/{user_id}", tag = "members",
    params(("org" = String, Path, description = "organization slug"), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::MemberPath>,
) -> AppResult<StatusCode> {
    let user_id = path.user_id;
    let is_self = matches!(&access.caller, Caller::User { user, .. } if user.id == user_id);
    if !is_self {
        access.require(Role::Admin)?;
    }
    let org_id = access.org.id.clone();
    let caller_role = access.role;
    let gone = state
        .control
        .write({
            let user_id = user_id.clone();
            move |tx| remove(tx, &org_id, &user_id, is_self, caller_role)
        })
        .await?;
    let action = if is_self {
        "member.left"
    } else {
        "member.removed"
    };
    access
        .audit(
            audit::Entry::new(access.audit_actor(), action)
                .target("member", &gone.user_id, &gone.email)
                .before(json!({"role": gone.role, "status": gone.status})),
        )
        .await?;
    emit_event(
        &access,
        "member.removed",
        Some(serde_json::json!({"user_id": user_id, "left": is_self})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The webhook event of a membership change. Memberships live in the
/// control database, so the event follows in the organization's own
/// transaction right after the change commits; a failure is logged.
async fn emit_event(access: &OrgAccess, event_type: &'static str, data: Option<serde_json::Value>) {
    let data = data.unwrap_or(serde_json::Value::Null);
    let done = access
        .tenant
        .write(move |tx| crate::events::emit(tx, event_type, || Ok(data)))
        .await;
    if let Err(e) = done {
        tracing::error!(org = %access.org.id, error = %e, "writing a membership event failed");
    }
}

/// A new invitation for someone still pending: the earlier links stop
/// working. 404 for anyone not invited here; 409 once they have joined.
fn reissue(tx: &Connection, org_id: &str, user_id: &str, by: &str) -> AppResult<String> {
    let pending: Option<(String, String)> = tx
        .query_row(
            "SELECT status, role FROM memberships WHERE org_id = ?1 AND user_id = ?2",
            params![org_id, user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((status, role)) = pending else {
        return Err(AppError::NotFound);
    };
    if status != "invited" {
        return Err(AppError::Conflict(
            "they have already joined; there is nothing to re-send".into(),
        ));
    }
    tx.execute(
        "UPDATE invites SET expires_at = ?3
         WHERE org_id = ?1 AND user_id = ?2 AND accepted_at IS NULL AND expires_at > ?3",
        params![org_id, user_id, clock::now_stamp()],
    )?;
    let role = Role::parse(&role)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored role {role} does not parse")))?;
    create_invite(tx, org_id, user_id, role, by)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewInvite {
    /// The new one-time link (valid 7 days); earlier links no longer work.
    pub invite_url: String,
}

/// Make a new invitation link for someone who has not joined yet (admin+).
#[utoipa::path(post, path = "/members/{user_id}/invite", tag = "members",
    params(("org" = String, Path, description = "organization slug"), ("user_id" = String, Path)),
    responses((status = 200, body = NewInvite), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "already joined")))]
async fn reissue_invite(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::MemberPath>,
) -> AppResult<Json<NewInvite>> {
    access.require(Role::Admin)?;
    let (org_id, user_id, by) = (
        access.org.id.clone(),
        path.user_id,
        caller_id(&access.caller),
    );
    let target = user_id.clone();
    let token = state
        .control
        .write(move |tx| reissue(tx, &org_id, &user_id, &by))
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "member.invite_reissued")
                .target("member", &target, &target),
        )
        .await?;
    Ok(Json(NewInvite {
        invite_url: state.config.link(&format!("/invite?token={token}")),
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, add_member))
        .routes(routes!(change_role, remove_member))
        .routes(routes!(reissue_invite))
}
