//! Passkeys: register (start/finish), list, rename, remove, and sign in with
//! one — as the second step after a password (with the login's challenge) or
//! on its own with a discoverable credential (no challenge). The browser's
//! side is `navigator.credentials.create/get` with the options answered here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};

use crate::auth::activity::{self, Event};
use crate::auth::caller::Caller;
use crate::auth::passkey::{self, PasskeyInfo};
use crate::auth::users::{self, User};
use crate::auth::{mfa, session};
use crate::error::{AppError, AppResult, ErrorBody, Json, Path};
use crate::platform::account::signed_in;
use crate::platform::client_ip::{ClientIp, RequestFrom};
use crate::state::AppState;

fn webauthn_failed(e: impl std::fmt::Display) -> AppError {
    tracing::info!(error = %e, "passkey not verified");
    AppError::PasskeyFailed
}

fn user_handle(user: &User) -> AppResult<Uuid> {
    Uuid::parse_str(&user.id)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("user id as a UUID: {e}")))
}

/// A passkey's name: trimmed, 1–100 characters, no control characters.
fn check_name(name: &str) -> AppResult<String> {
    let mut problems = crate::error::Problems::new();
    let n = crate::values::text(&mut problems, "name", Some(name.to_string()), 100);
    problems.into_result()?;
    n.filter(|n| !n.is_empty())
        .ok_or_else(|| AppError::field("name", "required"))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub items: Vec<PasskeyInfo>,
}

/// Your passkeys: name, when added and last used.
#[utoipa::path(get, path = "/auth/passkeys", tag = "auth",
    responses((status = 200, body = PasskeyList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<PasskeyList>> {
    let user = caller.user()?.clone();
    let items = state
        .control
        .read(move |c| passkey::list(c, &user.id))
        .await?;
    Ok(Json(PasskeyList { items }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ceremony {
    /// Send back with the finish call.
    pub ceremony: String,
    /// WebAuthn options for `navigator.credentials.create` or `get`
    /// (`{"publicKey": …}`, binary fields base64url).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

fn as_json(v: &impl Serialize) -> AppResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(anyhow::anyhow!("options: {e}")))
}

/// Start adding a passkey to your account.
#[utoipa::path(post, path = "/auth/passkeys/register/start", tag = "auth",
    responses((status = 200, body = Ceremony), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "--public-url has no domain name")))]
async fn register_start(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Ceremony>> {
    let user = caller.user()?.clone();
    let rp = passkey::relying_party(&state.config)?;
    let handle = user_handle(&user)?;
    let (ceremony, options) = state
        .control
        .write(move |tx| {
            let existing = passkey::credentials(tx, &user.id)?;
            if existing.len() >= passkey::MAX_PER_USER {
                return Err(AppError::Conflict(format!(
                    "at most {} passkeys per account; remove one first",
                    passkey::MAX_PER_USER
                )));
            }
            let exclude = existing.iter().map(|k| k.cred_id().clone()).collect();
            let (ccr, reg) = rp
                .start_passkey_registration(handle, &user.email, &user.name, Some(exclude))
                .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey registration: {e}")))?;
            let id = passkey::open_ceremony(tx, Some(&user.id), "register", &reg)?;
            // Discoverable when the authenticator can: then it also signs in
            // without a password (the sign-in page offers it through autofill).
            // The server's half of the ceremony does not depend on this hint.
            let mut options = as_json(&ccr)?;
            if let Some(sel) = options
                .pointer_mut("/publicKey/authenticatorSelection")
                .and_then(|v| v.as_object_mut())
            {
                sel.insert("residentKey".into(), "preferred".into());
            }
            Ok((id, options))
        })
        .await?;
    Ok(Json(Ceremony { ceremony, options }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    #[schema(max_length = 64)]
    pub ceremony: String,
    /// What to call it ("MacBook Touch ID"); default "Passkey".
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.create`, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Finish adding a passkey.
#[utoipa::path(post, path = "/auth/passkeys/register/finish", tag = "auth", request_body = RegisterFinish,
    responses((status = 201, body = PasskeyInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such ceremony (expired or finished)"),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn register_finish(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Json(body): Json<RegisterFinish>,
) -> AppResult<(StatusCode, Json<PasskeyInfo>)> {
    let user = caller.user()?.clone();
    let name = check_name(body.name.as_deref().unwrap_or("Passkey"))?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(body.credential)
        .map_err(|_| AppError::field("credential", "not a WebAuthn registration response"))?;
    let rp = passkey::relying_party(&state.config)?;
    let info = state
        .control
        .write(move |tx| {
            let (owner, reg): (Option<String>, PasskeyRegistration) =
                passkey::take_ceremony(tx, &body.ceremony, "register")?
                    .ok_or(AppError::NotFound)?;
            // Someone else's ceremony is left alone (the error rolls back).
            if owner.as_deref() != Some(user.id.as_str()) {
                return Err(AppError::NotFound);
            }
            // A wrong answer uses the ceremony up like a right one: each
            // challenge is answered once.
            let key = match rp.finish_passkey_registration(&credential, &reg) {
                Ok(key) => key,
                Err(e) => {
                    return Ok(Err(AppError::field(
                        "credential",
                        format!("not accepted: {e}"),
                    )));
                }
            };
            let info = passkey::insert(tx, &user.id, &name, &key)?;
            activity::record(tx, &user.id, Event::PasskeyAdded, &from, Some(&name))?;
            Ok(Ok(info))
        })
        .await??;
    Ok((StatusCode::CREATED, Json(info)))
}

#[derive(Deserialize)]
struct PasskeyPath {
    id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// Rename one of your passkeys.
#[utoipa::path(patch, path = "/auth/passkeys/{id}", tag = "auth", request_body = RenamePasskey,
    params(("id" = String, Path)),
    responses((status = 200, body = PasskeyInfo), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(PasskeyPath { id }): Path<PasskeyPath>,
    Json(body): Json<RenamePasskey>,
) -> AppResult<Json<PasskeyInfo>> {
    let user = caller.user()?.clone();
    let name = check_name(&body.name)?;
    let info = state
        .control
        .write(move |tx| passkey::rename(tx, &user.id, &id, &name))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(info))
}

/// Remove one of your passkeys. Refused when it is your last second factor
/// and an organization of yours requires one.
#[utoipa::path(delete, path = "/auth/passkeys/{id}", tag = "auth",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Path(PasskeyPath { id }): Path<PasskeyPath>,
) -> AppResult<StatusCode> {
    let user = caller.user()?.clone();
    state
        .control
        .write(move |tx| {
            let name = passkey::remove(tx, &user.id, &id)?.ok_or(AppError::NotFound)?;
            if !mfa::has_factor(tx, &user.id)? {
                if mfa::required_of(tx, &user.id)? {
                    return Err(AppError::Conflict(
                        "an organization you belong to requires two-factor sign-in; set up another factor before removing your last one".into(),
                    ));
                }
                tx.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [&user.id])?;
            }
            activity::record(tx, &user.id, Event::PasskeyRemoved, &from, Some(&name))
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginStart {
    /// The `challenge` from `POST /auth/login`, for a passkey as the second
    /// step; without it, a sign-in with a discoverable passkey alone.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub challenge: Option<String>,
}

/// Start signing in with a passkey.
#[utoipa::path(post, path = "/auth/passkeys/login/start", tag = "auth", request_body = LoginStart,
    responses((status = 200, body = Ceremony),
              (status = 401, body = ErrorBody, description = "the challenge expired (`challenge_expired`)"),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn login_start(
    State(state): State<AppState>,
    Json(body): Json<LoginStart>,
) -> AppResult<Json<Ceremony>> {
    let rp = passkey::relying_party(&state.config)?;
    let (ceremony, options) = state
        .control
        .write(move |tx| match body.challenge {
            Some(challenge) => {
                let ch = mfa::challenge(tx, &challenge)?.ok_or(AppError::ChallengeExpired)?;
                let keys = passkey::credentials(tx, &ch.user_id)?;
                if keys.is_empty() {
                    return Err(AppError::PasskeyFailed);
                }
                let (rcr, auth) = rp
                    .start_passkey_authentication(&keys)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey sign-in: {e}")))?;
                let id = passkey::open_ceremony(tx, Some(&ch.user_id), "second_factor", &auth)?;
                Ok((id, as_json(&rcr)?))
            }
            None => {
                let (rcr, auth) = rp
                    .start_discoverable_authentication()
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey sign-in: {e}")))?;
                let id = passkey::open_ceremony(tx, None, "passwordless", &auth)?;
                Ok((id, as_json(&rcr)?))
            }
        })
        .await?;
    Ok(Json(Ceremony { ceremony, options }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginFinish {
    #[schema(max_length = 64)]
    pub ceremony: String,
    /// The same `challenge` as at the start, for a passkey as the second step.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub challenge: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.get`, as JSON (binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Finish signing in with a passkey: signed in, like a password plus code.
#[utoipa::path(post, path = "/auth/passkeys/login/finish", tag = "auth", request_body = LoginFinish,
    responses((status = 200, body = crate::platform::account::SignedIn),
              (status = 401, body = ErrorBody, description = "not verified (`passkey_failed`) or expired (`challenge_expired`)"),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
async fn login_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    headers: axum::http::HeaderMap,
    Json(body): Json<LoginFinish>,
) -> AppResult<Response> {
    let credential: PublicKeyCredential = serde_json::from_value(body.credential)
        .map_err(|_| AppError::field("credential", "not a WebAuthn sign-in response"))?;
    let rp = passkey::relying_party(&state.config)?;
    let config = state.config.clone();
    let Some(challenge) = body.challenge else {
        // A discoverable passkey on its own: the authenticator names the account.
        let device = session::cookie_value(&headers, session::DEVICE_COOKIE);
        let (user, token, device_token) = state
            .control
            .write(move |tx| {
                let (_, auth): (Option<String>, DiscoverableAuthentication) =
                    passkey::take_ceremony(tx, &body.ceremony, "passwordless")?
                        .ok_or(AppError::ChallengeExpired)?;
                // Any failure from here on still uses the ceremony up.
                let verified = (|| {
                    let (handle, cred_id) = rp
                        .identify_discoverable_authentication(&credential)
                        .map_err(webauthn_failed)?;
                    let (key_id, user_id, key) =
                        passkey::by_credential_id(tx, cred_id)?.ok_or(AppError::PasskeyFailed)?;
                    if handle.to_string() != user_id {
                        return Err(AppError::PasskeyFailed);
                    }
                    let result = rp
                        .finish_discoverable_authentication_v2(&credential, auth, &key)
                        .map_err(webauthn_failed)?;
                    Ok((key_id, user_id, key, result))
                })();
                let (key_id, user_id, mut key, result) = match verified {
                    Ok(v) => v,
                    Err(AppError::Internal(e)) => return Err(AppError::Internal(e)),
                    Err(e) => return Ok(Err(e)),
                };
                key.update_credential(&result);
                passkey::used(tx, &key_id, &key)?;
                let (user, _) = users::by_id(tx, &user_id)?.ok_or(AppError::PasskeyFailed)?;
                let known = match &device {
                    Some(d) => session::is_known_device(tx, &user.id, d)?,
                    None => false,
                };
                let (token, device_token) = crate::platform::mfa::open_session(
                    tx, &user.id, known, &from, &config, "passkey",
                )?;
                Ok(Ok((user, token, device_token)))
            })
            .await??;
        return signed_in(&state, StatusCode::OK, user, token, device_token).await;
    };
    // The second step after a password: throttled like codes.
    let c2 = challenge.clone();
    let found = state
        .control
        .read(move |c| {
            let Some(ch) = mfa::challenge(c, &c2)? else {
                return Ok(None);
            };
            Ok(users::by_id(c, &ch.user_id)?.map(|(u, _)| (u, ch.known_device)))
        })
        .await?;
    let (user, known_device) = found.ok_or(AppError::ChallengeExpired)?;
    state
        .throttle
        .begin(&user.email, ip, known_device)
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let u = user.clone();
    let outcome = state
        .control
        .write(move |tx| {
            let (owner, auth): (Option<String>, PasskeyAuthentication) =
                passkey::take_ceremony(tx, &body.ceremony, "second_factor")?
                    .ok_or(AppError::ChallengeExpired)?;
            let verified = (owner.as_deref() == Some(u.id.as_str()))
                .then(|| rp.finish_passkey_authentication(&credential, &auth).ok())
                .flatten();
            let found = passkey::by_credential_id(tx, credential.get_credential_id())?
                .filter(|(_, owner, _)| *owner == u.id);
            let (Some(result), Some((key_id, _, mut key))) = (verified, found) else {
                activity::record(tx, &u.id, Event::SecondFactorFailed, &from, Some("passkey"))?;
                return Ok(Err(AppError::PasskeyFailed));
            };
            if !mfa::close_challenge(tx, &challenge)? {
                return Ok(Err(AppError::ChallengeExpired));
            }
            key.update_credential(&result);
            passkey::used(tx, &key_id, &key)?;
            Ok(Ok(crate::platform::mfa::open_session(
                tx,
                &u.id,
                known_device,
                &from,
                &config,
                "passkey",
            )?))
        })
        .await?;
    let (token, device_token) = outcome?;
    // Both attempts of the sign-in were good: the password's (kept counted
    // until now) and this one.
    state.throttle.succeeded(&user.email, ip);
    state.throttle.succeeded(&user.email, ip);
    signed_in(&state, StatusCode::OK, user, token, device_token).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(register_start))
        .routes(routes!(register_finish))
        .routes(routes!(rename, remove))
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
}
