//! The delivery job: POSTs due deliveries, signed, to their hooks, records
//! every attempt, and schedules retries with exponential back-off for up to
//! three days; a hook failing that long is disabled and its organization's
//! admins are told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use time::OffsetDateTime;

use super::queue::{self, Due, Outcome};
use super::store;
use super::{secret_purpose, sign, ssrf};
use crate::clock;
use crate::state::AppState;
use crate::tenant::Tenant;

/// Deliveries are retried for this long after their event, then given up.
pub const GIVE_UP_AFTER: time::Duration = time::Duration::days(3);
/// The longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(6 * 3600);
/// Deliveries taken per batch, and at most in flight at once.
const BATCH: i64 = 500;
const IN_FLIGHT: usize = 32;
/// A run stops taking new batches after this long (the job runs again).
const RUN_FOR: Duration = Duration::from_secs(50);
/// At most this much of an answer is kept in the log.
pub const EXCERPT: usize = 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before try number `attempts + 1` (after `attempts` failures).
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    base.saturating_mul(1u32 << doublings.min(20)).min(MAX_WAIT)
}

/// Delivers everything due — retries whose time has come and the events
/// the hooks have not handled yet — and returns when the next retry is due.
pub async fn run(
    state: &AppState,
    tenant: &Arc<Tenant>,
    now: OffsetDateTime,
) -> anyhow::Result<Option<OffsetDateTime>> {
    let started = Instant::now();
    let org_id = tenant.org_id.clone();
    let org = {
        let id = org_id.clone();
        state
            .control
            .read(move |c| {
                Ok(
                    c.query_row("SELECT slug FROM orgs WHERE id = ?1", [&id], |r| {
                        r.get::<_, String>(0)
                    })?,
                )
            })
            .await?
    };
    let mut now = now;
    loop {
        let at = clock::stamp(now);
        let (retries, fresh) = tenant
            .db
            .read(move |c| Ok((queue::retries(c, &at, BATCH)?, queue::fresh(c, BATCH)?)))
            .await?;
        let full = retries.len() as i64 == BATCH || fresh.full;
        let through = fresh.through;
        let mut due = retries;
        due.extend(fresh.due);
        if due.is_empty() && through.is_none() {
            break;
        }
        let outcomes = send_all(state, &org_id, &org, due).await;
        let give_up_before = clock::stamp(clock::now() - GIVE_UP_AFTER);
        let disabled = tenant
            .write(move |tx| {
                let disabled = queue::record(tx, &outcomes, &give_up_before)?;
                if let Some(seq) = through {
                    queue::advance(tx, seq)?;
                }
                Ok(disabled)
            })
            .await?;
        for hook in disabled {
            tell_admins(state, &org_id, &org, &hook).await;
        }
        now = clock::now();
        if !full || started.elapsed() > RUN_FOR {
            break;
        }
    }
    let next = tenant.db.read(queue::next_pending).await?;
    Ok(next.as_deref().and_then(parse))
}

async fn tell_admins(state: &AppState, org_id: &str, slug: &str, hook: &store::Webhook) {
    let (org, key, title) = (
        org_id.to_string(),
        format!("{}:{}", hook.id, hook.updated_at),
        format!(
            "Webhook to {} was disabled: its deliveries failed for three days ({slug})",
            hook.url
        ),
    );
    let done = state
        .control
        .write(move |c| {
            crate::platform::notifications::notify_admins(c, &org, "webhook_disabled", &key, &title)
        })
        .await;
    if let Err(e) = done {
        tracing::error!(org = %org_id, error = %e, "telling admins about a disabled webhook failed");
    }
    tracing::warn!(org = %org_id, hook = %hook.id, "webhook disabled after three days of failures");
}

/// A hook's client: its secret, its URL parsed once for all its deliveries,
/// and the addresses it may reach (or why not).
struct Hook {
    secret: Option<zeroize::Zeroizing<String>>,
    client: Result<(reqwest::Client, reqwest::Url), String>,
}

async fn prepare(state: &AppState, org_id: &str, d: &Due) -> Hook {
    let (id, org, purpose) = (
        d.secret_id.clone(),
        org_id.to_string(),
        secret_purpose(&d.hook_id),
    );
    let st = state.clone();
    let secret = state
        .control
        .read(move |c| st.vault.reveal(c, &id, &org, &purpose))
        .await;
    let secret = match secret {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(org = %org_id, hook = %d.hook_id, error = %e, "webhook secret unreadable");
            None
        }
    };
    let client = match ssrf::check_syntax(&d.url) {
        Err(e) => Err(format!("the URL {e}")),
        Ok(url) => match ssrf::resolve(&url, state.config.webhooks_allow_private).await {
            Err(e) => Err(format!("refused: {e}")),
            Ok(target) => client_for(&target).map(|c| (c, target.url)),
        },
    };
    Hook { secret, client }
}

/// Clients kept between delivery runs, by host and the addresses it was
/// checked to reach. Building one parses the system's root certificates (a
/// few milliseconds, on every run for every hook before), and a kept client
/// keeps its connections to the receiver open. The addresses are in the key:
/// a host that now resolves elsewhere gets a new client, and `ssrf::resolve`
/// checks every run's answer before a client is looked up.
type Clients = lru::LruCache<(String, Vec<std::net::SocketAddr>), reqwest::Client>;
static CLIENTS: std::sync::LazyLock<std::sync::Mutex<Clients>> = std::sync::LazyLock::new(|| {
    std::sync::Mutex::new(lru::LruCache::new(
        std::num::NonZeroUsize::new(256).unwrap_or(std::num::NonZeroUsize::MIN),
    ))
});

/// A client that connects only to the checked addresses, follows no
/// redirect and uses no proxy.
fn client_for(target: &ssrf::Target) -> Result<reqwest::Client, String> {
    let key = (target.host.clone(), target.addrs.clone());
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(client) = clients.get(&key) {
        return Ok(client.clone());
    }
    // reqwest takes the process's provider (ring): the binary carries one.
    crate::crypto::install_default_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Harmonia-Webhooks/", env!("CARGO_PKG_VERSION")))
        .resolve_to_addrs(&target.host, &target.addrs)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    clients.put(key, client.clone());
    Ok(client)
}

/// Sends `due` with up to `IN_FLIGHT` requests on the wire at once, all
/// from this task (a task per delivery cost a spawn, a semaphore and a
/// wake-up each, for nothing: sending is waiting).
async fn send_all(state: &AppState, org_id: &str, slug: &str, due: Vec<Due>) -> Vec<Outcome> {
    let mut hooks: HashMap<String, Hook> = HashMap::new();
    for d in &due {
        // A disabled hook gets only test events.
        if !hooks.contains_key(&d.hook_id) && (d.enabled || d.event_type == super::TEST_EVENT) {
            let h = prepare(state, org_id, d).await;
            hooks.insert(d.hook_id.clone(), h);
        }
    }
    let base = state.config.webhook_retry_base;
    let hooks = &hooks;
    let sends = due.into_iter().map(|d| async move {
        match hooks
            .get(&d.hook_id)
            .filter(|_| d.enabled || d.event_type == super::TEST_EVENT)
        {
            Some(hook) => send_one(hook, d, org_id, slug, base).await,
            None => skipped(d),
        }
    });
    futures_util::stream::iter(sends)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await
}

fn skipped(d: Due) -> Outcome {
    Outcome {
        due: d,
        at: clock::now_stamp(),
        status_code: None,
        latency_ms: 0,
        error: None,
        response: String::new(),
        ok: false,
        retry_at: None,
        skipped: true,
    }
}

/// The body receivers get: `{id, type, created_at, org, data}`. The
/// event's data is kept as the JSON text the change wrote; it goes in as it
/// is, not parsed and written out again for every delivery.
pub fn body(d: &Due, org_id: &str, slug: &str) -> Vec<u8> {
    let head = json!({
        "id": d.event_id,
        "type": d.event_type,
        "created_at": d.event_at,
        "org": {"id": org_id, "slug": slug},
    });
    let mut out = head.to_string().into_bytes();
    out.pop(); // its closing brace
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(d.data.as_bytes());
    out.push(b'}');
    out
}

async fn send_one(hook: &Hook, d: Due, org_id: &str, slug: &str, base: Duration) -> Outcome {
    let at = clock::now_stamp();
    let started = Instant::now();
    let result: Result<(u16, String), String> = match (&hook.client, &hook.secret) {
        (Err(e), _) => Err(e.clone()),
        (_, None) => Err("the signing secret cannot be read (see the server log)".into()),
        (Ok((client, url)), Some(secret)) => {
            let body = body(&d, org_id, slug);
            let t = clock::now().unix_timestamp();
            let sent = client
                .post(url.clone())
                .header("content-type", "application/json")
                .header(sign::HEADER, sign::header_value(secret, t, &body))
                .header("Harmonia-Event-Id", &d.event_id)
                .header("Harmonia-Event-Type", &d.event_type)
                .body(body)
                .send()
                .await;
            match sent {
                Err(e) => Err(describe(e)),
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let mut excerpt = Vec::new();
                    while excerpt.len() < EXCERPT {
                        match resp.chunk().await {
                            Ok(Some(c)) => excerpt.extend_from_slice(&c),
                            _ => break,
                        }
                    }
                    excerpt.truncate(EXCERPT);
                    Ok((status, String::from_utf8_lossy(&excerpt).into_owned()))
                }
            }
        }
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error, response, ok) = match result {
        Ok((s, r)) => (
            Some(i64::from(s)),
            (!(200..300).contains(&s)).then(|| format!("the receiver answered {s}")),
            r,
            (200..300).contains(&s),
        ),
        Err(e) => (None, Some(e), String::new(), false),
    };
    let retry_at = if ok {
        None
    } else {
        let next = clock::now()
            + time::Duration::try_from(backoff(base, d.attempts + 1))
                .unwrap_or(time::Duration::HOUR);
        let deadline = parse(&d.created_at).map(|c| c + GIVE_UP_AFTER);
        match deadline {
            Some(limit) if next > limit => None,
            _ if d.event_type == super::TEST_EVENT => None,
            _ => Some(clock::stamp(next)),
        }
    };
    Outcome {
        due: d,
        at,
        status_code,
        latency_ms,
        error,
        response,
        ok,
        retry_at,
        skipped: false,
    }
}

/// A transport error in a sentence (no URL repeated, no secret).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        format!("request failed: {}", e.without_url())
    }
}

fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_body_carries_the_events_data_as_written() {
        let data = r#"{"kind":"contact","id":"c1","record":{"first_name":"Zoë \"Z\" <b>"}}"#;
        let d = Due {
            delivery_id: None,
            hook_id: "h1".into(),
            event_seq: 1,
            event_id: "evt_1".into(),
            attempts: 0,
            created_at: "2026-12-06T00:00:00Z".into(),
            event_type: "contact.created".into(),
            event_at: "2026-12-06T00:00:00Z".into(),
            data: data.into(),
            url: "http://127.0.0.1:9/".into(),
            secret_id: "s1".into(),
            enabled: true,
        };
        let body: Value = serde_json::from_slice(&body(&d, "o1", "acme")).expect("JSON");
        assert_eq!(
            body,
            json!({
                "id": "evt_1",
                "type": "contact.created",
                "created_at": "2026-12-06T00:00:00Z",
                "org": {"id": "o1", "slug": "acme"},
                "data": serde_json::from_str::<Value>(data).expect("data"),
            })
        );
    }
}
