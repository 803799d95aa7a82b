//! The delivery job: POSTs due deliveries, signed, to their hooks, records
//! every attempt, and schedules retries with exponential back-off for up to
//! three days; a hook failing that long is disabled and its organization's
//! admins are told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::client::{Answer, Endpoint};
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
/// Deliveries taken per batch.
const BATCH: i64 = 500;
/// A run stops taking new batches after this long (the job runs again).
const RUN_FOR: Duration = Duration::from_secs(50);
/// At most this much of an answer is kept in the log.
pub const EXCERPT: usize = 1024;

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

/// A hook as a run sends to it: its secret, and its receiver with the URL
/// parsed once for all its deliveries (or why it cannot be reached).
struct Hook {
    secret: Option<zeroize::Zeroizing<String>>,
    endpoint: Result<(Arc<Endpoint>, url::Url), String>,
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
    let endpoint = match ssrf::check_syntax(&d.url) {
        Err(e) => Err(format!("the URL {e}")),
        Ok(url) => match ssrf::resolve(&url, state.config.webhooks_allow_private).await {
            Err(e) => Err(format!("refused: {e}")),
            Ok(target) => endpoint_for(&target).map(|e| (e, target.url)),
        },
    };
    Hook { secret, endpoint }
}

/// Receivers kept between delivery runs, by scheme, host, port and the
/// addresses they were checked to reach: a kept one keeps its connections
/// open. The addresses are in the key: a host that now resolves elsewhere
/// gets a new endpoint, and `ssrf::resolve` checks every run's answer
/// before an endpoint is looked up.
type Endpoints = lru::LruCache<(String, String, u16, Vec<std::net::SocketAddr>), Arc<Endpoint>>;
static ENDPOINTS: std::sync::LazyLock<std::sync::Mutex<Endpoints>> =
    std::sync::LazyLock::new(|| {
        std::sync::Mutex::new(lru::LruCache::new(
            std::num::NonZeroUsize::new(256).unwrap_or(std::num::NonZeroUsize::MIN),
        ))
    });

fn endpoint_for(target: &ssrf::Target) -> Result<Arc<Endpoint>, String> {
    let key = (
        target.url.scheme().to_string(),
        target.host.clone(),
        target.url.port_or_known_default().unwrap_or(0),
        target.addrs.clone(),
    );
    let mut endpoints = ENDPOINTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = endpoints.get(&key) {
        return Ok(e.clone());
    }
    let e = Arc::new(Endpoint::new(target)?);
    endpoints.put(key, e.clone());
    Ok(e)
}

/// A receiver's share of a run: each delivery with its request.
type Batch = Vec<(Due, Vec<u8>)>;

/// Sends `due`: the deliveries to each receiver together (see `client`:
/// pipelined over a few connections), the receivers at once.
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
    let mut out = Vec::with_capacity(due.len());
    // Requests by receiver, in the order of `due`.
    let mut batches: Vec<(Arc<Endpoint>, Batch)> = Vec::new();
    for d in due {
        let hook = hooks
            .get(&d.hook_id)
            .filter(|_| d.enabled || d.event_type == super::TEST_EVENT);
        let Some(hook) = hook else {
            out.push(skipped(d));
            continue;
        };
        let request = match (&hook.endpoint, &hook.secret) {
            (Err(e), _) => Err(e.clone()),
            (_, None) => Err("the signing secret cannot be read (see the server log)".into()),
            (Ok((endpoint, url)), Some(secret)) => {
                let body = body(&d, org_id, slug);
                let t = clock::now().unix_timestamp();
                let signature = sign::header_value(secret, t, &body);
                let request = endpoint.post(
                    url,
                    &[
                        ("content-type", "application/json"),
                        (sign::HEADER, &signature),
                        ("harmonia-event-id", &d.event_id),
                        ("harmonia-event-type", &d.event_type),
                    ],
                    &body,
                );
                Ok((endpoint, request))
            }
        };
        match request {
            Err(why) => out.push(outcome(d, Err(why), Duration::ZERO, base)),
            Ok((endpoint, request)) => {
                match batches.iter_mut().find(|(e, _)| Arc::ptr_eq(e, endpoint)) {
                    Some((_, batch)) => batch.push((d, request)),
                    None => batches.push((endpoint.clone(), vec![(d, request)])),
                }
            }
        }
    }
    let sent = batches.into_iter().map(|(endpoint, batch)| async move {
        let (due, requests): (Vec<Due>, Vec<Vec<u8>>) = batch.into_iter().unzip();
        let answers = endpoint.send(requests).await;
        due.into_iter()
            .zip(answers)
            .map(|(d, (answer, took))| outcome(d, answer, took, base))
            .collect::<Vec<_>>()
    });
    for outcomes in futures_util::future::join_all(sent).await {
        out.extend(outcomes);
    }
    out
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
    let mut out = Vec::with_capacity(192 + d.data.len());
    for (key, value) in [
        ("{\"id\":", d.event_id.as_str()),
        (",\"type\":", &d.event_type),
        (",\"created_at\":", &d.event_at),
        (",\"org\":{\"id\":", org_id),
        (",\"slug\":", slug),
    ] {
        out.extend_from_slice(key.as_bytes());
        // A string written into memory cannot fail.
        let _ = serde_json::to_writer(&mut out, value);
    }
    out.extend_from_slice(b"},\"data\":");
    out.extend_from_slice(d.data.as_bytes());
    out.push(b'}');
    out
}

/// How a delivery ended, from its answer (or why there was none).
fn outcome(d: Due, answer: Result<Answer, String>, took: Duration, base: Duration) -> Outcome {
    // The attempt's time is when it was sent.
    let at = clock::stamp(clock::now() - time::Duration::try_from(took).unwrap_or_default());
    let latency_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
    let (status_code, error, response, ok) = match answer {
        Ok(a) => {
            let ok = (200..300).contains(&a.status);
            (
                Some(i64::from(a.status)),
                (!ok).then(|| format!("the receiver answered {}", a.status)),
                String::from_utf8_lossy(&a.excerpt).into_owned(),
                ok,
            )
        }
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

fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
        let body: Value = serde_json::from_slice(&body(&d, "o1", "a\"c\\me")).expect("JSON");
        assert_eq!(
            body,
            json!({
                "id": "evt_1",
                "type": "contact.created",
                "created_at": "2026-12-06T00:00:00Z",
                "org": {"id": "o1", "slug": "a\"c\\me"},
                "data": serde_json::from_str::<Value>(data).expect("data"),
            })
        );
    }
}
