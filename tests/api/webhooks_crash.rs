//! Webhook deliveries that do not go through: pending when the server is
//! killed (-9), they are sent after the restart — exactly the events whose
//! changes were committed, each accepted once; failing for three days, the
//! hook is disabled and its admins are told.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::durability::{setup_with_cli, spawn_server_with};
use crate::helpers::*;
use crate::webhooks::{receiver, signature_ok};

const OPTIONS: &[&str] = &[
    "--webhooks-allow-private",
    "--webhook-retry-base-ms",
    "3000",
];

async fn sign_in(base: String) -> Session {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let data = setup_with_cli(dir.path());
    // The receiver refuses everything until the server has been killed.
    let (url, rx) = receiver(usize::MAX).await;

    let (mut child, base) = spawn_server_with(&data, OPTIONS);
    let s = sign_in(base).await;
    let (status, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["contact.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_string();
    let mut committed = BTreeSet::new();
    for i in 0..10 {
        let (status, c) = s
            .post(
                "/api/v1/orgs/acme/contacts",
                sample_contact(&format!("Crash{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        committed.insert(c["id"].as_str().expect("id").to_string());
    }
    // A refused change writes no event.
    let (status, _) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Bad", "emails": [{"label": "work", "email": "not an email"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Every event's first attempt was refused and recorded before the kill;
    // retries wait 3 s, so the kill lands between runs of the delivery job
    // (a run killed midway keeps its job's lease, 5 minutes, before the
    // restarted server takes it over).
    let id = hook["id"].as_str().expect("id");
    let start = std::time::Instant::now();
    loop {
        let (_, log) = s
            .get(&format!(
                "/api/v1/orgs/acme/webhooks/{id}/deliveries?limit=200"
            ))
            .await;
        let tried: BTreeSet<String> = log["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["event_id"].as_str().map(str::to_string))
            .collect();
        if tried.len() == committed.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not every event was tried: {log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    rx.fail_first.store(0, Ordering::SeqCst);

    let (mut child, base) = spawn_server_with(&data, OPTIONS);
    let _s = sign_in(base).await;
    let accepted = || -> BTreeSet<String> {
        rx.all()
            .iter()
            .filter(|r| r.answered == 200)
            .map(|r| {
                assert!(signature_ok(&secret, &r.signature, &r.body));
                let v: Value = serde_json::from_slice(&r.body).expect("json");
                assert_eq!(v["type"], "contact.created");
                v["data"]["id"].as_str().expect("id").to_string()
            })
            .collect()
    };
    let start = std::time::Instant::now();
    while accepted().len() < committed.len() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {} events arrived after the restart",
            accepted().len(),
            committed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing more comes: each event was accepted once and none was invented.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(accepted(), committed);
    let oks = rx.all().iter().filter(|r| r.answered == 200).count();
    assert_eq!(oks, committed.len(), "an accepted event was sent again");
    child.kill().expect("kill");
    let _ = child.wait();
}

/// A hook whose deliveries have failed for three days is disabled at its
/// next failure, its pending deliveries are given up, and every admin and
/// owner is told; members are not.
#[tokio::test]
async fn a_hook_failing_for_three_days_is_disabled_and_admins_are_told() {
    let (app, runner) = crate::webhooks::hooks_app(true).await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "adam@example.com", "admin")
        .await;
    let member = app
        .add_member(&owner, "acme", "mia@example.com", "member")
        .await;
    let (url, rx) = receiver(usize::MAX).await;
    let (status, hook) = owner
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["contact.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().expect("id").to_string();
    // A first failure, then it has been failing since three days and a minute ago.
    owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("First"))
        .await;
    let start = std::time::Instant::now();
    loop {
        let (_, h) = owner.get(&format!("/api/v1/orgs/acme/webhooks/{id}")).await;
        if h["failing_since"].is_string() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        hook_enabled(&owner, &id).await,
        json!(true),
        "one failure is not three days"
    );
    let org_id = app
        .state
        .control
        .read_blocking(|c| {
            Ok(
                c.query_row("SELECT id FROM orgs WHERE slug = 'acme'", [], |r| {
                    r.get::<_, String>(0)
                })?,
            )
        })
        .expect("org");
    let tenant = app.state.tenants.get(&org_id).await.expect("tenant");
    let (long_ago, hid) = (
        harmonia::clock::stamp(
            harmonia::clock::now() - time::Duration::days(3) - time::Duration::minutes(1),
        ),
        id.clone(),
    );
    tenant
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE webhooks SET failing_since = ?1 WHERE id = ?2",
                [&long_ago, &hid],
            )?;
            Ok(())
        })
        .await
        .expect("age the failure");
    owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Second"))
        .await;
    let start = std::time::Instant::now();
    while hook_enabled(&owner, &id).await != json!(false) {
        assert!(start.elapsed() < Duration::from_secs(20), "never disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, h) = owner.get(&format!("/api/v1/orgs/acme/webhooks/{id}")).await;
    assert!(
        h["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("three days")),
        "{h}"
    );
    for (who, told) in [(&owner, true), (&admin, true), (&member, false)] {
        let (_, list) = who.get("/api/v1/notifications").await;
        let has = list["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["event"] == "webhook_disabled"));
        assert_eq!(has, told, "{list}");
    }
    // Nothing more is tried once it is disabled.
    let tried = rx.all().len();
    owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Third"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.all().len(), tried);
    runner.abort();
}

async fn hook_enabled(s: &Session, id: &str) -> Value {
    let (_, h) = s.get(&format!("/api/v1/orgs/acme/webhooks/{id}")).await;
    h["enabled"].clone()
}
