//! Signing in and out, the current user, password changes, self-service
//! sign-up, and accepting invitations.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, Event};
use crate::auth::caller::Caller;
use crate::auth::users::{self, User};
use crate::auth::{mfa, password, session, tokens};
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::platform::client_ip::{ClientIp, RequestFrom};
use crate::platform::orgs::{self, MyOrg, NewOrg};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: User,
    pub organizations: Vec<MyOrg>,
    /// Send this as `X-CSRF-Token` on every POST, PATCH and DELETE.
    pub csrf_token: String,
}

/// The response to a successful sign-in of any kind: session cookie, and the
/// device cookie the first time this browser signs in to the account.
pub async fn signed_in(
    state: &AppState,
    status: StatusCode,
    user: User,
    session_token: String,
    device_token: Option<String>,
) -> AppResult<Response> {
    let uid = user.id.clone();
    let organizations = state.control.read(move |c| orgs::of_user(c, &uid)).await?;
    let mut jar = CookieJar::new().add(session::session_cookie(
        session_token.clone(),
        &state.config,
    ));
    if let Some(d) = device_token {
        jar = jar.add(session::device_cookie(d, &state.config));
    }
    let body = SignedIn {
        user,
        organizations,
        csrf_token: tokens::csrf_for(&session_token),
    };
    Ok((status, jar, Json(body)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

/// The password was right and the account has a second factor: no session
/// yet. Finish with `POST /auth/mfa/verify` (or a passkey) within 5 minutes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Good for the second step only, once, for 5 minutes.
    pub challenge: String,
    /// What the second step accepts: `totp`, `recovery_code`, `passkey`.
    pub methods: Vec<String>,
}

/// What a sign-in answers: signed in, or the second step to take.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    SignedIn(SignedIn),
    MfaRequired(MfaRequired),
}

/// Sign in with email and password. Throttled: see the README's login policy.
/// For an account with a second factor the answer is `MfaRequired` and no
/// session is set.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody, description = "throttled; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> AppResult<Response> {
    let email = body.email.trim().to_lowercase();
    if email.len() > 254 {
        return Err(AppError::BadCredentials);
    }
    let device = session::cookie_value(&headers, session::DEVICE_COOKIE);
    let lookup_email = email.clone();
    let (user, hash, known_device) = state
        .control
        .read(move |c| {
            Ok(match users::by_email(c, &lookup_email)? {
                Some((u, h)) => {
                    let known = match &device {
                        Some(d) => session::is_known_device(c, &u.id, d)?,
                        None => false,
                    };
                    (Some(u), h, known)
                }
                None => (None, None, false),
            })
        })
        .await?;
    state
        .throttle
        .begin(&email, ip, known_device)
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let ok = body.password.chars().count() <= password::MAX_LENGTH
        && password::verify(body.password, hash).await;
    let user = match user {
        Some(u) if ok => u,
        other => return Err(failed_sign_in(&state, ip, other, email, from).await),
    };

    let config = state.config.clone();
    let uid = user.id.clone();
    let step = state
        .control
        .write(move |tx| {
            // A second factor: no session yet, only a challenge for the verify call.
            if mfa::has_factor(tx, &uid)? {
                let challenge = mfa::open_challenge(tx, &uid, known_device, &from)?;
                let methods = mfa::methods(tx, &uid)?;
                return Ok(Err(MfaRequired {
                    mfa_required: true,
                    challenge,
                    methods: methods.into_iter().map(String::from).collect(),
                }));
            }
            let token = session::create(tx, &uid, &config, &from)?;
            activity::record(tx, &uid, Event::SignedIn, &from, Some("password"))?;
            let device = if known_device {
                None
            } else {
                Some(session::remember_device(tx, &uid)?)
            };
            Ok(Ok((token, device)))
        })
        .await?;
    match step {
        Ok((token, device_token)) => {
            state.throttle.succeeded(&email, ip);
            signed_in(&state, StatusCode::OK, user, token, device_token).await
        }
        // The password's attempt stays counted until the second step
        // succeeds: otherwise each right password would wipe the count of
        // wrong codes, and someone holding the password could guess codes
        // five at a time for ever.
        Err(second_step) => Ok(Json(second_step).into_response()),
    }
}

/// A wrong password: noted in the account's activity when the account
/// exists (an unknown email has no activity to note it in), and in the
/// platform's audit log either way.
async fn failed_sign_in(
    state: &AppState,
    ip: std::net::IpAddr,
    user: Option<User>,
    email: String,
    from: session::Client,
) -> AppError {
    tracing::info!(%ip, "failed sign-in");
    let noted = state
        .control
        .write(move |tx| match user {
            Some(u) => activity::record(tx, &u.id, Event::SignInFailed, &from, Some("password")),
            None => activity::audit_unknown_sign_in(tx, &email, &from),
        })
        .await;
    if let Err(e) = noted {
        return e;
    }
    AppError::BadCredentials
}

/// Sign out of this browser.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
) -> AppResult<Response> {
    let Caller::User {
        session_token,
        user,
        ..
    } = caller
    else {
        return Err(caller.user().err().unwrap_or(AppError::Unauthenticated));
    };
    state
        .control
        .write(move |tx| {
            session::revoke(tx, &session_token)?;
            activity::record(tx, &user.id, Event::SignedOut, &from, None)
        })
        .await?;
    let jar = CookieJar::new().add(session::clear_session_cookie(&state.config));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

/// Sign out everywhere: ends every session of yours, this one included.
#[utoipa::path(post, path = "/auth/logout-all", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout_all(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    caller: Caller,
) -> AppResult<Response> {
    let user_id = caller.user()?.id.clone();
    state
        .control
        .write(move |tx| {
            session::revoke_all(tx, &user_id, None)?;
            activity::record(tx, &user_id, Event::SignedOut, &from, Some("everywhere"))
        })
        .await?;
    let jar = CookieJar::new().add(session::clear_session_cookie(&state.config));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

/// The signed-in user, their organizations and the CSRF token.
#[utoipa::path(get, path = "/me", tag = "auth",
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<Json<SignedIn>> {
    let Caller::User {
        user,
        session_token,
        ..
    } = caller
    else {
        return Err(AppError::forbidden(
            "this needs a signed-in user, not an API key",
        ));
    };
    let uid = user.id.clone();
    let organizations = state.control.read(move |c| orgs::of_user(c, &uid)).await?;
    Ok(Json(SignedIn {
        user,
        organizations,
        csrf_token: tokens::csrf_for(&session_token),
    }))
}

/// What a person sets about themselves; a field left out stays as it is.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: Option<String>,
    /// IANA time zone such as Europe/Paris; null: the browser's.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub time_zone: Option<Option<String>>,
    /// How your dates are written (same choices as an organization's
    /// `date_format`); null: your organization's.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "yyyy-mm-dd")]
    pub date_format: Option<Option<String>>,
}

/// Tells a field sent as null (clear it) from one left out (keep it).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Change your own name, time zone or date format.
#[utoipa::path(patch, path = "/account", tag = "auth", request_body = UpdateAccount,
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<UpdateAccount>,
) -> AppResult<Json<User>> {
    let mut user = caller.user()?.clone();
    let old_name = user.name.clone();
    let mut problems = crate::error::Problems::new();
    if let Some(name) = body.name {
        match crate::values::text(&mut problems, "name", Some(name), 120) {
            Some(n) => user.name = n,
            None => problems.add("name", "enter your name"),
        }
    }
    let zone_changed = body.time_zone.is_some();
    if let Some(zone) = body.time_zone {
        let zone = zone.map(|z| z.trim().to_string()).filter(|z| !z.is_empty());
        if zone
            .as_deref()
            .is_some_and(|z| !crate::values::is_time_zone(z))
        {
            problems.add("time_zone", "use an IANA time zone such as Europe/Paris");
        }
        user.time_zone = zone;
    }
    if let Some(format) = body.date_format {
        if format
            .as_deref()
            .is_some_and(|f| !crate::values::is_date_format(f))
        {
            problems.add(
                "date_format",
                format!("use one of: {}", crate::values::DATE_FORMATS.join(" · ")),
            );
        }
        user.date_format = format;
    }
    problems.into_result()?;
    let u = user.clone();
    state
        .control
        .write(move |tx| {
            users::set_preferences(
                tx,
                &u.id,
                &u.name,
                u.time_zone.as_deref(),
                u.date_format.as_deref(),
            )?;
            // Reminders of date-only tasks fire at 09:00 in the person's zone.
            if zone_changed {
                crate::platform::notifications::rezone(tx, &u.id)?;
            }
            Ok(())
        })
        .await?;
    if user.name != old_name {
        let uid = user.id.clone();
        let mine = state.control.read(move |c| orgs::of_user(c, &uid)).await?;
        for org in mine {
            crate::platform::members::names_changed(&state, &org.id).await;
        }
    }
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change your password; every other session of yours ends.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestFrom(from): RequestFrom,
    caller: Caller,
    Json(body): Json<ChangePassword>,
) -> AppResult<StatusCode> {
    let Caller::User {
        user,
        session_token,
        ..
    } = caller
    else {
        return Err(AppError::forbidden(
            "this needs a signed-in user, not an API key",
        ));
    };
    password::check_strength("new_password", &body.new_password)?;
    if !confirm_password(&state, &user, ip, body.current_password).await? {
        return Err(AppError::field(
            "current_password",
            "not your current password",
        ));
    }
    let new_hash = password::hash(body.new_password).await?;
    state
        .control
        .write(move |tx| {
            users::set_password(tx, &user.id, &new_hash)?;
            session::revoke_all(tx, &user.id, Some(&session_token))?;
            activity::record(tx, &user.id, Event::PasswordChanged, &from, None)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    pub name: String,
    pub email: String,
    pub password: String,
    pub org_name: String,
}

/// Create an account and a new organization (only when the server runs with --allow-signup).
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = Signup,
    responses((status = 201, body = SignedIn), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    Json(body): Json<Signup>,
) -> AppResult<Response> {
    if !state.config.allow_signup {
        return Err(AppError::NotFound);
    }
    let (name, email, new_org) =
        check_account_and_org(&body.name, &body.email, &body.password, &body.org_name)?;
    let hash = password::hash(body.password).await?;
    let st = state.clone();
    let (user, token) = state
        .control
        .write(move |tx| {
            if users::by_email(tx, &email)?.is_some() {
                return Err(AppError::Conflict(
                    "an account with this email exists; sign in instead".into(),
                ));
            }
            let user = users::insert(tx, &email, &name, Some(&hash), false)?;
            orgs::create(tx, &st.tenants, new_org, &user.id)?;
            let token = session::create(tx, &user.id, &st.config, &from)?;
            activity::record(tx, &user.id, Event::SignedIn, &from, Some("signup"))?;
            Ok((user, token))
        })
        .await?;
    signed_in(&state, StatusCode::CREATED, user, token, None).await
}

/// Checks what setup and sign-up share; returns (name, email, org) cleaned.
pub fn check_account_and_org(
    name: &str,
    email: &str,
    password_text: &str,
    org_name: &str,
) -> AppResult<(String, String, NewOrg)> {
    let mut problems = crate::error::Problems::new();
    let name = users::check_name("name", name)
        .map_err(|e| problems_from(&mut problems, e))
        .ok();
    let email = users::normalize_email("email", email)
        .map_err(|e| problems_from(&mut problems, e))
        .ok();
    let _ = password::check_strength("password", password_text)
        .map_err(|e| problems_from(&mut problems, e));
    let org = NewOrg {
        name: org_name.to_string(),
        slug: None,
        default_country: None,
    }
    .validate()
    .map_err(|e| match e {
        AppError::Validation { fields, .. } => {
            for (_, v) in fields {
                problems.add("org_name", v);
            }
        }
        _ => problems.add("org_name", "not valid"),
    })
    .ok();
    problems.into_result()?;
    match (name, email, org) {
        (Some(n), Some(e), Some(o)) => Ok((n, e, o)),
        _ => Err(AppError::BadRequest("invalid input".into())),
    }
}

fn problems_from(problems: &mut crate::error::Problems, e: AppError) {
    if let AppError::Validation { fields, .. } = e {
        for (k, v) in fields {
            problems.add(k, v);
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_all))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(update_account))
        .routes(routes!(signup))
}

/// Checks a signed-in user's password before something sensitive (a new
/// password, closing an organization): throttled like sign-in, so it can't
/// be used to guess. False for a wrong password.
pub async fn confirm_password(
    state: &AppState,
    user: &users::User,
    ip: std::net::IpAddr,
    given: String,
) -> AppResult<bool> {
    state
        .throttle
        .begin(&user.email, ip, true)
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    let uid = user.id.clone();
    let hash = state
        .control
        .read(move |c| Ok(users::by_id(c, &uid)?.and_then(|(_, h)| h)))
        .await?;
    let ok = given.chars().count() <= password::MAX_LENGTH && password::verify(given, hash).await;
    if ok {
        state.throttle.succeeded(&user.email, ip);
    }
    Ok(ok)
}
