//! The API's front gate: the rate limit (`auth::rate_limit`) with its
//! `RateLimit-Limit`/`-Remaining`/`-Reset` headers on every answer (and
//! `Retry-After` on a 429), and the per-organization request log
//! (`audit::requests`), noted once the answer is ready.

use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::audit::requests::{ApiRequest, RequestSlot};
use crate::auth::caller::Credentials;
use crate::auth::rate_limit::{Bucket, Decision};
use crate::clock;
use crate::error::AppError;
use crate::platform::client_ip::ClientIp;
use crate::state::AppState;

pub async fn api_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let ClientIp(ip) = match ClientIp::from_request_parts(&mut parts, &state).await {
        Ok(ip) => ip,
        Err(e) => return e.into_response(),
    };
    // Keyed by what was presented, before any lookup: a limit that needs
    // the database would itself be a way to load it.
    let bucket = match Credentials::from_parts(&parts) {
        Ok(Credentials::ApiKey(s) | Credentials::Session(s)) => state.rate_limits.credential(&s),
        Err(_) => Bucket::Address(ip),
    };
    let decision = state.rate_limits.take(bucket, ip, start);
    if let Some(d) = decision
        && !d.allowed
    {
        let mut resp = AppError::RateLimited {
            retry_after_secs: d.retry_after_secs,
        }
        .into_response();
        headers(resp.headers_mut(), &d);
        return resp;
    }
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".into());
    let method = parts.method.to_string();
    let slot = RequestSlot::default();
    parts.extensions.insert(slot.clone());

    let mut resp = next.run(Request::from_parts(parts, body)).await;

    let status = resp.status();
    if decision.is_some() {
        state.rate_limits.settle(
            bucket,
            ip,
            status == StatusCode::UNAUTHORIZED,
            Instant::now(),
        );
    }
    if let Some(d) = decision {
        headers(resp.headers_mut(), &d);
    }
    if let Some((org_id, actor)) = slot.take() {
        state.api_requests.note(ApiRequest {
            org_id,
            at: clock::now_stamp(),
            actor_kind: actor.kind,
            actor_id: actor.id,
            actor_label: actor.label,
            method,
            route,
            status: status.as_u16(),
            latency_ms: start.elapsed().as_millis() as u64,
            ip: ip.to_string(),
        });
    }
    resp
}

fn headers(h: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("ratelimit-limit", d.limit as u64),
        ("ratelimit-remaining", d.remaining as u64),
        ("ratelimit-reset", d.reset_secs),
    ] {
        h.insert(name, HeaderValue::from(value));
    }
}
