//! Harmonia under test: the release binary as a child process, driven through
//! its public JSON API with an API key, like any integration.

use crate::Scenario;
use crate::data::{DemoContact, Words};
use crate::load::{MakeRequest, request};
use crate::server::{Server, free_addr, json_answer};
use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const ORG: &str = harmonia::demo::DEMO_SLUG;

pub fn start(
    bin: &Path,
    data_dir: &Path,
    log: &Path,
    cpus: Option<&str>,
    extra: &[&str],
) -> anyhow::Result<(Server, Duration)> {
    let addr = free_addr()?;
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        // Throughput is measured here, not the API rate limit (which would
        // answer 429 long before): the limiter still runs, with no limit.
        .args([
            "--rate-limit-per-minute",
            "0",
            "--rate-limit-anonymous-per-minute",
            "0",
        ])
        .args(extra);
    Server::start("harmonia", cmd, addr, "/healthz", log, cpus)
}

/// Starts Harmonia on `data_dir`, makes an API key and waits until the search
/// index is built and the server is idle: ready to measure.
pub async fn start_ready(
    http: &reqwest::Client,
    bin: &Path,
    data_dir: &Path,
    log: &Path,
    cpus: Option<&str>,
) -> anyhow::Result<(Server, String)> {
    let (server, _) = start(bin, data_dir, log, cpus, &[])?;
    let base = format!("http://{}", server.addr);
    let key = api_key(http, &base).await?;
    wait_index(http, &base, &key).await?;
    server.wait_idle(Duration::from_millis(500));
    Ok((server, key))
}

/// A signed-in browser session: cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Session> {
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("sign-in failed: {} {}", resp.status(), resp.text().await?);
    }
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("harmonia_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_string();
    let body: Value = resp.json().await?;
    let csrf = body["csrf_token"]
        .as_str()
        .context("no csrf_token")?
        .to_string();
    Ok(Session { cookie, csrf })
}

/// POST as a signed-in user; the JSON answer.
pub async fn post(
    http: &reqwest::Client,
    base: &str,
    s: &Session,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let req = http
        .post(format!("{base}/api/v1{path}"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&body);
    json_answer(req, &format!("POST {path}")).await
}

/// A GET with the API key; the JSON answer.
pub async fn get(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
) -> anyhow::Result<Value> {
    let req = http
        .get(format!("{base}/api/v1{path}"))
        .header("authorization", format!("Bearer {key}"));
    json_answer(req, &format!("GET {path}")).await
}

/// Signs in as the demo owner and makes an API key (member role).
pub async fn api_key(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let s = sign_in(
        http,
        base,
        harmonia::demo::DEMO_EMAIL,
        harmonia::demo::DEMO_PASSWORD,
    )
    .await?;
    let made = post(
        http,
        base,
        &s,
        &format!("/orgs/{ORG}/api-keys"),
        json!({"name": "benchmark", "role": "member"}),
    )
    .await?;
    Ok(made["secret"].as_str().context("no secret")?.to_string())
}

/// Waits until the search index is built (a fresh data set rebuilds on open).
pub async fn wait_index(http: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<()> {
    loop {
        let r = get(http, base, key, &format!("/orgs/{ORG}/search?q=a&limit=1")).await?;
        if r["rebuilding"] == Value::Bool(false) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The cursor of the page that starts about `rows` rows into the list sorted by name.
pub async fn cursor_at(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    rows: usize,
) -> anyhow::Result<Option<String>> {
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    while seen < rows {
        let take = (rows - seen).min(200);
        let mut path = format!("/orgs/{ORG}/contacts?sort=name&limit={take}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(http, base, key, &path).await?;
        seen += page["items"].as_array().map(|a| a.len()).unwrap_or(0);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(cursor),
        }
    }
    Ok(cursor)
}

/// What the scenarios need to know about the running server and its data.
pub struct Target {
    pub host: String,
    pub key: String,
    pub ids: Arc<Vec<String>>,
    pub rows: Arc<Vec<DemoContact>>,
    pub deep_cursor: Option<String>,
}

fn with_key(target: &Target) -> (String, String) {
    (target.host.clone(), format!("Bearer {}", target.key))
}

pub fn sign_in_scenario(host: &str) -> MakeRequest {
    let host = host.to_string();
    let body = Bytes::from(
        json!({"email": harmonia::demo::DEMO_EMAIL, "password": harmonia::demo::DEMO_PASSWORD})
            .to_string(),
    );
    Arc::new(move |_| request("POST", &host, "/api/v1/auth/login", "", Some(body.clone())))
}

pub fn scenarios(
    t: &Target,
    words: &Arc<Words>,
    which: &[Scenario],
) -> Vec<(Scenario, MakeRequest)> {
    which.iter().map(|s| (*s, scenario(t, words, *s))).collect()
}

/// The side-by-side contact create against `server` (no ids or cursor needed).
pub fn create_scenario(
    server: &Server,
    key: String,
    rows: &Arc<Vec<DemoContact>>,
    words: &Arc<Words>,
) -> MakeRequest {
    let target = Target {
        host: server.addr.to_string(),
        key,
        ids: Arc::new(Vec::new()),
        rows: rows.clone(),
        deep_cursor: None,
    };
    scenario(&target, words, Scenario::Create)
}

fn scenario(t: &Target, words: &Arc<Words>, s: Scenario) -> MakeRequest {
    let (host, auth) = with_key(t);
    let contacts = format!("/api/v1/orgs/{ORG}/contacts");
    let search = move |s: Scenario| -> MakeRequest {
        let (host, auth, words) = (host.clone(), auth.clone(), words.clone());
        Arc::new(move |rng| {
            let q = rng.pick(words.of(s));
            let path = format!("/api/v1/orgs/{ORG}/search?q={q}&types=contact&limit=20");
            request("GET", &host, &path, &auth, None)
        })
    };
    let (host, auth) = with_key(t);
    match s {
        Scenario::SignIn => sign_in_scenario(&host),
        Scenario::Create => {
            let rows = t.rows.clone();
            Arc::new(move |rng| {
                let body = Value::Object(rng.pick(&rows).create_fields()).to_string();
                request("POST", &host, &contacts, &auth, Some(body.into()))
            })
        }
        Scenario::Get => {
            let ids = t.ids.clone();
            Arc::new(move |rng| {
                let path = format!("{contacts}/{}", rng.pick(&ids));
                request("GET", &host, &path, &auth, None)
            })
        }
        Scenario::ListFirst => {
            let path = format!("{contacts}?sort=name&limit=50");
            Arc::new(move |_| request("GET", &host, &path, &auth, None))
        }
        Scenario::ListDeep => {
            let path = match &t.deep_cursor {
                Some(c) => format!("{contacts}?sort=name&limit=50&cursor={c}"),
                None => format!("{contacts}?sort=name&limit=50"),
            };
            Arc::new(move |_| request("GET", &host, &path, &auth, None))
        }
        Scenario::ListStage => {
            let path = format!("{contacts}?sort=name&limit=50&stage=customer");
            Arc::new(move |_| request("GET", &host, &path, &auth, None))
        }
        Scenario::SearchPrefix | Scenario::SearchWord | Scenario::SearchTypo => search(s),
        Scenario::Update | Scenario::StageUpdate => {
            let ids = t.ids.clone();
            let patch = crate::data::patch_of(s);
            Arc::new(move |rng| {
                let path = format!("{contacts}/{}", rng.pick(&ids));
                let body = patch(rng);
                request("PATCH", &host, &path, &auth, Some(body))
            })
        }
    }
}
