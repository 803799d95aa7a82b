//! The web UI, embedded in the binary. `/assets/<hash>/<file>` is cached for a
//! year (the hash changes with any file); every other non-API path gets the
//! app shell with `no-cache`, so client-side routes survive reloads and links.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Web;

/// A short hash of every embedded file: the cache-busting part of asset URLs.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut names: Vec<_> = Web::iter().collect();
    names.sort();
    let mut h = Sha256::new();
    for name in names {
        h.update(name.as_bytes());
        if let Some(f) = Web::get(&name) {
            h.update(f.metadata.sha256_hash());
        }
    }
    hex::encode(&h.finalize()[..6])
});

async fn shell(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::error::AppError::NotFound.into_response();
    }
    let Some(file) = Web::get("index.html") else {
        return (
            StatusCode::NOT_FOUND,
            "the web UI is not built into this binary",
        )
            .into_response();
    };
    let html = String::from_utf8_lossy(&file.data).replace("{{VERSION}}", &VERSION);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        html,
    )
        .into_response()
}

async fn asset(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(file) = Web::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Debug builds read web/ from disk on every request, so the hash of the
    // start-up files may no longer match: never let a browser keep them.
    let cache = if version == *VERSION && !cfg!(debug_assertions) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = file.metadata.mimetype().to_string();
    let mime = if path.ends_with(".js") {
        "text/javascript; charset=utf-8".to_string()
    } else {
        mime
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&mime)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{*path}", get(asset))
        .fallback(get(shell))
}
