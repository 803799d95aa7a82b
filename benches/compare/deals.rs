//! The sales pipeline (issue 13): the board of a pipeline with 10,000 open
//! deals (`--size` in smoke runs), moving a deal, the forecast by month, and
//! deals filtered by owner and sorted by amount — in the demo organization,
//! one server, one run. Targets: board and forecast p99 ≤ 20 ms, move p99 ≤
//! 10 ms.

use crate::data::Dataset;
use crate::harmonia;
use crate::load::{MakeRequest, request};
use crate::report::Row;
use crate::{Ctx, measure};
use anyhow::Context;
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;

use ::harmonia as harmonia_crate;

const ORG: &str = harmonia_crate::demo::DEMO_SLUG;

pub struct DealsFigures {
    pub deals: usize,
    /// (label, p99 target in ms, figures)
    pub rows: Vec<(&'static str, f64, Row)>,
}

pub async fn run(
    ctx: &Ctx<'_>,
    dataset: &Dataset,
    open_deals: usize,
) -> anyhow::Result<DealsFigures> {
    let copy = crate::data::copy(dataset, &ctx.work.join("deals"))?;
    let dir = copy.dir.clone();
    let start = |log: &'static str| {
        let (path, dir) = (ctx.log(log), dir.clone());
        async move {
            let cpus = ctx.args.server_cpus.as_deref();
            harmonia::start_ready(&ctx.http, &ctx.bin, &dir, &path, cpus).await
        }
    };
    // Open once so the deal tables exist, then load the deals straight into
    // the database: spread over the first pipeline's open stages, a third of
    // them the demo owner's, amounts and close dates varied.
    let (server, _) = start("deals").await?;
    server.stop()?;
    let db = copy.tenant_db()?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let conn = rusqlite::Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE TEMP TABLE open_stages AS
               SELECT s.id, s.pipeline_id, row_number() OVER (ORDER BY s.position) - 1 AS n
               FROM stages s WHERE s.kind = 'open' AND s.pipeline_id =
                 (SELECT id FROM pipelines ORDER BY position, created_at LIMIT 1);
             WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {open_deals})
             INSERT INTO deals (id, title, sort_title, pipeline_id, stage_id, status, position,
                 amount, currency, close_date, owner_id, company_id, stage_entered_at,
                 created_at, updated_at, created_by, updated_by)
             SELECT printf('bench-%08d', i), 'Bench deal ' || i, 'bench deal ' || i,
                 s.pipeline_id, s.id, 'open', i * 1048576,
                 (i * 7919 % 500 + 1) * 10000, CASE i % 10 WHEN 0 THEN 'EUR' ELSE 'USD' END,
                 date('now', '+' || (i * 31 % 200 - 30) || ' days'),
                 CASE WHEN i % 3 = 0 THEN (SELECT created_by FROM contacts LIMIT 1) END,
                 NULL, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'),
                 strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'),
                 'bench', 'bench'
             FROM k JOIN open_stages s ON s.n = i % (SELECT count(*) FROM open_stages);
             COMMIT;
             ANALYZE;"
        ))?;
        Ok(())
    })
    .await??;
    let (server, key) = start("deals-2").await?;
    let base = format!("http://{}", server.addr);
    let host = server.addr.to_string();
    let auth = format!("Bearer {key}");
    let pipelines =
        harmonia::get(&ctx.http, &base, &key, &format!("/orgs/{ORG}/pipelines")).await?;
    let p = &pipelines["items"][0];
    let pid = p["id"].as_str().context("pipeline id")?.to_string();
    let open: Vec<String> = p["stages"]
        .as_array()
        .context("stages")?
        .iter()
        .filter(|s| s["kind"] == "open")
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let deals = harmonia::get(
        &ctx.http,
        &base,
        &key,
        &format!("/orgs/{ORG}/deals/count?status=open"),
    )
    .await?;
    let owner = harmonia::get(
        &ctx.http,
        &base,
        &key,
        &format!(
            "/orgs/{ORG}/deals?limit=1&filter={}",
            crate::records::url_encode(
                &json!({"field": "owner_id", "op": "is_not_empty"}).to_string()
            )
        ),
    )
    .await?;
    let owner = owner["items"][0]["owner_id"]
        .as_str()
        .context("an owned deal")?
        .to_string();

    let mut rows = Vec::new();
    let get = |path: String| -> MakeRequest {
        let (h, a) = (host.clone(), auth.clone());
        Arc::new(move |_| request("GET", &h, &path, &a, None))
    };
    let scenarios: Vec<(&'static str, f64, MakeRequest)> = vec![
        (
            "board of the pipeline",
            20.0,
            get(format!("/api/v1/orgs/{ORG}/pipelines/{pid}/board")),
        ),
        (
            "forecast by month",
            20.0,
            get(format!(
                "/api/v1/orgs/{ORG}/deals/forecast?by=month&pipeline={pid}"
            )),
        ),
        (
            "deals of an owner by amount",
            20.0,
            get(format!(
                "/api/v1/orgs/{ORG}/deals?owner={owner}&sort=-amount&limit=50"
            )),
        ),
        ("move a deal", 10.0, {
            let (h, a, open) = (host.clone(), auth.clone(), open.clone());
            let n = open_deals;
            Arc::new(move |rng| {
                let id = format!("bench-{:08}", rng.below(n) + 1);
                let stage = rng.pick(&open);
                let body = Bytes::from(json!({"stage_id": stage}).to_string());
                request(
                    "POST",
                    &h,
                    &format!("/api/v1/orgs/{ORG}/deals/{id}/move"),
                    &a,
                    Some(body),
                )
            })
        }),
    ];
    for (label, target, make) in scenarios {
        eprintln!("deals: {label}");
        rows.push((label, target, measure(ctx, &server, make).await));
    }
    server.stop()?;
    Ok(DealsFigures {
        deals: deals["count"].as_u64().unwrap_or(0) as usize,
        rows,
    })
}
