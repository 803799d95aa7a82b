//! First run: while nobody has an account, the server logs a one-hour setup
//! link; the page behind it (or `harmonia setup`) creates the first
//! organization and its owner, who is also the instance's platform admin.
//! After that, setup answers 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::activity::{self, Event};
use crate::auth::users::{self, User};
use crate::auth::{password, session};
use crate::error::{AppError, AppResult, ErrorBody, Json};
use crate::platform::account::{check_account_and_org, signed_in};
use crate::platform::client_ip::RequestFrom;
use crate::platform::orgs::{self, NewOrg, Org};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SetupStatus {
    pub setup_required: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The token from the setup link the server logged.
    pub token: String,
    pub org_name: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// Creates the first user (platform admin) and organization in `tx`.
pub fn create_first_owner(
    tx: &Connection,
    state: &AppState,
    name: &str,
    email: &str,
    password_hash: &str,
    org: NewOrg,
) -> AppResult<(User, Org)> {
    if users::any_exist(tx)? {
        return Err(AppError::NotFound);
    }
    let user = users::insert(tx, email, name, Some(password_hash), true)?;
    let org = orgs::create(tx, &state.tenants, org, &user.id)?;
    Ok((user, org))
}

/// Whether first-run setup is still open (404 once someone has an account).
#[utoipa::path(get, path = "/setup", tag = "setup",
    responses((status = 200, body = SetupStatus), (status = 404, body = ErrorBody)))]
async fn setup_status(State(state): State<AppState>) -> AppResult<Json<SetupStatus>> {
    let exists = state.control.read(users::any_exist).await?;
    if exists {
        return Err(AppError::NotFound);
    }
    Ok(Json(SetupStatus {
        setup_required: true,
    }))
}

/// Create the first organization and its owner, and sign them in.
#[utoipa::path(post, path = "/setup", tag = "setup", request_body = Setup,
    responses((status = 201, body = crate::platform::account::SignedIn),
              (status = 403, body = ErrorBody, description = "wrong or expired setup token"),
              (status = 404, body = ErrorBody, description = "setup is done"),
              (status = 422, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    RequestFrom(from): RequestFrom,
    Json(body): Json<Setup>,
) -> AppResult<Response> {
    if state.control.read(users::any_exist).await? {
        return Err(AppError::NotFound);
    }
    if !state.setup_token_matches(&body.token) {
        return Err(AppError::forbidden(
            "this setup link is wrong or expired; restart the server for a new one",
        ));
    }
    let (name, email, org) =
        check_account_and_org(&body.name, &body.email, &body.password, &body.org_name)?;
    let hash = password::hash(body.password).await?;
    let st = state.clone();
    let (user, token) = state
        .control
        .write(move |tx| {
            let (user, _) = create_first_owner(tx, &st, &name, &email, &hash, org)?;
            let token = session::create(tx, &user.id, &st.config, &from)?;
            activity::record(tx, &user.id, Event::SignedIn, &from, Some("setup"))?;
            Ok((user, token))
        })
        .await?;
    state.clear_setup_token();
    tracing::info!("first-run setup done");
    signed_in(&state, StatusCode::CREATED, user, token, None).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(setup_status, setup))
}
