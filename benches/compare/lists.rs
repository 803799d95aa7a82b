//! Lists that fit a growing organization (issue 20): a list's search box
//! (the search engine, narrowed to contacts, then sorted in SQL) for a common
//! word, a rare word and no match; and the contact list sorted by each
//! column, its first page and a page half-way down (a cursor made from the
//! row there). Target: p99 ≤ 20 ms for each.

use crate::data::Dataset;
use crate::harmonia;
use crate::load::{MakeRequest, request};
use crate::records::url_encode;
use crate::report::Row;
use crate::{Ctx, measure};
use anyhow::Context;
use rusqlite::types::Value as Sql;
use std::sync::Arc;

use ::harmonia as harmonia_crate;
use harmonia_crate::record::RecordKind;
use harmonia_crate::record::catalogue::Catalogue;
use harmonia_crate::record::sort::{self, Sorts};

const ORG: &str = harmonia_crate::demo::DEMO_SLUG;

/// What the data set gives the scenarios: a common word, a rare one, and
/// each sort's cursor half-way down.
type Picked = (String, String, Vec<(String, String)>);

pub struct ListFigures {
    pub rows: Vec<(String, Row)>,
}

/// The sorts measured: every sortable column of the contact table the UI shows.
const SORTS: &[&str] = &[
    "name",
    "-name",
    "company_id",
    "stage",
    "owner_id",
    "job_title",
    "-created",
    "-updated",
];

/// A cursor for the row half-way down the list in this sort, made with the
/// server's own ORDER BY and cursor encoding.
fn deep_cursor(conn: &rusqlite::Connection, sort_param: &str) -> anyhow::Result<String> {
    let cat = Catalogue {
        builtins: harmonia_crate::crm::contacts::Contacts::fields(),
        custom: &[],
    };
    let sorts = Sorts::parse(Some(sort_param), &cat).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM contacts WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT {} FROM contacts t WHERE t.deleted_at IS NULL ORDER BY {} LIMIT 1 OFFSET {}",
        sorts.page_columns(),
        sorts.order_by(),
        total / 2
    );
    let keys = sorts.len();
    let (values, id) = conn.query_row(&sql, [], |r| {
        let values = (0..keys)
            .map(|i| r.get::<_, Sql>(1 + i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((values, r.get::<_, String>(1 + keys)?))
    })?;
    Ok(sort::encode(&values, &id))
}

pub async fn run(ctx: &Ctx<'_>, dataset: &Dataset) -> anyhow::Result<ListFigures> {
    let copy = crate::data::copy(dataset, &ctx.work.join("lists"))?;
    let dir = copy.dir.clone();
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        harmonia::start_ready(&ctx.http, &ctx.bin, &dir, &ctx.log("lists"), cpus).await?;
    let base = format!("http://{}", server.addr);
    // A search index from an older build is rebuilt in the background; the
    // list's search falls back to a prefix match meanwhile, so wait for it.
    let started = std::time::Instant::now();
    loop {
        let r = harmonia::get(&ctx.http, &base, &key, &format!("/orgs/{ORG}/search?q=a")).await?;
        if r["rebuilding"] == false {
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(1800) {
            anyhow::bail!("the search index was still rebuilding after 30 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let db = copy.tenant_db()?;
    let (common, rare, cursors) = tokio::task::spawn_blocking(move || -> anyhow::Result<Picked> {
        let conn = rusqlite::Connection::open(&db)?;
        let common: String = conn.query_row(
            "SELECT lower(first_name) FROM contacts WHERE deleted_at IS NULL AND first_name <> ''
                 GROUP BY lower(first_name) ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )?;
        let rare: String = conn.query_row(
            "SELECT email FROM contact_emails ORDER BY email LIMIT 1 OFFSET
                   (SELECT count(*) / 3 FROM contact_emails)",
            [],
            |r| r.get(0),
        )?;
        let mut cursors = Vec::new();
        for s in SORTS {
            cursors.push((s.to_string(), deep_cursor(&conn, s)?));
        }
        Ok((common, rare, cursors))
    })
    .await??;
    let list = format!("/api/v1/orgs/{ORG}/contacts");
    let mut scenarios: Vec<(String, String, bool)> = vec![
        (
            format!("search a common word ({common:?}), by name"),
            format!("{list}?q={}&limit=50", url_encode(&common)),
            true,
        ),
        (
            "search a rare word (one contact's email), by name".into(),
            format!("{list}?q={}&limit=50", url_encode(&rare)),
            true,
        ),
        (
            "search with no match, by name".into(),
            format!("{list}?q=zzqxvw&limit=50"),
            false,
        ),
        (
            format!("search a common word ({common:?}), by -updated"),
            format!("{list}?q={}&sort=-updated&limit=50", url_encode(&common)),
            true,
        ),
    ];
    for (s, cursor) in cursors {
        scenarios.push((
            format!("sorted by {s}, first page"),
            format!("{list}?sort={s}&limit=50"),
            true,
        ));
        scenarios.push((
            format!("sorted by {s}, page half-way down"),
            format!("{list}?sort={s}&limit=50&cursor={cursor}"),
            true,
        ));
    }
    scenarios.push((
        "stage=customer sorted by -updated, first page".into(),
        format!("{list}?stage=customer&sort=-updated&limit=50"),
        true,
    ));
    let host = server.addr.to_string();
    let auth = format!("Bearer {key}");
    let mut rows = Vec::new();
    for (label, path, rows_expected) in scenarios {
        let page = harmonia::get(&ctx.http, &base, &key, &path.replacen("/api/v1", "", 1)).await?;
        let n = page["items"].as_array().map(Vec::len).context("items")?;
        if (n > 0) != rows_expected {
            anyhow::bail!("{label}: {n} rows: {page}");
        }
        eprintln!("lists: {label}");
        let (h, a) = (host.clone(), auth.clone());
        let make: MakeRequest = Arc::new(move |_| request("GET", &h, &path, &a, None));
        rows.push((label, measure(ctx, &server, make).await));
    }
    server.stop()?;
    Ok(ListFigures { rows })
}
