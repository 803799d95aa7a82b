//! Work and history (issue 14): a record's timeline with 10,000 entries
//! (first page), and "My tasks" with 10,000 open tasks in the organization.
//! The entries go straight into the database, then the server restarts.

use crate::data::Dataset;
use crate::harmonia;
use crate::load::{MakeRequest, request};
use crate::report::Row;
use crate::{Ctx, measure};
use anyhow::Context;
use std::sync::Arc;

use ::harmonia as harmonia_crate;

const ORG: &str = harmonia_crate::demo::DEMO_SLUG;
/// Entries on one contact's timeline, and open tasks in the organization.
const ENTRIES: usize = 10_000;

pub struct WorkFigures {
    pub rows: Vec<(&'static str, Row)>,
}

/// (label, path) — what is measured, each against a p99 target of 20 ms.
fn paths(contact: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "timeline of a record with 10,000 entries, first page",
            format!("/api/v1/orgs/{ORG}/contacts/{contact}/timeline?limit=50"),
        ),
        (
            "my open tasks (10,000 in the org), first page by due date",
            format!("/api/v1/orgs/{ORG}/tasks?assignee=me&status=open&limit=50"),
        ),
        (
            "my overdue tasks (10,000 open in the org)",
            format!(
                "/api/v1/orgs/{ORG}/tasks?assignee=me&status=open&due=overdue&tz=Europe/Paris&limit=50"
            ),
        ),
    ]
}

pub async fn run(ctx: &Ctx<'_>, dataset: &Dataset) -> anyhow::Result<WorkFigures> {
    let copy = crate::data::copy(dataset, &ctx.work.join("work"))?;
    let dir = copy.dir.clone();
    let start = |log: &'static str| {
        let (path, dir) = (ctx.log(log), dir.clone());
        async move {
            let cpus = ctx.args.server_cpus.as_deref();
            harmonia::start_ready(&ctx.http, &ctx.bin, &dir, &path, cpus).await
        }
    };
    // The first start brings the database to this build's schema.
    let (server, _) = start("work").await?;
    server.stop()?;
    let db = copy.tenant_db()?;
    let control = copy.dir.join("harmonia.db");
    let contact = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let owner: String = rusqlite::Connection::open(&control)?.query_row(
            "SELECT id FROM users WHERE email = ?1",
            [harmonia_crate::demo::DEMO_EMAIL],
            |r| r.get(0),
        )?;
        let conn = rusqlite::Connection::open(&db)?;
        let contact: String =
            conn.query_row("SELECT id FROM contacts ORDER BY rowid LIMIT 1", [], |r| r.get(0))?;
        // A third notes, a third activities, a third history edits (by two
        // people, a minute apart, so some group) — many at equal times; and
        // open tasks assigned to the owner, due over two years, one in three
        // linked to the contact.
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE TEMP TABLE seq AS
               WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ENTRIES})
               SELECT i FROM n;
             INSERT INTO notes (id, body, body_text, created_at, updated_at, created_by, updated_by)
               SELECT printf('00000000-0000-7000-8000-%012d', i), '<p>Note ' || i || '</p>', 'Note ' || i,
                      strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i / 2) || ' minutes'),
                      strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i / 2) || ' minutes'),
                      '{owner}', '{owner}'
               FROM seq WHERE i % 3 = 0;
             INSERT INTO note_links (note_id, kind, record_id)
               SELECT id, 'contact', '{contact}' FROM notes;
             INSERT INTO activities (id, type, subject, occurred_at, body, body_text, created_at,
                                     updated_at, created_by, updated_by)
               SELECT printf('00000000-0000-7000-9000-%012d', i), 'call', 'Call ' || i,
                      strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i / 2) || ' minutes'),
                      '', '', '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z',
                      '{owner}', '{owner}'
               FROM seq WHERE i % 3 = 1;
             INSERT INTO activity_links (activity_id, kind, record_id)
               SELECT id, 'contact', '{contact}' FROM activities;
             INSERT INTO record_history (kind, record_id, at, actor, action, changes)
               SELECT 'contact', '{contact}',
                      strftime('%Y-%m-%dT%H:%M:00.000000Z', '2025-01-01', '+' || (i / 2) || ' minutes'),
                      CASE i % 2 WHEN 0 THEN '{owner}' ELSE 'api_key:bench' END, 'updated',
                      json_object('job_title', json_array('Title ' || (i - 1), 'Title ' || i))
               FROM seq WHERE i % 3 = 2;
             INSERT INTO tasks (id, title, sort_title, due, assignee_id, created_at, updated_at,
                                created_by, updated_by)
               SELECT printf('00000000-0000-7000-a000-%012d', i), 'Task ' || i, 'task ' || i,
                      date('2025-06-01', '+' || (i % 730) || ' days'), '{owner}',
                      '2025-01-01T00:00:00.000000Z', '2025-01-01T00:00:00.000000Z', '{owner}', '{owner}'
               FROM seq;
             INSERT INTO task_links (task_id, kind, record_id)
               SELECT id, 'contact', '{contact}' FROM tasks WHERE rowid % 3 = 0;
             COMMIT;
             ANALYZE;"
        ))?;
        Ok(contact)
    })
    .await??;
    let (server, key) = start("work-2").await?;
    let base = format!("http://{}", server.addr);
    let host = server.addr.to_string();
    let auth = format!("Bearer {key}");
    let mut rows = Vec::new();
    for (label, path) in paths(&contact) {
        let page = harmonia::get(&ctx.http, &base, &key, &path.replacen("/api/v1", "", 1)).await?;
        let n = page["items"].as_array().map(Vec::len).context("items")?;
        if n == 0 {
            anyhow::bail!("{label}: empty: {page}");
        }
        eprintln!("work: {label}");
        let (h, a) = (host.clone(), auth.clone());
        let make: MakeRequest = Arc::new(move |_| request("GET", &h, &path, &a, None));
        rows.push((label, measure(ctx, &server, make).await));
    }
    server.stop()?;
    Ok(WorkFigures { rows })
}
