//! Two-factor sign-in for people: setting up an authenticator app, recovery
//! codes, turning the app off, and the second step of a sign-in
//! (`POST /auth/mfa/verify`), the only call that accepts a challenge.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, Event};
use crate::auth::caller::Caller;
use crate::auth::users::{self, User};
use crate::auth::{mfa, password, session};
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::platform::account::signed_in;
use crate::platform::client_ip::{ClientIp, RequestFrom};
use crate::state::AppState;

fn person(caller: &Caller) -> AppResult<User> {
    Ok(caller.user()?.clone())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaStatus {
    /// An authenticator app is on.
    pub totp: bool,
    /// How many passkeys you have.
    pub passkeys: u32,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// Organizations you belong to that require two-factor sign-in (slugs).
    pub required_by: Vec<String>,
}

/// Your second factors, and which of your organizations require one.
#[utoipa::path(get, path = "/auth/mfa", tag = "auth",
    responses((status = 200, body = MfaStatus), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
async fn status(State(state): State<AppState>, caller: Caller) -> AppResult<Json<MfaStatus>> {
    let user = person(&caller)?;
    let status = state
        .control
        .read(move |c| {
            let mut stmt = c.prepare(
                "SELECT o.slug FROM memberships m JOIN orgs o ON o.id = m.org_id
                 WHERE m.user_id = ?1 AND m.status = 'active' AND o.require_mfa = 1 ORDER BY o.slug",
            )?;
            let required_by = stmt
                .query_map([&user.id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(MfaStatus {
                totp: mfa::totp_factor(c, &user.id)?.is_some_and(|f| f.confirmed),
                passkeys: crate::auth::passkey::count(c, &user.id)?,
                recovery_codes_left: mfa::recovery_codes_left(c, &user.id)?,
                required_by,
            })
        })
        .await?;
    Ok(Json(status))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpSetup {
    /// The key, base32, for typing into an app by hand.
    pub secret: String,
    /// `otpauth://totp/Harmonia:<email>?secret=…&issuer=Harmonia…`
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Start setting up an authenticator app: a new key, as text, URI and QR
/// code. It is not on until confirmed with a code from the app.
#[utoipa::path(post, path = "/auth/mfa/totp/setup", tag = "auth",
    responses((status = 200, body = TotpSetup), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "an app is already on")))]
async fn totp_setup(State(state): State<AppState>, caller: Caller) -> AppResult<Json<TotpSetup>> {
    let user = person(&caller)?;
    let secret = mfa::new_secret();
    let totp = mfa::totp(&secret, &user.email)?;
    let otpauth_uri = totp
        .to_url()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("otpauth URI: {e:?}")))?;
    let qr_svg = mfa::qr_svg(&otpauth_uri)?;
    let (s, vault) = (secret.clone(), state.vault.clone());
    state
        .control
        .write(move |tx| mfa::begin_totp(tx, &vault, &user.id, &s))
        .await?;
    Ok(Json(TotpSetup {
        secret,
        otpauth_uri,
        qr_svg,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotp {
    /// The 6-digit code the app shows now.
    #[schema(max_length = 64)]
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Ten one-use codes for when the phone is lost. Shown this once.
    pub recovery_codes: Vec<String>,
}

/// Turn the authenticator app on with a code from it; answers your ten
/// recovery codes, once.
#[utoipa::path(post, path = "/auth/mfa/totp/confirm", tag = "auth", request_body = ConfirmTotp,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn totp_confirm(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Json(body): Json<ConfirmTotp>,
) -> AppResult<Json<RecoveryCodes>> {
    let user = person(&caller)?;
    let vault = state.vault.clone();
    let recovery_codes = state
        .control
        .write(move |tx| {
            match mfa::totp_factor(tx, &user.id)? {
                None => {
                    return Err(AppError::Conflict(
                        "start the setup first (POST /auth/mfa/totp/setup)".into(),
                    ));
                }
                Some(f) if f.confirmed => {
                    return Err(AppError::Conflict(
                        "the authenticator app is already on".into(),
                    ));
                }
                Some(_) => {}
            }
            if !mfa::accept_totp(tx, &vault, &user.id, &user.email, &body.code, true)? {
                return Err(AppError::field(
                    "code",
                    "not the code the app shows now; check the phone's clock",
                ));
            }
            activity::record(tx, &user.id, Event::TotpEnabled, &from, None)?;
            mfa::new_recovery_codes(tx, &user.id)
        })
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordAndCode {
    #[schema(max_length = 1024)]
    pub password: String,
    /// A code from the authenticator app (needed while one is on).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub code: Option<String>,
}

/// Checks the password (throttled like sign-in) and, when an app is on, a
/// fresh code from it.
async fn confirm_identity(
    state: &AppState,
    ip: std::net::IpAddr,
    from: &session::Client,
    user: &User,
    body: PasswordAndCode,
) -> AppResult<()> {
    state
        .throttle
        .begin(&user.email, ip, true)
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let uid = user.id.clone();
    let hash = state
        .control
        .read(move |c| Ok(users::by_id(c, &uid)?.and_then(|(_, h)| h)))
        .await?;
    if body.password.chars().count() > password::MAX_LENGTH
        || !password::verify(body.password, hash).await
    {
        return Err(AppError::field("password", "not your password"));
    }
    let (uid, email, from) = (user.id.clone(), user.email.clone(), from.clone());
    let code = body.code.unwrap_or_default();
    let vault = state.vault.clone();
    let code_ok = state
        .control
        .write(move |tx| {
            let on = mfa::totp_factor(tx, &uid)?.is_some_and(|f| f.confirmed);
            if !on || mfa::accept_totp(tx, &vault, &uid, &email, &code, false)? {
                return Ok(true);
            }
            activity::record(tx, &uid, Event::SecondFactorFailed, &from, Some("totp"))?;
            Ok(false)
        })
        .await?;
    if !code_ok {
        return Err(AppError::field("code", "not the code the app shows now"));
    }
    state.throttle.succeeded(&user.email, ip);
    Ok(())
}

/// Make a new set of recovery codes (password and a code from the app);
/// the old ones stop working.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes", tag = "auth", request_body = PasswordAndCode,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Json(body): Json<PasswordAndCode>,
) -> AppResult<Json<RecoveryCodes>> {
    let user = person(&caller)?;
    let uid = user.id.clone();
    if !state
        .control
        .read(move |c| mfa::has_factor(c, &uid))
        .await?
    {
        return Err(AppError::Conflict(
            "recovery codes come with a second factor; set one up first".into(),
        ));
    }
    confirm_identity(&state, ip, &from, &user, body).await?;
    let recovery_codes = state
        .control
        .write(move |tx| {
            activity::record(tx, &user.id, Event::RecoveryCodesRegenerated, &from, None)?;
            mfa::new_recovery_codes(tx, &user.id)
        })
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turn the authenticator app off (password and a code from it). Refused
/// while an organization of yours requires two-factor sign-in and the app is
/// your only factor.
#[utoipa::path(delete, path = "/auth/mfa/totp", tag = "auth", request_body = PasswordAndCode,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "no authenticator app is on"),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn totp_remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Json(body): Json<PasswordAndCode>,
) -> AppResult<StatusCode> {
    let user = person(&caller)?;
    let uid = user.id.clone();
    let on = state
        .control
        .read(move |c| Ok(mfa::totp_factor(c, &uid)?.is_some_and(|f| f.confirmed)))
        .await?;
    if !on {
        return Err(AppError::NotFound);
    }
    confirm_identity(&state, ip, &from, &user, body).await?;
    state
        .control
        .write(move |tx| {
            mfa::remove_totp(tx, &user.id)?;
            if !mfa::has_factor(tx, &user.id)? && mfa::required_of(tx, &user.id)? {
                return Err(AppError::Conflict(
                    "an organization you belong to requires two-factor sign-in; add a passkey before turning the app off".into(),
                ));
            }
            activity::record(tx, &user.id, Event::TotpDisabled, &from, None)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The `challenge` from `POST /auth/login`.
    #[schema(max_length = 128)]
    pub challenge: String,
    /// A code from the authenticator app…
    #[serde(default)]
    #[schema(max_length = 64)]
    pub code: Option<String>,
    /// …or one of the recovery codes.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub recovery_code: Option<String>,
}

/// The second step of a sign-in: a code from the authenticator app or a
/// recovery code. Wrong codes are throttled like wrong passwords; the
/// challenge lives 5 minutes and signs in once.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", request_body = Verify,
    responses((status = 200, body = crate::platform::account::SignedIn),
              (status = 401, body = ErrorBody, description = "wrong code (`invalid_code`) or expired challenge (`challenge_expired`)"),
              (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody, description = "throttled; see Retry-After")))]
async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    Json(body): Json<Verify>,
) -> AppResult<Response> {
    let (method, code) = match (body.code, body.recovery_code) {
        (Some(c), None) => ("totp", c),
        (None, Some(c)) => ("recovery_code", c),
        _ => {
            return Err(AppError::field("code", "send either code or recovery_code"));
        }
    };
    let token = body.challenge.clone();
    let found = state
        .control
        .read(move |c| {
            let Some(ch) = mfa::challenge(c, &token)? else {
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
    let config = state.config.clone();
    let (u, f, challenge) = (user.clone(), from.clone(), body.challenge);
    let vault = state.vault.clone();
    let outcome = state
        .control
        .write(move |tx| {
            let ok = match method {
                "totp" => mfa::accept_totp(tx, &vault, &u.id, &u.email, &code, false)?,
                _ => mfa::use_recovery_code(tx, &u.id, &code)?,
            };
            if !ok {
                activity::record(tx, &u.id, Event::SecondFactorFailed, &f, Some(method))?;
                return Ok(Err(AppError::WrongCode));
            }
            if !mfa::close_challenge(tx, &challenge)? {
                return Ok(Err(AppError::ChallengeExpired));
            }
            if method == "recovery_code" {
                activity::record(tx, &u.id, Event::RecoveryCodeUsed, &f, None)?;
            }
            Ok(Ok(open_session(
                tx,
                &u.id,
                known_device,
                &f,
                &config,
                method,
            )?))
        })
        .await?;
    // A failure is committed (its activity row) before it is answered.
    let (token, device) = outcome?;
    // Both attempts of the sign-in were good: the password's (kept counted
    // until now) and this one.
    state.throttle.succeeded(&user.email, ip);
    state.throttle.succeeded(&user.email, ip);
    signed_in(&state, StatusCode::OK, user, token, device).await
}

/// Completes a sign-in: a session, a device cookie for a browser new to the
/// account, and the activity entry saying how.
pub fn open_session(
    tx: &rusqlite::Connection,
    user_id: &str,
    known_device: bool,
    from: &session::Client,
    config: &crate::config::Config,
    method: &str,
) -> AppResult<(String, Option<String>)> {
    activity::record(tx, user_id, Event::SignedIn, from, Some(method))?;
    let token = session::create(tx, user_id, config, from)?;
    let device = if known_device {
        None
    } else {
        Some(session::remember_device(tx, user_id)?)
    };
    Ok((token, device))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(totp_setup))
        .routes(routes!(totp_confirm))
        .routes(routes!(totp_remove))
        .routes(routes!(regenerate_recovery_codes))
        .routes(routes!(verify))
}
