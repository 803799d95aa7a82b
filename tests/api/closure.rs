//! Closing an organization: read-only for everyone, an export for its
//! owners, reopening, and erasure after 30 days (with a test clock).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use harmonia::clock::TestClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn close(s: &Session) -> (StatusCode, Value) {
    s.post("/api/v1/orgs/acme/close", json!({"password": PASSWORD}))
        .await
}

/// Waits until the export of a closed org is ready and returns its closure.
async fn export_ready(s: &Session) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (status, body) = s.get("/api/v1/orgs/acme/closure").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let state = body["closure"]["export"]["status"].as_str().unwrap_or("");
        assert_ne!(state, "failed", "{body}");
        if state == "ready" {
            return body["closure"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "export not ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn only_an_owner_with_the_password_closes_and_then_nobody_writes() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let key = app.api_key(&owner, "acme", "admin").await;
    let (_, ada) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;

    let (status, body) = admin
        .post("/api/v1/orgs/acme/close", json!({"password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = key
        .post("/api/v1/orgs/acme/close", json!({"password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/close",
            json!({"password": "not the password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["password"].is_string());
    assert_eq!(
        owner.get("/api/v1/orgs/acme/closure").await.1["closure"],
        Value::Null
    );

    let (status, body) = close(&owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = &body["closure"];
    assert_eq!(c["closed_by"], owner.user_id.as_str());
    let closed = time::OffsetDateTime::parse(
        c["closed_at"].as_str().expect("closed_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    let purge = time::OffsetDateTime::parse(
        c["purge_at"].as_str().expect("purge_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    assert_eq!(purge - closed, time::Duration::days(30));

    // Read-only for every role and for API keys: writes answer org_closed.
    let id = ada["id"].as_str().expect("id");
    for (status, body) in [
        owner
            .post("/api/v1/orgs/acme/contacts", sample_contact("Bob"))
            .await,
        owner
            .patch(
                &format!("/api/v1/orgs/acme/contacts/{id}"),
                json!({"job_title": "CEO"}),
            )
            .await,
        admin
            .delete(&format!("/api/v1/orgs/acme/contacts/{id}"))
            .await,
        admin
            .post(
                "/api/v1/orgs/acme/members",
                json!({"email": "x@example.com", "role": "member"}),
            )
            .await,
        key.post("/api/v1/orgs/acme/companies", json!({"name": "Globex"}))
            .await,
        close(&owner).await,
    ] {
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "org_closed", "{body}");
    }
    // Reads go on.
    let (status, again) = admin.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["job_title"], ada["job_title"]);
    assert_eq!(
        key.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
    // Members see the closure and its date.
    let (_, org) = admin.get("/api/v1/orgs/acme").await;
    assert_eq!(org["closure"]["purge_at"], c["purge_at"]);
    let (_, me) = admin.get("/api/v1/me").await;
    let mine = me["organizations"]
        .as_array()
        .or(me["orgs"].as_array())
        .expect("orgs");
    assert_eq!(mine[0]["purge_at"], c["purge_at"]);

    // Reopening: owners only, then writes work again; twice is a conflict.
    export_ready(&owner).await;
    let (status, _) = admin.post("/api/v1/orgs/acme/reopen", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = owner.post("/api/v1/orgs/acme/reopen", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = owner.post("/api/v1/orgs/acme/reopen", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = admin
        .post("/api/v1/orgs/acme/contacts", sample_contact("Bob"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        owner.get("/api/v1/orgs/acme/closure").await.1["closure"],
        Value::Null
    );
    let exports = app.dir.path().join("exports");
    let left: usize = std::fs::read_dir(&exports)
        .map(|d| {
            d.flatten()
                .map(|org| {
                    std::fs::read_dir(org.path())
                        .map(|f| f.count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "reopening removes the export");
}

#[tokio::test]
async fn owners_download_the_export_with_every_record() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for name in ["Ada", "Grace", "Katherine"] {
        owner
            .post("/api/v1/orgs/acme/contacts", sample_contact(name))
            .await;
    }
    assert_eq!(close(&owner).await.0, StatusCode::OK);
    let closure = export_ready(&owner).await;

    assert_eq!(
        member.get("/api/v1/orgs/acme/closure/export").await.0,
        StatusCode::FORBIDDEN
    );
    // Another organization's export is not there at all.
    assert_eq!(
        owner.get("/api/v1/orgs/other/closure/export").await.0,
        StatusCode::CONFLICT
    );
    let outsider = app
        .add_member(&owner, "other", "outsider@example.com", "owner")
        .await;
    assert_eq!(
        outsider.get("/api/v1/orgs/acme/closure/export").await.0,
        StatusCode::NOT_FOUND
    );

    let resp = owner
        .http
        .get(format!("{}/api/v1/orgs/acme/closure/export", owner.base))
        .header("cookie", &owner.cookie)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().ok(),
        Some("application/x-tar")
    );
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(Some(bytes.len() as u64), closure["export"]["size"].as_u64());

    // A plain tar: a manifest and the organization's SQLite database, which
    // any SQLite tool opens.
    let dir = tempfile::tempdir().expect("dir");
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(bytes.as_ref());
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        if name.ends_with("crm.db") {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            std::fs::write(dir.path().join("crm.db"), data).expect("write");
        }
        names.push(name);
    }
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    let db = rusqlite::Connection::open(dir.path().join("crm.db")).expect("open");
    let mut firsts: Vec<String> = db
        .prepare("SELECT first_name FROM contacts ORDER BY first_name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    firsts.sort();
    assert_eq!(firsts, ["Ada", "Grace", "Katherine"]);
}

#[tokio::test]
async fn a_closed_org_is_erased_after_thirty_days() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let (_, org) = owner.get("/api/v1/orgs/acme").await;
    let org_id = org["id"].as_str().expect("id").to_string();
    assert_eq!(close(&owner).await.0, StatusCode::OK);
    export_ready(&owner).await;
    let tenant_dir = app.dir.path().join("tenants").join(&org_id);
    let export_dir = app.dir.path().join("exports").join(&org_id);
    assert!(tenant_dir.join("crm.db").exists());
    assert!(export_dir.read_dir().expect("exports").count() > 0);

    // Day 29: the job leaves it alone.
    let clock = Arc::new(TestClock::at(
        time::OffsetDateTime::now_utc() + time::Duration::days(29),
    ));
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| b).expect("runner");
    runner.run_due().await;
    assert!(tenant_dir.join("crm.db").exists());
    assert_eq!(owner.get("/api/v1/orgs/acme").await.0, StatusCode::OK);

    // Day 31: gone — rows, database, index, files and export.
    clock.advance(time::Duration::days(2));
    runner.run_due().await;
    // The organization's own jobs, due too after a month, may still hold it
    // open on a busy machine: the erasure then waits for the job's retry.
    for _ in 0..5 {
        if !tenant_dir.exists() {
            break;
        }
        clock.advance(time::Duration::hours(2));
        runner.run_due().await;
    }
    let job = app
        .state
        .control
        .read(|c| harmonia::jobs::store::get(c, harmonia::housekeeping::CLOSURES))
        .await
        .expect("read")
        .expect("the closure job");
    assert_eq!(
        job.last_outcome.as_deref(),
        Some("ok"),
        "{:?}",
        job.last_error
    );
    assert!(!tenant_dir.exists(), "the organization's folder is erased");
    assert!(!export_dir.exists(), "its export is erased");
    assert_eq!(
        owner.get("/api/v1/orgs/acme").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, me) = owner.get("/api/v1/me").await;
    let mine = me["organizations"]
        .as_array()
        .or(me["orgs"].as_array())
        .expect("orgs");
    assert!(mine.is_empty(), "{me}");
    let (status, list) = owner.get("/api/v1/admin/closures").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["slug"], "acme");
    assert!(list["items"][0]["purged_at"].is_string(), "{list}");
    let control = rusqlite::Connection::open(app.dir.path().join("harmonia.db")).expect("open");
    for table in ["memberships", "api_keys", "invites", "org_jobs"] {
        let n: i64 = control
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE org_id = ?1"),
                [&org_id],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(n, 0, "{table}");
    }
}

#[tokio::test]
async fn only_platform_admins_list_closures() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    assert_eq!(
        member.get("/api/v1/admin/closures").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(close(&owner).await.0, StatusCode::OK);
    let (status, list) = owner.get("/api/v1/admin/closures").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["slug"], "acme");
    assert!(list["items"][0]["purged_at"].is_null());
}
