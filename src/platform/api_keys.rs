//! API keys: a secret `hmn_…` shown once, stored as SHA-256, acting in one
//! organization for the person who made it, with its role capped by that
//! person's current role; it stops working when they leave.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::caller::{API_KEY_PREFIX, Caller};
use crate::auth::roles::Role;
use crate::auth::tokens;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: shown this once, never again. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    pub role: Role,
}

/// The live keys of an organization, newest first.
fn of_org(conn: &Connection, org_id: &str) -> AppResult<Vec<ApiKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, role, prefix, created_at, created_by, last_used_at FROM api_keys
         WHERE org_id = ?1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
    )?;
    let items = stmt
        .query_map([org_id], |r| {
            Ok(ApiKey {
                id: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
                prefix: r.get(3)?,
                created_at: r.get(4)?,
                created_by: r.get(5)?,
                last_used_at: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// Stores a new key (only the secret's hash).
fn insert(
    conn: &Connection,
    key: &ApiKey,
    org_id: &str,
    hash: &[u8],
    owner_user_id: &str,
) -> AppResult<()> {
    conn.execute(
        "INSERT INTO api_keys (id, org_id, name, role, prefix, key_hash, created_by, created_at,
           owner_user_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            key.id,
            org_id,
            key.name,
            key.role.as_str(),
            key.prefix,
            hash,
            key.created_by,
            key.created_at,
            owner_user_id
        ],
    )?;
    Ok(())
}

/// Revokes a live key of the organization; its name, or None if there is none.
fn revoke(conn: &Connection, org_id: &str, id: &str) -> AppResult<Option<String>> {
    let name: Option<String> = conn
        .query_row(
            "SELECT name FROM api_keys WHERE id = ?1 AND org_id = ?2 AND revoked_at IS NULL",
            params![id, org_id],
            |r| r.get(0),
        )
        .optional()?;
    if name.is_some() {
        conn.execute(
            "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND org_id = ?2",
            params![id, org_id, clock::now_stamp()],
        )?;
    }
    Ok(name)
}

/// API keys of the organization (admin+); secrets are never shown again.
#[utoipa::path(get, path = "/api-keys", tag = "api keys",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = ApiKeyList), (status = 403, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    access: OrgAccess,
) -> AppResult<Json<ApiKeyList>> {
    access.require(Role::Admin)?;
    let org_id = access.org.id.clone();
    let items = state.control.read(move |c| of_org(c, &org_id)).await?;
    Ok(Json(ApiKeyList { items }))
}

/// Create an API key (admin+). The response holds the secret, once.
#[utoipa::path(post, path = "/api-keys", tag = "api keys", request_body = CreateApiKey,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<CreateApiKey>,
) -> AppResult<(StatusCode, Json<CreatedApiKey>)> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let name = crate::values::text(&mut p, "name", Some(body.name), 100);
    if name.is_none() {
        p.add("name", "required");
    }
    p.into_result()?;
    let name = name.unwrap_or_default();
    if body.role > access.role {
        return Err(AppError::field(
            "role",
            "a key cannot have a higher role than yours",
        ));
    }
    let secret = format!("{API_KEY_PREFIX}{}", tokens::random_token());
    let key = ApiKey {
        id: clock::new_id(),
        name,
        role: body.role,
        prefix: secret.chars().take(12).collect(),
        created_at: clock::now_stamp(),
        created_by: match &access.caller {
            Caller::User { user, .. } => user.id.clone(),
            Caller::ApiKey(k) => format!("api_key:{}", k.id),
        },
        last_used_at: None,
    };
    let owner_user_id = match &access.caller {
        Caller::User { user, .. } => user.id.clone(),
        Caller::ApiKey(k) => k.owner_user_id.clone(),
    };
    let org_id = access.org.id.clone();
    let hash = tokens::sha256(&secret);
    let stored = key.clone();
    state
        .control
        .write(move |tx| insert(tx, &stored, &org_id, &hash, &owner_user_id))
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "api_key.created")
                .target("api_key", &key.id, &key.name)
                .after(serde_json::json!({"role": key.role, "prefix": key.prefix})),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, secret })))
}

/// Revoke an API key (admin+); it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api keys",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<StatusCode> {
    let id = path.id;
    access.require(Role::Admin)?;
    let org_id = access.org.id.clone();
    let key_id = id.clone();
    let name = state
        .control
        .write(move |tx| revoke(tx, &org_id, &id))
        .await?
        .ok_or(AppError::NotFound)?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "api_key.revoked")
                .target("api_key", &key_id, &name),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}
