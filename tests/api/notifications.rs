//! Notifications: a task assigned, an @mention, a task due (fired once by
//! the reminders job, across a kill -9), read and unread, settings, and
//! never a notification of an organization the person left.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

fn events(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn assignments_and_mentions_notify_and_are_read() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    // Assigned to Mia by the owner: Mia hears of it; assigning oneself is no news.
    let (status, t) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Call Globex", "assignee_id": mia.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    s.post(
        &format!("{O}/tasks"),
        json!({"title": "Mine", "assignee_id": s.user_id}),
    )
    .await;
    let body = format!(
        "<p>FYI <span data-member=\"{}\">@Mia</span></p>",
        mia.user_id
    );
    let (_, note) = s.post(&format!("{O}/notes"), json!({"body": body})).await;
    // Editing the note again does not mention Mia a second time.
    let nid = note["id"].as_str().expect("id");
    s.patch(&format!("{O}/notes/{nid}"), json!({"pinned": true}))
        .await;
    let (status, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(events(&page), ["mentioned", "task_assigned"], "{page}");
    assert_eq!(page["unread"], 2);
    assert_eq!(page["items"][1]["title"], "Call Globex");
    assert_eq!(page["items"][1]["record_id"], t["id"]);
    assert_eq!(page["items"][1]["org"]["slug"], "acme");
    assert_eq!(page["items"][1]["actor"], json!(s.user_id));
    let (_, own) = s.get("/api/v1/notifications").await;
    assert!(events(&own).is_empty(), "{own}");
    // Read one, then all; another person's is 404 like a missing one.
    let first = page["items"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        s.post(&format!("/api/v1/notifications/{first}/read"), json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mia.post(&format!("/api/v1/notifications/{first}/read"), json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, count) = mia.get("/api/v1/notifications/unread-count").await;
    assert_eq!(count["count"], 1);
    let (_, unread) = mia.get("/api/v1/notifications?unread=true").await;
    assert_eq!(events(&unread), ["task_assigned"]);
    assert_eq!(
        mia.post("/api/v1/notifications/read-all", json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, count) = mia.get("/api/v1/notifications/unread-count").await;
    assert_eq!(count["count"], 0);
    // Paging.
    let (_, p1) = mia.get("/api/v1/notifications?limit=1").await;
    let cur = p1["next_cursor"].as_str().expect("cursor").to_string();
    let (_, p2) = mia
        .get_query("/api/v1/notifications", &[("limit", "1"), ("cursor", &cur)])
        .await;
    assert_eq!(events(&p2), ["task_assigned"]);
    assert_eq!(p2["next_cursor"], Value::Null);
    // Settings: mentions off → no mention notification.
    let (status, set) = mia
        .send(
            reqwest::Method::PUT,
            "/api/v1/account/notifications",
            Some(json!({"time_zone": "Europe/Paris", "events": {"mentioned": false}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["events"]["mentioned"], false);
    assert_eq!(set["events"]["task_due"], true);
    assert_eq!(set["time_zone"], "Europe/Paris");
    s.post(&format!("{O}/notes"), json!({"body": body})).await;
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(events(&page).len(), 2, "{page}");
    for bad in [
        json!({"time_zone": "Mars/Olympus", "events": {}}),
        json!({"time_zone": null, "events": {"gossip": true}}),
        json!({"time_zone": null, "events": {"mentioned": "yes"}}),
    ] {
        let (status, err) = mia
            .send(
                reqwest::Method::PUT,
                "/api/v1/account/notifications",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
    }
    // Once Mia has left the organization she sees none of its notifications.
    let (status, _) = s.delete(&format!("{O}/members/{}", mia.user_id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mia = app.login("mia@example.com", PASSWORD).await;
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert!(events(&page).is_empty(), "{page}");
    assert_eq!(page["unread"], 0);
}

#[tokio::test]
async fn a_due_task_reminds_its_assignee_once() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let due = soon
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let (_, t) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Renewal", "due": due, "assignee_id": mia.user_id}),
        )
        .await;
    let (_, done) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Done already", "due": due, "assignee_id": mia.user_id}),
        )
        .await;
    let did = done["id"].as_str().expect("id");
    s.post(&format!("{O}/tasks/{did}/complete"), json!({}))
        .await;
    // Before its time nothing fires; after, once — however often the job runs.
    let early = harmonia::crm::tasks::fire_reminders(&app.state, soon - time::Duration::minutes(1))
        .await
        .expect("run");
    assert_eq!(early, 0);
    for _ in 0..3 {
        harmonia::crm::tasks::fire_reminders(&app.state, soon + time::Duration::seconds(5))
            .await
            .expect("run");
    }
    let (_, page) = mia.get("/api/v1/notifications?unread=true").await;
    let due_ones: Vec<&Value> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["event"] == "task_due")
        .collect();
    assert_eq!(due_ones.len(), 1, "{page}");
    assert_eq!(due_ones[0]["record_id"], t["id"]);
    // Moving the due date makes a new reminder.
    let tid = t["id"].as_str().expect("id");
    s.patch(&format!("{O}/tasks/{tid}"), json!({"due": "2030-01-02"}))
        .await;
    harmonia::crm::tasks::fire_reminders(&app.state, time::macros::datetime!(2030-01-02 09:30 UTC))
        .await
        .expect("run");
    let (_, page) = mia.get("/api/v1/notifications").await;
    let n = events(&page).iter().filter(|e| *e == "task_due").count();
    assert_eq!(n, 2, "{page}");
}

/// The real binary: a task due in a few seconds, the server killed before
/// then and started after — exactly one notification, and one for a task
/// due while it runs.
#[tokio::test]
async fn a_reminder_fires_once_across_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let bin = env!("CARGO_BIN_EXE_harmonia");
    let data = dir.path().join("data");
    let ok = Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "setup",
            "--org-name",
            "Acme",
            "--email",
            "owner@example.com",
            "--password-file",
        ])
        .arg(&pw)
        .env("HARMONIA_LOG", "warn")
        .status()
        .expect("setup");
    assert!(ok.success());
    let spawn = || {
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("HARMONIA_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let mut addr = String::new();
        for line in BufReader::new(out).lines() {
            let line = line.expect("line");
            if let Some(rest) = line.split("address=").nth(1) {
                addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                break;
            }
        }
        assert!(!addr.is_empty(), "server did not report its address");
        (child, format!("http://{addr}"))
    };
    let login = |base: String| async move {
        let anon = Anon {
            base,
            http: crate::helpers::http_client(),
        };
        let (_, _, s) = anon
            .sign_in_via(
                "/api/v1/auth/login",
                json!({"email": "owner@example.com", "password": PASSWORD}),
            )
            .await;
        s.expect("session")
    };
    let due_in = |secs: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::seconds(secs))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time")
    };
    let due_count = |page: &Value| {
        page["items"]
            .as_array()
            .map(|a| a.iter().filter(|n| n["event"] == "task_due").count())
            .unwrap_or(0)
    };

    let (mut child, base) = spawn();
    let s = login(base).await;
    let (status, t) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Before the crash", "due": due_in(3), "assignee_id": s.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;

    let (mut child, base) = spawn();
    let s = login(base).await;
    let (_, t2) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "While running", "due": due_in(2), "assignee_id": s.user_id}),
        )
        .await;
    let start = std::time::Instant::now();
    loop {
        let (_, page) = s.get("/api/v1/notifications").await;
        if due_count(&page) == 2 {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 30,
            "reminders did not fire: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Another run of the job later: still one each.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (_, page) = s.get("/api/v1/notifications").await;
    assert_eq!(due_count(&page), 2, "{page}");
    let ids: Vec<&Value> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| &n["record_id"])
        .collect();
    assert!(
        ids.contains(&&t["id"]) && ids.contains(&&t2["id"]),
        "{page}"
    );
    child.kill().expect("kill");
    let _ = child.wait();
}

/// A deal given to someone tells them once; giving it to oneself, their
/// setting off, or a person of another organization sends nothing here.
#[tokio::test]
async fn a_deal_assigned_to_you_notifies_once() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    let (status, _) = s
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let bob = app
        .add_member(&s, "other", "bob@example.com", "member")
        .await;
    let deal_events = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|n| n["event"] == "deal_assigned")
            .cloned()
            .collect()
    };
    // Created with Mia as owner: one notification; edits that keep the owner add none.
    let (status, d) = s
        .post(
            &format!("{O}/deals"),
            json!({"title": "Globex renewal", "owner_id": mia.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let did = d["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .patch(&format!("{O}/deals/{did}"), json!({"amount": 5000}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = mia.get("/api/v1/notifications").await;
    let got = deal_events(&page);
    assert_eq!(got.len(), 1, "{page}");
    assert_eq!(got[0]["title"], "Globex renewal");
    assert_eq!(got[0]["record_kind"], "deal");
    assert_eq!(got[0]["record_id"], json!(did));
    assert_eq!(got[0]["actor"], json!(s.user_id));
    assert_eq!(got[0]["org"]["slug"], "acme");
    // A deal created without an owner and given to Mia later: one more.
    let (_, d2) = s
        .post(&format!("{O}/deals"), json!({"title": "Initech pilot"}))
        .await;
    let d2id = d2["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .patch(
            &format!("{O}/deals/{d2id}"),
            json!({"owner_id": mia.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(deal_events(&page).len(), 2, "{page}");
    assert_eq!(deal_events(&page)[0]["record_id"], json!(d2id));
    // Taking a deal oneself (on create or by PATCH) is no news.
    let (_, mine) = mia
        .post(
            &format!("{O}/deals"),
            json!({"title": "My own", "owner_id": mia.user_id}),
        )
        .await;
    assert_eq!(mine["owner_id"], json!(mia.user_id));
    s.patch(&format!("{O}/deals/{did}"), json!({"owner_id": s.user_id}))
        .await;
    let (_, own) = s.get("/api/v1/notifications").await;
    assert!(deal_events(&own).is_empty(), "{own}");
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(deal_events(&page).len(), 2, "{page}");
    // Mia turns the event off: the next deal given to her says nothing.
    let (status, _) = mia
        .send(
            reqwest::Method::PUT,
            "/api/v1/account/notifications",
            Some(json!({"time_zone": null, "events": {"deal_assigned": false}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.post(
        &format!("{O}/deals"),
        json!({"title": "Quiet one", "owner_id": mia.user_id}),
    )
    .await;
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(deal_events(&page).len(), 2, "{page}");
    // Bob belongs to another organization: acme cannot make him an owner
    // (422, nothing written, nothing sent); his own organization can.
    let (status, err) = s
        .post(
            &format!("{O}/deals"),
            json!({"title": "Not his", "owner_id": bob.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = s
        .patch(
            &format!("{O}/deals/{d2id}"),
            json!({"owner_id": bob.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, page) = bob.get("/api/v1/notifications").await;
    assert!(deal_events(&page).is_empty(), "{page}");
    let (status, _) = s
        .post(
            "/api/v1/orgs/other/deals",
            json!({"title": "Other deal", "owner_id": bob.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = bob.get("/api/v1/notifications").await;
    let got = deal_events(&page);
    assert_eq!(got.len(), 1, "{page}");
    assert_eq!(got[0]["org"]["slug"], "other");
    let (_, page) = mia.get("/api/v1/notifications").await;
    assert_eq!(deal_events(&page).len(), 2, "{page}");
}

/// Notices are delivered right after the write that queued them; a server
/// that stopped in between finds them when it opens the organization again,
/// and delivers them after the first write there.
#[tokio::test]
async fn notices_left_in_the_outbox_are_delivered_after_the_next_write() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let org_dir = app.only_org_dir();
    // As a write that committed just before a crash would have left it.
    let payload = json!({"title": "Left behind", "record_kind": "task",
        "record_id": "0190f0f0-0000-7000-8000-000000000001", "actor": s.user_id,
        "key": "left-behind", "due": null});
    rusqlite::Connection::open(org_dir.join("crm.db"))
        .expect("db")
        .execute(
            "INSERT INTO notice_outbox (event, user_id, payload, created_at) VALUES ('task_assigned', ?1, ?2, '2026-01-01T00:00:00Z')",
            rusqlite::params![s.user_id, payload.to_string()],
        )
        .expect("notice");
    let (_, page) = s.get("/api/v1/notifications").await;
    assert!(events(&page).is_empty(), "{page}");
    let (status, body) = s
        .post(
            &format!("{O}/contacts"),
            json!({"first_name": "Any", "last_name": "Write"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, page) = s.get("/api/v1/notifications").await;
    assert_eq!(events(&page), vec!["task_assigned"], "{page}");
    assert_eq!(page["items"][0]["title"], "Left behind", "{page}");
}
