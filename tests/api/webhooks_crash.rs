//! Webhook deliveries pending when the server is killed (-9) are sent after
//! the restart: exactly the events whose changes were committed, each once
//! accepted.

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
        http: reqwest::Client::new(),
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
