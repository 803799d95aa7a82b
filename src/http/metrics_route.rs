//! `GET /metrics`: the Prometheus exposition text. On the main address only
//! with `Authorization: Bearer <--metrics-token>` (without a token configured
//! the route does not exist: 404); on `--metrics-listen` without a token.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The main address's /metrics, behind the token.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return AppError::NotFound.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        let mut resp = AppError::Unauthenticated.into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    exposition(&state).await
}

async fn open_metrics(State(state): State<AppState>) -> Response {
    exposition(&state).await
}

/// The router of `--metrics-listen`: /metrics and nothing else.
pub fn listener_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(open_metrics))
        .with_state(state)
}

async fn exposition(state: &AppState) -> Response {
    let state = state.clone();
    let text = tokio::task::spawn_blocking(move || {
        refresh(&state);
        crate::metrics::get().encode()
    })
    .await;
    match text {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        Err(_) => AppError::Internal(anyhow::anyhow!("metrics task failed")).into_response(),
    }
}

fn size_of(path: &std::path::Path) -> u64 {
    std::fs::symlink_metadata(path)
        .map(|m| m.len())
        .unwrap_or(0)
}

/// A directory's files, recursively (symlinks not followed).
fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn db_files(path: &std::path::Path) -> u64 {
    let wal = path.with_extension("db-wal");
    size_of(path) + size_of(&wal)
}

/// Sets the gauges that describe the instance now (scrape time, blocking).
fn refresh(state: &AppState) {
    let m = crate::metrics::get();
    let open = state.tenants.open_tenants();
    m.open_organizations.set(open.len() as i64);
    let queued: usize =
        state.control.queue_depth() + open.iter().map(|t| t.db.queue_depth()).sum::<usize>();
    m.writer_queue_depth.set(queued as i64);
    let waiting: usize =
        state.control.reads_waiting() + open.iter().map(|t| t.db.reads_waiting()).sum::<usize>();
    m.read_queue_depth.set(waiting as i64);
    let lag: i64 = open
        .iter()
        .filter_map(|t| {
            t.db.read_blocking(|c| {
                Ok(c.query_row("SELECT count(*) FROM search_outbox", [], |r| {
                    r.get::<_, i64>(0)
                })?)
            })
            .ok()
        })
        .sum();
    m.indexer_lag.set(lag);
    let data = &state.config.data_dir;
    m.database_bytes
        .get_or_create(&crate::metrics::DatabaseLabels {
            database: "control",
        })
        .set(db_files(&data.join("harmonia.db")) as i64);
    let (mut orgs, mut index) = (0u64, 0u64);
    if let Ok(entries) = std::fs::read_dir(data.join("tenants")) {
        for e in entries.flatten() {
            orgs += db_files(&e.path().join("crm.db"));
            index += dir_size(&e.path().join("index"));
        }
    }
    m.database_bytes
        .get_or_create(&crate::metrics::DatabaseLabels {
            database: "organizations",
        })
        .set(orgs as i64);
    m.index_bytes.set(index as i64);
}
