//! TrailBase, the second peer: the Rust + SQLite application server (axum,
//! rusqlite; one writer thread), version 0.2.0, built from crates.io by
//! `../shared/peers/trailbase` into a minimal server binary (`tbpeer`). It
//! gets a `contacts` table with a record API that the world may read, create
//! and update: TrailBase then checks no credentials at all, its best case.
//! The same rows are written straight into its SQLite file.

use crate::Scenario;
use crate::data::{DemoContact, Words};
use crate::load::{MakeRequest, request};
use crate::server::{Server, free_addr, json_answer};
use anyhow::{Context, bail};
use bytes::Bytes;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

pub const VERSION: &str = "0.2.0";
const MEMBER: &str = "member@bench.example";
const PASSWORD: &str = "benchmark password 1";
const RECORDS: &str = "/api/records/v1/contacts";

/// The table and index of `../shared/peers/trailbase/README.md`, and an
/// index that serves the lists' order. The README's leads with `org`, which
/// serves a list only with `org = 'demo'` in its WHERE, and TrailBase 0.2
/// cannot filter on that (`filters_as_text`): without the second index every
/// list page would scan and sort the whole table.
const CONTACTS_SQL: &str = "\
CREATE TABLE contacts (id BLOB PRIMARY KEY NOT NULL CHECK(is_uuid_v7(id)) DEFAULT (uuid_v7()), \
first_name TEXT, last_name TEXT, email TEXT, phone TEXT, job_title TEXT, stage TEXT, org TEXT) STRICT;
CREATE INDEX idx_contacts_org_name ON contacts (org, last_name, first_name);
CREATE INDEX idx_contacts_name ON contacts (last_name, first_name);
";

/// The member who signs in (a verified user; TrailBase's own SQL function
/// hashes the password as its sign-up would, Argon2id).
const MEMBER_SQL: &str = "INSERT INTO _user (email, password_hash, verified) \
VALUES ('member@bench.example', hash_password('benchmark password 1'), TRUE);\n";

/// The record API: the world may create, read and update.
const RECORD_API: &str = "\nrecord_apis: [{ name: \"contacts\" table_name: \"contacts\" \
acl_world: [CREATE, READ, UPDATE] }]\n";

/// Where the benchmark looks for the binary unless told (`--trailbase-bin`).
pub fn default_bin(cache: &Path) -> PathBuf {
    cache.join("trailbase").join("tbpeer")
}

pub fn start(
    bin: &Path,
    dir: &Path,
    log: &Path,
    cpus: Option<&str>,
) -> anyhow::Result<(Server, Duration)> {
    let addr = free_addr()?;
    let mut cmd = Command::new(bin);
    cmd.arg(dir).arg(addr.to_string());
    Server::start("trailbase", cmd, addr, "/api/healthcheck", log, cpus)
}

/// A contact as TrailBase's table holds it: one email and one phone (the
/// first of the demo row's), no company.
pub struct TbContact<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub job_title: Option<&'a str>,
    pub stage: &'a str,
}

impl<'a> TbContact<'a> {
    pub fn of(row: &'a DemoContact) -> TbContact<'a> {
        let first = |json: &str, key: &str| -> Option<String> {
            serde_json::from_str::<Value>(json)
                .ok()?
                .get(0)?
                .get(key)?
                .as_str()
                .map(str::to_string)
        };
        TbContact {
            first_name: &row.first_name,
            last_name: &row.last_name,
            email: first(&row.emails_json, "email"),
            phone: first(&row.phones_json, "phone"),
            job_title: row.job_title.as_deref(),
            stage: &row.stage,
        }
    }

    fn create_body(&self) -> Bytes {
        let mut m = serde_json::Map::new();
        m.insert("first_name".into(), self.first_name.into());
        m.insert("last_name".into(), self.last_name.into());
        if let Some(e) = &self.email {
            m.insert("email".into(), e.clone().into());
        }
        if let Some(p) = &self.phone {
            m.insert("phone".into(), p.clone().into());
        }
        if let Some(t) = self.job_title {
            m.insert("job_title".into(), t.into());
        }
        m.insert("stage".into(), self.stage.into());
        m.insert("org".into(), ORG.into());
        Value::Object(m).to_string().into()
    }
}

/// The organization every row belongs to. With a world ACL TrailBase
/// confines nothing, and no request filters on it (it could not: see
/// `CONTACTS_SQL`).
const ORG: &str = "demo";

/// A fresh TrailBase data folder with the table, the record API, the member,
/// and `rows` (written straight into `data/main.db` in one transaction).
/// Returns the TrailBase ids of the rows (UUIDv7, text form), in order.
pub fn prepare(
    bin: &Path,
    dir: &Path,
    log: &Path,
    rows: &[DemoContact],
) -> anyhow::Result<Vec<String>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    // The first start lays out the folder: config, databases, migrations.
    let (server, _) = start(bin, dir, log, None)?;
    server.stop()?;
    let migrations = dir.join("migrations");
    std::fs::write(migrations.join("U1764633600__contacts.sql"), CONTACTS_SQL)?;
    std::fs::write(migrations.join("U1764633601__member.sql"), MEMBER_SQL)?;
    let config = dir.join("config.textproto");
    let mut text = std::fs::read_to_string(&config)
        .with_context(|| format!("no {} after TrailBase's first start", config.display()))?;
    text.push_str(RECORD_API);
    std::fs::write(&config, text)?;
    // The second start applies the migrations and checks the record API.
    let (server, _) = start(bin, dir, log, None)?;
    server.stop()?;

    let db_path = dir.join("data").join("main.db");
    let mut db = Connection::open(&db_path)
        .with_context(|| format!("opening TrailBase's {}", db_path.display()))?;
    // The table's CHECK and DEFAULT call TrailBase's SQL functions; the same
    // checks here, so that the rows are ones TrailBase would accept.
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    db.create_scalar_function("is_uuid_v7", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => true,
            ValueRef::Blob(b) => b.len() == 16 && b[6] >> 4 == 7,
            _ => false,
        })
    })?;
    db.create_scalar_function("uuid_v7", 0, FunctionFlags::SQLITE_UTF8, |_| {
        Ok(uuid::Uuid::now_v7().as_bytes().to_vec())
    })?;
    let ids: Vec<uuid::Uuid> = (0..rows.len()).map(row_id).collect();
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO contacts (id, first_name, last_name, email, phone, job_title, stage, org)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (row, id) in rows.iter().zip(&ids) {
            let c = TbContact::of(row);
            insert.execute(params![
                id.as_bytes().as_slice(),
                c.first_name,
                c.last_name,
                c.email,
                c.phone,
                c.job_title,
                c.stage,
                ORG,
            ])?;
        }
    }
    tx.commit()?;
    db.execute_batch("ANALYZE")?;
    Ok(ids.iter().map(|u| u.hyphenated().to_string()).collect())
}

/// Row `i`'s id: a UUIDv7 one millisecond after the last (from 2026-01-01).
fn row_id(i: usize) -> uuid::Uuid {
    let mut rand = [0u8; 10];
    rand[2..].copy_from_slice(&(i as u64).to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(1_767_225_600_000 + i as u64, &rand).into_uuid()
}

/// The (last name, first name) a deep page starts after.
pub struct Keyset {
    pub last: String,
    pub first: String,
}

/// TrailBase 0.2 reads a filter value as bytes when it decodes as URL-safe
/// base64 (`demo`, `customer`, `Hans`), as a number when it parses as one,
/// and as a boolean for `true`/`false`: such a value cannot match a text
/// column. True for values it keeps as text.
pub fn filters_as_text(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.decode(s).is_err()
        && s.parse::<f64>().is_err()
        && !matches!(s, "true" | "TRUE" | "false" | "FALSE")
}

/// The keyset of the row at about `at` in name order: the first row from
/// there whose (last name, first name) the next row does not share (so the
/// keyset is exact without an id) and whose names filter as text.
pub fn keyset_at(rows: &[DemoContact], at: usize) -> Option<Keyset> {
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.last_name.as_str(), r.first_name.as_str()))
        .collect();
    keys.sort_unstable();
    (at..keys.len().saturating_sub(1))
        .find(|&i| {
            keys[i] != keys[i + 1] && filters_as_text(keys[i].0) && filters_as_text(keys[i].1)
        })
        .map(|i| Keyset {
            last: keys[i].0.to_string(),
            first: keys[i].1.to_string(),
        })
}

/// One filter parameter: `filter[a][b]…=value`, brackets percent-encoded
/// (TrailBase parses its query string in serde_qs's non-strict mode).
fn filter(path: &[&str], value: &str) -> String {
    let mut out = String::from("&filter");
    for p in path {
        out.push_str("%5B");
        out.push_str(p);
        out.push_str("%5D");
    }
    out.push('=');
    out.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    out
}

/// A page of 50 sorted by name (the README's `order=last_name,first_name`).
fn list_path(filters: &str) -> String {
    format!("{RECORDS}?limit=50&order=last_name,first_name{filters}")
}

/// The filter of the stage scenario. `filter[stage]=customer` matches no
/// row in TrailBase 0.2 (`customer` decodes as base64, and is compared as
/// bytes); a LIKE pattern with `%` stays text, and among the four stages
/// `customer%` is `customer` alone.
fn stage_filter() -> String {
    filter(&["stage", "$like"], "customer%")
}

/// The deep page's filter: `(last, first) > keyset`, plus the redundant
/// `last_name >= last` that lets SQLite start the index walk there.
fn deep_filter(k: &Keyset) -> String {
    [
        filter(&["last_name", "$gte"], &k.last),
        filter(&["$or", "0", "last_name", "$gt"], &k.last),
        filter(&["$or", "1", "last_name"], &k.last),
        filter(&["$or", "1", "first_name", "$gt"], &k.first),
    ]
    .concat()
}

/// What the scenarios need to know about the running TrailBase.
pub struct Target {
    pub host: String,
    pub ids: Arc<Vec<String>>,
    pub rows: Arc<Vec<DemoContact>>,
    pub deep_after: Option<Keyset>,
}

/// Requests each read scenario once and checks its answer has rows, so a
/// filter TrailBase reads differently cannot pass as a fast empty page.
pub async fn check(http: &reqwest::Client, t: &Target) -> anyhow::Result<()> {
    let base = format!("http://{}", t.host);
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move { json_answer(http.get(&url), &url).await }
    };
    let one = get(format!("{RECORDS}/{}", t.ids[0])).await?;
    if one["first_name"] != t.rows[0].first_name.as_str() {
        bail!("trailbase: record {} is not the first row: {one}", t.ids[0]);
    }
    let mut pages = vec![("first page", list_path(""), 50)];
    pages.push(("stage", list_path(&stage_filter()), 1));
    if let Some(k) = &t.deep_after {
        pages.push(("deep page", list_path(&deep_filter(k)), 1));
    }
    for (what, path, least) in pages {
        let page = get(path).await?;
        let n = page["records"].as_array().map(Vec::len).unwrap_or(0);
        if n < least {
            bail!("trailbase: the {what} list answered {n} records: {page}");
        }
        if what == "stage" && page["records"][0]["stage"] != "customer" {
            bail!("trailbase: the stage list answered {page}");
        }
        if let (Some(k), "deep page") = (&t.deep_after, what) {
            let r = &page["records"][0];
            let key = (r["last_name"].as_str(), r["first_name"].as_str());
            if key <= (Some(k.last.as_str()), Some(k.first.as_str())) {
                bail!("trailbase: the deep page starts at {key:?}");
            }
        }
    }
    Ok(())
}

/// Why a scenario has no TrailBase figure, or None when it runs.
pub fn missing(s: Scenario, t: &Target) -> Option<&'static str> {
    match s {
        Scenario::ListDeep if t.deep_after.is_none() => Some("no keyset row in the data"),
        _ => None,
    }
}

pub fn scenarios(
    t: &Target,
    words: &Arc<Words>,
    which: &[Scenario],
) -> Vec<(Scenario, Result<MakeRequest, &'static str>)> {
    which
        .iter()
        .map(|s| match missing(*s, t) {
            Some(why) => (*s, Err(why)),
            None => (*s, Ok(scenario(t, words, *s))),
        })
        .collect()
}

fn scenario(t: &Target, words: &Arc<Words>, s: Scenario) -> MakeRequest {
    let host = t.host.clone();
    let list = |filters: String| -> MakeRequest {
        let (host, path) = (t.host.clone(), list_path(&filters));
        Arc::new(move |_| request("GET", &host, &path, "", None))
    };
    // No full-text index: a contains-match (LIKE) over the same fields, as
    // PocketBase's; no typo tolerance.
    let search = |s: Scenario| -> MakeRequest {
        let (host, words) = (t.host.clone(), words.clone());
        Arc::new(move |rng| {
            let q = format!("%{}%", rng.pick(words.of(s)));
            let path = format!(
                "{RECORDS}?limit=20{}{}{}",
                filter(&["$or", "0", "first_name", "$like"], &q),
                filter(&["$or", "1", "last_name", "$like"], &q),
                filter(&["$or", "2", "email", "$like"], &q),
            );
            request("GET", &host, &path, "", None)
        })
    };
    match s {
        Scenario::SignIn => {
            let body = Bytes::from(json!({"email": MEMBER, "password": PASSWORD}).to_string());
            Arc::new(move |_| request("POST", &host, "/api/auth/v1/login", "", Some(body.clone())))
        }
        Scenario::Create => {
            let bodies: Arc<Vec<Bytes>> = Arc::new(
                t.rows
                    .iter()
                    .map(|r| TbContact::of(r).create_body())
                    .collect(),
            );
            Arc::new(move |rng| {
                let body = rng.pick(&bodies).clone();
                request("POST", &host, RECORDS, "", Some(body))
            })
        }
        Scenario::Get => {
            let ids = t.ids.clone();
            Arc::new(move |rng| {
                let path = format!("{RECORDS}/{}", rng.pick(&ids));
                request("GET", &host, &path, "", None)
            })
        }
        Scenario::ListFirst => list(String::new()),
        Scenario::ListDeep => list(t.deep_after.as_ref().map(deep_filter).unwrap_or_default()),
        Scenario::ListStage => list(stage_filter()),
        Scenario::SearchPrefix | Scenario::SearchWord | Scenario::SearchTypo => search(s),
        Scenario::Update | Scenario::StageUpdate => {
            let ids = t.ids.clone();
            let patch = crate::data::patch_of(s);
            Arc::new(move |rng| {
                let path = format!("{RECORDS}/{}", rng.pick(&ids));
                let body = patch(rng);
                request("PATCH", &host, &path, "", Some(body))
            })
        }
    }
}
