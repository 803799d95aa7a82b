//! Inbound webhook routes: admins manage endpoints under
//! `/orgs/{org}/inbound-hooks`; senders POST to `/hooks/{endpoint_id}`
//! (no session, no key: the signature is the credential).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::inbound::{self, Accepted, secret_purpose};
use super::inbound_store::{self as store, InboundHook};
use super::sign;
use crate::audit;
use crate::auth::roles::Role;
use crate::auth::tokens;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::state::AppState;
use crate::vault::{Vault, last4};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewInboundHook {
    /// What sends to it (a website form, an integration).
    pub name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct InboundHookPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InboundHookList {
    pub items: Vec<InboundHook>,
}

/// A new endpoint with its URL path and signing secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedInboundHook {
    #[serde(flatten)]
    pub hook: InboundHook,
    /// Where senders POST (`/api/v1/hooks/{id}`).
    pub url: String,
    pub secret: String,
}

#[derive(Deserialize)]
pub struct EndpointPath {
    /// The endpoint's id.
    pub endpoint_id: String,
}

fn check_name(p: &mut Problems, name: &str) -> String {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        p.add("name", "1 to 100 characters");
    }
    name
}

/// The organization's inbound webhook endpoints (admin+).
#[utoipa::path(get, path = "/inbound-hooks", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = InboundHookList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    access: OrgAccess,
) -> AppResult<Json<InboundHookList>> {
    access.require(Role::Admin)?;
    let org = access.org.id.clone();
    let items = state.control.read(move |c| store::list(c, &org)).await?;
    Ok(Json(InboundHookList { items }))
}

/// Make an inbound endpoint (admin+); the answer holds its secret, once.
#[utoipa::path(post, path = "/inbound-hooks", tag = "webhooks", request_body = NewInboundHook,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = CreatedInboundHook), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<NewInboundHook>,
) -> AppResult<(StatusCode, Json<CreatedInboundHook>)> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let name = check_name(&mut p, &body.name);
    p.into_result()?;
    let id = clock::new_id();
    let secret = format!("whsec_{}", tokens::random_token());
    let mut hook = InboundHook {
        id: id.clone(),
        name,
        enabled: true,
        secret_last4: last4(&secret),
        created_at: clock::now_stamp(),
        created_by: access.actor().stamp(),
        last_received_at: None,
        org_id: access.org.id.clone(),
        secret_id: String::new(),
    };
    let (st, plain, stored) = (state.clone(), secret.clone(), hook.clone());
    // The secret and the endpoint are in the same database: one transaction.
    hook.secret_id = state
        .control
        .write(move |tx| {
            let mut stored = stored;
            stored.secret_id =
                st.vault
                    .put(tx, &stored.org_id, &secret_purpose(&stored.id), &plain)?;
            store::insert(tx, &stored)?;
            Ok(stored.secret_id)
        })
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "inbound_hook.created").target(
                "inbound_hook",
                &hook.id,
                &hook.name,
            ),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInboundHook {
            url: state.config.link(&format!("/api/v1/hooks/{id}")),
            hook,
            secret,
        }),
    ))
}

/// Rename, disable or enable an inbound endpoint (admin+).
#[utoipa::path(patch, path = "/inbound-hooks/{id}", tag = "webhooks",
    request_body = InboundHookPatch,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = InboundHook), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_endpoint(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<InboundHookPatch>,
) -> AppResult<Json<InboundHook>> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let name = body.name.as_deref().map(|n| check_name(&mut p, n));
    p.into_result()?;
    let org = access.org.id.clone();
    let (hook, before) = state
        .control
        .write(move |tx| {
            let mut h = store::get_in(tx, &org, &path.id)?;
            let before = json!({"name": h.name, "enabled": h.enabled});
            if let Some(n) = name {
                h.name = n;
            }
            if let Some(e) = body.enabled {
                h.enabled = e;
            }
            store::update(tx, &h)?;
            Ok((h, before))
        })
        .await?;
    let after = json!({"name": hook.name, "enabled": hook.enabled});
    if after != before {
        access
            .audit(
                audit::Entry::new(access.audit_actor(), "inbound_hook.updated")
                    .target("inbound_hook", &hook.id, &hook.name)
                    .before(before)
                    .after(after),
            )
            .await?;
    }
    Ok(Json(hook))
}

/// Delete an inbound endpoint and its secret (admin+).
#[utoipa::path(delete, path = "/inbound-hooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    let org = access.org.id.clone();
    let gone = state
        .control
        .write(move |tx| {
            let h = store::get_in(tx, &org, &path.id)?;
            store::delete(tx, &org, &h.id)?;
            Vault::delete(tx, &h.secret_id, &org)?;
            Ok(h)
        })
        .await?;
    access
        .audit(
            audit::Entry::new(access.audit_actor(), "inbound_hook.deleted").target(
                "inbound_hook",
                &gone.id,
                &gone.name,
            ),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Receive a signed event from another system: its records are created or
/// updated by their external ids, all or none. No session or key: the
/// `Harmonia-Signature` header (HMAC-SHA256 of `"<t>.<raw body>"` with the
/// endpoint's secret, `t` within 5 minutes) is the credential, and each
/// event id is accepted once.
#[utoipa::path(post, path = "/hooks/{endpoint_id}", tag = "webhooks",
    request_body = inbound::InboundEvent, security(()),
    params(("endpoint_id" = String, Path, description = "the endpoint's id"),
           ("Harmonia-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>")),
    responses((status = 200, body = Accepted), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    Path(path): Path<EndpointPath>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<Accepted>> {
    let bytes = axum::body::to_bytes(body, inbound::MAX_BODY)
        .await
        .map_err(|_| AppError::TooLarge)?;
    let id = path.endpoint_id;
    let st = state.clone();
    // An unknown or disabled endpoint answers like a wrong signature.
    let unknown = || AppError::BadSignature("the signature does not match the body".into());
    let (hook, secret, org, closed) = state
        .control
        .read(move |c| {
            let Some(hook) = store::get(c, &id)?.filter(|h| h.enabled) else {
                return Ok(None);
            };
            let secret =
                st.vault
                    .reveal(c, &hook.secret_id, &hook.org_id, &secret_purpose(&hook.id))?;
            let org = crate::platform::orgs::by_id(c, &hook.org_id)?.ok_or(AppError::NotFound)?;
            let closed = crate::platform::closure::of_org(c, &org.id)?.is_some();
            Ok(Some((hook, secret, org, closed)))
        })
        .await?
        .ok_or_else(unknown)?;
    let signature = headers.get(sign::HEADER).and_then(|v| v.to_str().ok());
    inbound::verify(&secret, signature, &bytes, clock::now().unix_timestamp())?;
    if closed {
        return Err(AppError::OrgClosed);
    }
    let event = inbound::parse(&bytes)?;
    let tenant = state.tenants.get(&org.id).await?;
    let (hook_id, org_id) = (hook.id.clone(), org.id.clone());
    let accepted = tenant
        .write(move |tx| inbound::apply(tx, &hook_id, event, &org))
        .await?;
    let hid = hook.id.clone();
    if let Err(e) = state.control.write(move |c| store::received(c, &hid)).await {
        tracing::warn!(hook = %hook.id, error = %e, "recording an inbound event's time failed");
    }
    if let Err(e) = crate::platform::notifications::deliver(&state, &org_id, &tenant).await {
        tracing::error!(org = %org_id, error = %e, "delivering notifications failed");
    }
    Ok(Json(accepted))
}

/// The organization's routes (nested under `/orgs/{org}`).
pub fn org_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(patch_endpoint, delete_endpoint))
}

/// The public receiving route.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}
