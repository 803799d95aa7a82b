//! Router assembly: the JSON API under `/api/v1` (with its OpenAPI document
//! generated from the handlers), `/healthz`, `/readyz`, `/metrics`, and the
//! embedded web UI.

pub mod assets;
pub mod metrics_route;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod ready;
pub mod serve;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::platform::{api_keys, members, orgs, setup};
use crate::state::AppState;

/// JSON request bodies larger than this get 413.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Harmonia API",
        description = "The JSON API of Harmonia, a self-hosted CRM. Browser sessions use a cookie plus the X-CSRF-Token header on unsafe methods; API clients send `Authorization: Bearer hmn_…`. Errors: `{\"error\": {\"code\", \"message\", \"fields\"}}`."
    ),
    servers((url = "/api/v1")),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::session::COOKIE_NAME,
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and the OpenAPI document describing exactly them.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    crate::crm::kinds();
    let org_scoped = OpenApiRouter::new()
        .merge(members::router())
        .merge(crate::platform::resets::org_router())
        .merge(api_keys::router())
        .merge(crate::record::router())
        .merge(crate::crm::search::router())
        .merge(crate::crm::merge::router())
        .merge(crate::crm::privacy::router())
        .merge(crate::crm::files::routes::router())
        .merge(crate::crm::imports::routes::router())
        .merge(crate::jobs::routes::org_router())
        .merge(crate::platform::closure_routes::org_router())
        .merge(crate::crm::archive::routes::router())
        .merge(crate::platform::audit_routes::org_router())
        .merge(crate::platform::api_requests::org_router())
        .merge(crate::crm::webhooks::routes::router())
        .merge(crate::crm::webhooks::inbound_routes::org_router());
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(setup::router())
        .merge(crate::platform::account::router())
        .merge(crate::platform::sessions::router())
        .merge(crate::platform::mfa::router())
        .merge(crate::platform::resets::router())
        .merge(crate::platform::passkeys::router())
        .merge(crate::platform::invites::router())
        .merge(crate::platform::notifications::router())
        .merge(orgs::router())
        .merge(crate::jobs::routes::admin_router())
        .merge(crate::platform::closure_routes::admin_router())
        .merge(crate::platform::audit_routes::admin_router())
        .merge(crate::crm::files::routes::admin_router())
        .merge(crate::crm::webhooks::inbound_routes::public_router())
        .nest("/orgs/{org}", org_scoped)
        .split_for_parts();
    let (router, mut doc) = (router, doc);
    openapi::complete_errors(&mut doc);
    (router, doc)
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state
        .control
        .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await
    {
        Ok(_) => (
            axum::http::StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unavailable"})),
        ),
    }
}

/// The whole application. The binary and the tests build exactly this.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api();
    let openapi_json: Arc<Vec<u8>> = Arc::new(serde_json::to_vec(&openapi).unwrap_or_default());
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        body.as_ref().clone(),
                    )
                }
            }),
        )
        .fallback(middleware::api_not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::api_gate,
        ));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready::readyz))
        .route("/metrics", get(metrics_route::metrics))
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::edge,
        ))
        // Stored files are served as they are: compressing them would break
        // byte ranges and gain little (most are compressed already).
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: axum::http::StatusCode,
                 _: axum::http::Version,
                 h: &axum::http::HeaderMap,
                 _: &axum::http::Extensions| !h.contains_key(header::ACCEPT_RANGES),
            )),
        )
        .with_state(state)
}
