//! `/orgs/{org}/webhooks`: outbound webhooks (admins and owners only).
//! The signing secret is shown once, when made (create, rotate-secret);
//! afterwards answers carry only its last four characters.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::queue;
use super::store::{self, Attempt, Webhook};
use super::{TEST_EVENT, event_types, secret_purpose, ssrf};
use crate::audit;
use crate::auth::roles::Role;
use crate::auth::tokens;
use crate::clock;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems, Query};
use crate::events;
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::state::AppState;
use crate::vault::{Vault, last4};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewWebhook {
    /// Where events are POSTed (https:// or http://; public addresses only
    /// unless the server allows private ones).
    pub url: String,
    /// Event types (see `event_types` in the list answer), or `["*"]`.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling a hook disabled after failures starts its deliveries afresh.
    pub enabled: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
    /// Every event type a hook can subscribe to (besides `*`).
    pub event_types: Vec<String>,
}

/// A new hook with its signing secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewSecret {
    pub secret: String,
    pub secret_last4: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptList {
    pub items: Vec<Attempt>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestSent {
    pub event_id: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptParams {
    /// 1–200 (default 50).
    pub limit: Option<i64>,
}

fn new_secret() -> String {
    format!("whsec_{}", tokens::random_token())
}

async fn check_url(state: &AppState, p: &mut Problems, raw: &str) -> Option<String> {
    let url = match ssrf::check_syntax(raw) {
        Ok(u) => u,
        Err(e) => {
            p.add("url", e);
            return None;
        }
    };
    match ssrf::resolve(&url, state.config.webhooks_allow_private).await {
        Ok(_) => Some(url.to_string()),
        Err(e) => {
            p.add("url", e);
            None
        }
    }
}

fn check_events(p: &mut Problems, events: Vec<String>) -> Vec<String> {
    let known = event_types();
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim().to_string();
        if e != "*" && !known.contains(&e) {
            p.add("events", format!("unknown event type {e:?}"));
            continue;
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        p.add("events", "choose at least one event type, or *");
    }
    if out.iter().any(|e| e == "*") {
        out = vec!["*".to_string()];
    }
    out
}

fn check_description(p: &mut Problems, d: Option<String>) -> String {
    let d = d.unwrap_or_default().trim().to_string();
    if d.chars().count() > 200 {
        p.add("description", "at most 200 characters");
    }
    d
}

/// The organization's webhooks (admin+).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_hooks(access: OrgAccess) -> AppResult<Json<WebhookList>> {
    access.require(Role::Admin)?;
    let items = access.tenant.db.read(store::list).await?;
    Ok(Json(WebhookList {
        items,
        event_types: event_types(),
    }))
}

/// Subscribe a URL to events (admin+); the answer holds the signing secret, once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewWebhook,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = CreatedWebhook), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_hook(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<NewWebhook>,
) -> AppResult<(StatusCode, Json<CreatedWebhook>)> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let events = check_events(&mut p, body.events);
    let description = check_description(&mut p, body.description);
    let url = check_url(&state, &mut p, &body.url).await;
    p.into_result()?;
    let url = url.unwrap_or_default();
    let id = clock::new_id();
    let secret = new_secret();
    let (org_id, purpose, plain) = (access.org.id.clone(), secret_purpose(&id), secret.clone());
    let st = state.clone();
    let secret_id = state
        .control
        .write(move |tx| st.vault.put(tx, &org_id, &purpose, &plain))
        .await?;
    let now = clock::now_stamp();
    let hook = Webhook {
        id,
        url,
        description,
        events,
        enabled: body.enabled.unwrap_or(true),
        secret_last4: last4(&secret),
        failing_since: None,
        disabled_reason: None,
        created_at: now.clone(),
        created_by: access.actor().stamp(),
        updated_at: now,
        secret_id: secret_id.clone(),
    };
    let stored = hook.clone();
    let who = access.audit_actor();
    if let Err(e) = access
        .tenant
        .write(move |tx| {
            store::insert(tx, &stored)?;
            audit::record(
                tx,
                &audit::Entry::new(who, "webhook.created")
                    .target("webhook", &stored.id, &stored.url)
                    .after(shown(&stored)),
            )?;
            Ok(())
        })
        .await
    {
        let org_id = access.org.id.clone();
        let _ = state
            .control
            .write(move |tx| Vault::delete(tx, &secret_id, &org_id))
            .await;
        return Err(e);
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook: hook,
            secret,
        }),
    ))
}

/// What the audit log keeps of a webhook: never its secret.
fn shown(h: &Webhook) -> serde_json::Value {
    json!({"url": h.url, "events": h.events, "enabled": h.enabled, "description": h.description})
}

async fn load(access: &OrgAccess, id: String) -> AppResult<Webhook> {
    access
        .tenant
        .db
        .read(move |c| store::get(c, &id))
        .await?
        .ok_or(AppError::NotFound)
}

/// One webhook (admin+).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_hook(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<Json<Webhook>> {
    access.require(Role::Admin)?;
    Ok(Json(load(&access, path.id).await?))
}

/// Change a webhook's URL, events, description or enabled state (admin+).
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", request_body = WebhookPatch,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_hook(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(body): Json<WebhookPatch>,
) -> AppResult<Json<Webhook>> {
    access.require(Role::Admin)?;
    let mut hook = load(&access, path.id).await?;
    let before = shown(&hook);
    let mut p = Problems::new();
    if let Some(events) = body.events {
        hook.events = check_events(&mut p, events);
    }
    if body.description.is_some() {
        hook.description = check_description(&mut p, body.description);
    }
    if let Some(url) = body.url.filter(|u| *u != hook.url) {
        hook.url = check_url(&state, &mut p, &url).await.unwrap_or_default();
    }
    p.into_result()?;
    if let Some(enabled) = body.enabled {
        hook.enabled = enabled;
    }
    let id = hook.id.clone();
    let stored = hook.clone();
    let who = access.audit_actor();
    let hook = access
        .tenant
        .write(move |tx| {
            store::update(tx, &stored)?;
            let after = shown(&stored);
            if after != before {
                audit::record(
                    tx,
                    &audit::Entry::new(who, "webhook.updated")
                        .target("webhook", &stored.id, &stored.url)
                        .before(before)
                        .after(after),
                )?;
            }
            store::get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(hook))
}

/// Delete a webhook with its pending deliveries, log and secret (admin+).
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_hook(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    let hook = load(&access, path.id).await?;
    let id = hook.id.clone();
    let (who, before, url) = (access.audit_actor(), shown(&hook), hook.url.clone());
    if !access
        .tenant
        .write(move |tx| {
            let gone = store::delete(tx, &id)?;
            if gone {
                audit::record(
                    tx,
                    &audit::Entry::new(who, "webhook.deleted")
                        .target("webhook", &id, &url)
                        .before(before),
                )?;
            }
            Ok(gone)
        })
        .await?
    {
        return Err(AppError::NotFound);
    }
    let (secret_id, org_id) = (hook.secret_id, access.org.id.clone());
    state
        .control
        .write(move |tx| Vault::delete(tx, &secret_id, &org_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a webhook's signing secret (admin+); the new one is shown once
/// and signs every delivery from now on.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = NewSecret), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<NewSecret>> {
    access.require(Role::Admin)?;
    let hook = load(&access, path.id).await?;
    let secret = new_secret();
    let (org_id, purpose, plain, secret_id) = (
        access.org.id.clone(),
        secret_purpose(&hook.id),
        secret.clone(),
        hook.secret_id.clone(),
    );
    let st = state.clone();
    // A hook restored from another instance's backup has no secret here:
    // rotating gives it one.
    let secret_id = state
        .control
        .write(
            move |tx| match st.vault.replace(tx, &secret_id, &org_id, &purpose, &plain) {
                Err(AppError::NotFound) => st.vault.put(tx, &org_id, &purpose, &plain),
                other => other.map(|()| secret_id),
            },
        )
        .await?;
    let (id, l4) = (hook.id.clone(), last4(&secret));
    let last = l4.clone();
    let (who, url) = (access.audit_actor(), hook.url.clone());
    access
        .tenant
        .write(move |tx| {
            store::set_secret(tx, &id, &secret_id, &l4)?;
            audit::record(
                tx,
                &audit::Entry::new(who, "webhook.secret_rotated").target("webhook", &id, &url),
            )?;
            Ok(())
        })
        .await?;
    Ok(Json(NewSecret {
        secret,
        secret_last4: last,
    }))
}

/// Send a test event to this webhook now (admin+; also when disabled).
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 202, body = TestSent), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn send_test(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<(StatusCode, Json<TestSent>)> {
    access.require(Role::Admin)?;
    let hook = load(&access, path.id).await?;
    let event_id = format!("evt_{}", clock::new_id());
    let (eid, hid) = (event_id.clone(), hook.id.clone());
    let data = json!({"message": "A test event from Harmonia", "webhook_id": hook.id});
    access
        .tenant
        .write(move |tx| {
            let now = clock::now_stamp();
            let seq = events::write_event(tx, &eid, TEST_EVENT, &now, &data.to_string())?;
            queue::queue(tx, &hid, &eid, seq, &now)
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(TestSent { event_id })))
}

/// The delivery log of a webhook, newest first (admin+).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(AttemptParams, ("org" = String, Path, description = "organization slug"),
           ("id" = String, Path)),
    responses((status = 200, body = AttemptList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn deliveries(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Query(params): Query<AttemptParams>,
) -> AppResult<Json<AttemptList>> {
    access.require(Role::Admin)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::field("limit", "between 1 and 200"));
    }
    let hook = load(&access, path.id).await?;
    let items = access
        .tenant
        .db
        .read(move |c| store::attempts(c, &hook.id, limit))
        .await?;
    Ok(Json(AttemptList { items }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_hooks, create_hook))
        .routes(routes!(get_hook, patch_hook, delete_hook))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(deliveries))
}
