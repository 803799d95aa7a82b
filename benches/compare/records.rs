//! The record layer's lists (issue "Records you can shape"): a list filtered
//! by a custom select field and sorted by a custom date field, and a list
//! filtered by a tag, each beside the same list on built-in fields, in one
//! organization, one server, one run.

use crate::data::Dataset;
use crate::harmonia::{self, Session};
use crate::load::{MakeRequest, request};
use crate::report::Row;
use crate::{Ctx, measure};
use anyhow::Context;
use serde_json::{Value, json};
use std::sync::Arc;

use ::harmonia as harmonia_crate;

const ORG: &str = harmonia_crate::demo::DEMO_SLUG;

/// Each list's label and figures.
pub struct RecordsFigures {
    pub rows: Vec<(&'static str, Row)>,
}

/// (label, built-in twin's label, query)
fn lists(tag: &str) -> Vec<(&'static str, Option<&'static str>, String)> {
    let enc = |v: Value| url_encode(&v.to_string());
    vec![
        (
            "built-in filter (stage), sorted by a built-in date (-created)",
            None,
            "stage=customer&sort=-created&limit=50".into(),
        ),
        (
            "custom select filter, sorted by a custom date",
            Some("built-in filter (stage), sorted by a built-in date (-created)"),
            format!(
                "filter={}&sort=-custom.renewal&limit=50",
                enc(json!({"field": "custom.plan", "op": "eq", "value": "pro"}))
            ),
        ),
        (
            "built-in filter (stage), sorted by name",
            None,
            "stage=customer&sort=name&limit=50".into(),
        ),
        (
            "tag filter, sorted by name",
            Some("built-in filter (stage), sorted by name"),
            format!(
                "filter={}&sort=name&limit=50",
                enc(json!({"field": "tags", "op": "has_any", "value": [tag]}))
            ),
        ),
    ]
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The twin of a scenario (for the targets table).
pub fn twin(label: &str) -> Option<&'static str> {
    lists("")
        .into_iter()
        .find(|(l, _, _)| *l == label)
        .and_then(|(_, t, _)| t)
}

pub async fn run(ctx: &Ctx<'_>, dataset: &Dataset) -> anyhow::Result<RecordsFigures> {
    let copy = crate::data::copy(dataset, &ctx.work.join("records"))?;
    let dir = copy.dir.clone();
    let start = |log: &'static str| {
        let (path, dir) = (ctx.log(log), dir.clone());
        async move {
            let cpus = ctx.args.server_cpus.as_deref();
            harmonia::start_ready(&ctx.http, &ctx.bin, &dir, &path, cpus).await
        }
    };
    let (server, _) = start("records").await?;
    let base = format!("http://{}", server.addr);
    let owner: Session = harmonia::sign_in(
        &ctx.http,
        &base,
        harmonia_crate::demo::DEMO_EMAIL,
        harmonia_crate::demo::DEMO_PASSWORD,
    )
    .await?;
    // Fields and a tag through the API (which also builds the fields' indexes)…
    harmonia::post(
        &ctx.http,
        &base,
        &owner,
        &format!("/orgs/{ORG}/fields"),
        json!({
        "kind": "contact", "key": "plan", "label": "Plan", "type": "select",
        "options": [{"label": "Basic"}, {"label": "Pro"}, {"label": "Enterprise"}]}),
    )
    .await?;
    harmonia::post(
        &ctx.http,
        &base,
        &owner,
        &format!("/orgs/{ORG}/fields"),
        json!({
        "kind": "contact", "key": "renewal", "label": "Renewal", "type": "date"}),
    )
    .await?;
    let tag = harmonia::post(
        &ctx.http,
        &base,
        &owner,
        &format!("/orgs/{ORG}/tags"),
        json!({"name": "VIP"}),
    )
    .await?;
    let tag = tag["id"].as_str().context("tag id")?.to_string();
    // …and their values for every contact straight into the database (a
    // second writer; SQLite serializes it with the server's): a plan for
    // all, a renewal date for nine in ten, the tag on one in twenty.
    let db = copy.tenant_db()?;
    let tag_for_db = tag.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let conn = rusqlite::Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             UPDATE contacts SET custom = json_object(
                 'plan', CASE rowid % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'enterprise' END);
             UPDATE contacts SET custom = json_set(custom, '$.renewal',
                 date('2026-01-01', '+' || (rowid * 7919 % 730) || ' days'))
               WHERE rowid % 10 <> 0;
             INSERT INTO record_tags (tag_id, kind, record_id)
               SELECT '{tag_for_db}', 'contact', id FROM contacts WHERE rowid % 20 = 0;
             COMMIT;
             ANALYZE;"
        ))?;
        Ok(())
    })
    .await??;
    // A restart, as after an import: the server's connections read the new
    // planner statistics when they open.
    server.stop()?;
    let (server, key) = start("records-2").await?;
    let base = format!("http://{}", server.addr);
    let host = server.addr.to_string();
    let auth = format!("Bearer {key}");
    let mut rows = Vec::new();
    for (label, _, query) in lists(&tag) {
        let path = format!("/api/v1/orgs/{ORG}/contacts?{query}");
        // Checked once before it is measured: it must answer rows.
        let page = harmonia::get(&ctx.http, &base, &key, &path.replacen("/api/v1", "", 1)).await?;
        if page["items"].as_array().is_none_or(|a| a.is_empty()) {
            anyhow::bail!("{label}: the list is empty: {page}");
        }
        eprintln!("records: {label}");
        let (h, a) = (host.clone(), auth.clone());
        let make: MakeRequest = Arc::new(move |_| request("GET", &h, &path, &a, None));
        rows.push((label, measure(ctx, &server, make).await));
    }
    server.stop()?;
    Ok(RecordsFigures { rows })
}
