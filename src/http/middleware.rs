//! Cross-cutting HTTP behaviour: one log line per request, the request
//! timeout, security headers, and a guarantee that every API error has the
//! JSON shape, even the ones axum or a layer produced by itself.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// An X-Request-Id a trusted proxy may hand on: short, plain characters
/// (it goes into every log line and back into a header).
fn acceptable_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')))
    .then_some(s)
}

/// One log line per request — method, route template (never the concrete
/// path: it may hold tokens), status, latency — and a request id on it and on
/// every line logged while the request runs (a `request` span), answered in
/// `X-Request-Id`. The id comes from the proxy only with
/// --trust-forwarded-for; otherwise it is made here.
async fn logged(state: &AppState, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let given = state
        .config
        .trust_forwarded_for
        .then(|| req.headers().get(X_REQUEST_ID))
        .flatten()
        .and_then(acceptable_request_id)
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/api/") {
                "(unmatched api)".into()
            } else {
                "(ui)".into()
            }
        });
    let span = tracing::info_span!("request", id = %id);
    let mut resp = tracing::Instrument::instrument(timed(state, req, next), span.clone()).await;
    if crate::metrics::enabled() {
        crate::metrics::get().request(
            crate::metrics::method_label(&method),
            &route,
            resp.status().as_u16(),
            start.elapsed(),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "harmonia::request",
            method = %method,
            route = %route,
            status = resp.status().as_u16(),
            latency_us = start.elapsed().as_micros() as u64,
        )
    });
    resp
}

/// Everything a request passes through on its way in and out, outermost
/// first: the security headers, the size limits, the log line and request
/// id, the timeout, the JSON error shape. One layer rather than five: each
/// layer is a boxed future and a clone of the route for every request, and
/// together they cost a contact's get a few per cent of its core.
pub async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let resp = match refused(&req) {
        Some(refusal) => refusal,
        None => logged(&state, req, next).await,
    };
    secure(&state, is_api, resp)
}

const X_REQUEST_ID: &str = "x-request-id";

async fn timed(state: &AppState, req: Request, next: Next) -> Response {
    // An upload may take longer than any request should; it times out when
    // the client stops sending instead (`crm::files::upload`).
    if req.method() == Method::POST && req.uri().path().ends_with("/files") {
        return in_json(req, next).await;
    }
    match tokio::time::timeout(state.config.request_timeout, in_json(req, next)).await {
        Ok(resp) => resp,
        Err(_) => AppError::Timeout.into_response(),
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

fn secure(state: &AppState, is_api: bool, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    // Stored files carry a stricter policy of their own (a sandbox).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if state.config.secure_cookies() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if is_api && !h.contains_key(header::CACHE_CONTROL) {
        // API answers hold personal data: no shared or disk caches.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Longest request target accepted (path and query), in bytes.
pub const MAX_URI: usize = 32 * 1024;
/// Most header bytes (names and values) accepted in one request.
pub const MAX_HEADERS: usize = 32 * 1024;

/// Refuses an overlong address or oversized headers with the JSON error
/// shape (414, 431), well below the limits where the HTTP library itself
/// would answer with an empty body.
fn refused(req: &Request) -> Option<Response> {
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or(0);
    if uri > MAX_URI {
        return Some(AppError::UriTooLong.into_response());
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    (headers > MAX_HEADERS).then(|| AppError::HeadersTooLarge.into_response())
}

/// Rewrites any non-JSON error from under `/api/` into our error shape.
async fn in_json(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let err = match status {
        StatusCode::NOT_FOUND => AppError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        StatusCode::REQUEST_TIMEOUT => AppError::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            AppError::UnsupportedMediaType("send Content-Type: application/json".into())
        }
        s if s.is_server_error() => AppError::Internal(anyhow::anyhow!("{method} answered {s}")),
        s => AppError::BadRequest(s.canonical_reason().unwrap_or("bad request").to_string()),
    };
    let mut fixed = err.into_response();
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        fixed.headers_mut().insert(header::ALLOW, allow.clone());
    }
    drop(resp.into_body());
    fixed
}

pub async fn api_not_found() -> Response {
    AppError::NotFound.into_response()
}

pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

pub fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}
