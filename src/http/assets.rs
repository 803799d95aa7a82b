//! The web UI, embedded in the binary. `/assets/<hash>/<file>` is cached for a
//! year (the hash changes with any file); every other non-API path gets the
//! app shell with `no-cache`, so client-side routes survive reloads and links.

use std::io::Read;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::read::GzDecoder;

use crate::state::AppState;

/// One file of `web/`, stored gzip-compressed by `build.rs`.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub gzip: &'static [u8],
    /// Uncompressed length, to size the buffer of a client that takes no gzip.
    pub size: usize,
}

// `ASSETS` (sorted by path) and `VERSION`, a short hash of every file: the
// cache-busting part of asset URLs.
include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .map(|i| &ASSETS[i])
}

fn gunzip(asset: &Asset) -> Vec<u8> {
    let mut out = Vec::with_capacity(asset.size);
    // The bytes were compressed by the build from files it read: a failure
    // here is a broken binary, not bad input.
    GzDecoder::new(asset.gzip)
        .read_to_end(&mut out)
        .expect("build.rs wrote valid gzip");
    out
}

/// While editing the UI: `HARMONIA_WEB_DIR=web cargo run` serves the
/// embedded files' names from that folder, read on every request, so a
/// reload shows a change without a rebuild. Debug builds only, and never in
/// the tests (they check what ships).
#[cfg(debug_assertions)]
fn from_disk(path: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("HARMONIA_WEB_DIR")?;
    std::fs::read(std::path::Path::new(&dir).join(path)).ok()
}

#[cfg(not(debug_assertions))]
fn from_disk(_: &str) -> Option<Vec<u8>> {
    None
}

/// The app shell with this build's version in its asset URLs.
static SHELL: LazyLock<Option<String>> = LazyLock::new(|| {
    let file = find("index.html")?;
    Some(String::from_utf8_lossy(&gunzip(file)).replace("{{VERSION}}", VERSION))
});

async fn shell(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::error::AppError::NotFound.into_response();
    }
    let html = match from_disk("index.html") {
        Some(html) => String::from_utf8_lossy(&html).replace("{{VERSION}}", "dev"),
        None => match SHELL.as_ref() {
            Some(html) => html.clone(),
            None => {
                return (
                    StatusCode::NOT_FOUND,
                    "the web UI is not built into this binary",
                )
                    .into_response();
            }
        },
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

/// Whether the client takes gzip: listed (or `*`) without `q=0`. Every
/// browser does; a client that says nothing gets the plain bytes.
fn takes_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut star = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut accepted = true;
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    // An unreadable weight counts as q=0: the plain bytes
                    // are always safe to send.
                    accepted = v.trim().parse::<f32>().is_ok_and(|q| q > 0.0);
                }
            }
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(accepted),
                "*" => star = Some(accepted),
                _ => {}
            }
        }
    }
    gzip.or(star).unwrap_or(false)
}

async fn asset(Path((version, path)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(file) = find(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Only the embedded files' names: nothing else of the disk is reachable.
    if let Some(data) = from_disk(file.path) {
        return (
            [
                (header::CONTENT_TYPE, file.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            data,
        )
            .into_response();
    }
    // An old page asking for an asset under another version gets today's
    // file, but must not keep it under that name.
    let cache = if version == VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if takes_gzip(&headers) {
        let mut r = file.gzip.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        gunzip(file).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{*path}", get(asset))
        .fallback(get(shell))
}
