//! Outbound webhooks end to end: a receiver on 127.0.0.1 checks each
//! signature with its own HMAC, fails the first tries and sees the retries;
//! many events to one receiver arrive pipelined on few connections, each
//! request whole and signed; SSRF refusals at creation and at delivery;
//! roles and isolation of every
//! route; the vault (no plaintext secret on disk, a ciphertext moved to
//! another organization or purpose fails).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub body: Vec<u8>,
    pub answered: u16,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Requests answered 500 before the receiver starts accepting.
    pub fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxStatus {
    let failing = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        AxStatus::INTERNAL_SERVER_ERROR
    } else {
        AxStatus::OK
    };
    r.got.lock().expect("lock").push(Received {
        signature: headers
            .get("harmonia-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

/// A receiver on 127.0.0.1: its URL and what it records.
pub async fn receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver::default();
    r.fail_first.store(fail_first, Ordering::SeqCst);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), r)
}

/// Checks `t=…,v1=…` against HMAC-SHA256(secret, "t.body") computed here,
/// independently of the server's code.
pub fn signature_ok(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let Ok(sent) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&sent).is_ok()
}

/// A server that may reach 127.0.0.1, retrying after 100 ms, 200 ms, …, with
/// its job runner polling every 50 ms.
pub async fn hooks_app(allow_private: bool) -> (TestApp, tokio::task::JoinHandle<()>) {
    let app = spawn_app_with(|c| {
        c.webhooks_allow_private = allow_private;
        c.webhook_retry_base = Duration::from_millis(100);
    })
    .await;
    let runner =
        harmonia::housekeeping::runner(&app.state, Arc::new(harmonia::clock::SystemClock), |b| b)
            .expect("runner")
            .spawn(Duration::from_millis(50));
    (app, runner)
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited too long for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn parsed(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

#[tokio::test]
async fn a_delivery_fails_three_times_then_arrives_signed() {
    let (app, runner) = hooks_app(true).await;
    let s = app.setup_owner().await;
    let (url, rx) = receiver(3).await;
    let (status, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["contact.created", "contact.updated", "deal.stage_changed"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(hook["secret_last4"], json!(secret[secret.len() - 4..]));
    let id = hook["id"].as_str().expect("id").to_string();
    // Listing and reading never show the secret again.
    let (_, list) = s.get("/api/v1/orgs/acme/webhooks").await;
    assert!(!list.to_string().contains(&secret));
    assert!(
        list["event_types"]
            .as_array()
            .expect("types")
            .contains(&json!("company.deleted"))
    );

    let (status, contact) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Hooked"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let contact_id = contact["id"].as_str().expect("id").to_string();

    wait_for("the fourth attempt", || rx.all().len() >= 4).await;
    let got = rx.all();
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![500, 500, 500, 200]
    );
    let first = parsed(&got[0]);
    for r in &got {
        assert!(
            signature_ok(&secret, &r.signature, &r.body),
            "bad signature {}",
            r.signature
        );
        assert!(!signature_ok("whsec_wrong", &r.signature, &r.body));
        // The same event each time: receivers drop duplicates by its id.
        assert_eq!(parsed(r)["id"], first["id"]);
    }
    assert_eq!(first["type"], "contact.created");
    assert_eq!(first["org"]["slug"], "acme");
    assert_eq!(first["data"]["id"], json!(contact_id));
    assert_eq!(first["data"]["record"]["first_name"], "Hooked");
    assert!(first["created_at"].as_str().is_some());

    // The delivery log: four attempts, newest first.
    let log = get_until(
        &s,
        &format!("/api/v1/orgs/acme/webhooks/{id}/deliveries"),
        |b| b["items"].as_array().map(Vec::len) == Some(4),
    )
    .await;
    let codes: Vec<i64> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(codes, vec![200, 500, 500, 500]);
    assert_eq!(log["items"][0]["attempt"], 4);

    // An update arrives with what changed; a delete nobody subscribed to does not.
    let (status, _) = s
        .patch(
            &format!("/api/v1/orgs/acme/contacts/{contact_id}"),
            json!({"job_title": "Chief Hook Officer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_for("the update", || rx.all().len() >= 5).await;
    let update = parsed(&rx.all()[4]);
    assert_eq!(update["type"], "contact.updated");
    assert!(
        update["data"]["changes"]["job_title"].is_array(),
        "{update}"
    );
    let (status, _) = s
        .delete(&format!("/api/v1/orgs/acme/contacts/{contact_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The test event, then nothing else (the delete was not subscribed).
    let (status, sent) = s
        .post(&format!("/api/v1/orgs/acme/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    wait_for("the test event", || rx.all().len() >= 6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = rx.all();
    assert_eq!(all.len(), 6);
    assert_eq!(parsed(&all[5])["type"], "webhook.test");
    assert_eq!(parsed(&all[5])["id"], sent["event_id"]);

    // A rotated secret signs from then on; the old one no longer matches.
    let (status, rotated) = s
        .post(
            &format!("/api/v1/orgs/acme/webhooks/{id}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("secret").to_string();
    s.post(&format!("/api/v1/orgs/acme/webhooks/{id}/test"), json!({}))
        .await;
    wait_for("the second test event", || rx.all().len() >= 7).await;
    let last = rx.all()[6].clone();
    assert!(signature_ok(&new_secret, &last.signature, &last.body));
    assert!(!signature_ok(&secret, &last.signature, &last.body));

    // No secret, old or new, is anywhere on disk in plaintext.
    for needle in [&secret, &new_secret] {
        assert_no_plaintext(app.dir.path(), needle.as_bytes());
    }
    runner.abort();
}

/// Every byte of every file under `dir` (databases, journals, keys, index).
pub fn assert_no_plaintext(dir: &std::path::Path, needle: &[u8]) {
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            files += 1;
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "plaintext secret found in {}",
                p.display()
            );
        }
    }
    assert!(files > 3, "scanned only {files} files");
}

#[tokio::test]
async fn a_deal_stage_change_and_members_are_events() {
    let (app, runner) = hooks_app(true).await;
    let s = app.setup_owner().await;
    let (url, rx) = receiver(0).await;
    let (status, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["*"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["events"], json!(["*"]));
    app.add_member(&s, "acme", "mia@example.com", "member")
        .await;
    wait_for("member.added", || {
        rx.all().iter().any(|r| parsed(r)["type"] == "member.added")
    })
    .await;
    let (_, pipelines) = s.get("/api/v1/orgs/acme/pipelines").await;
    let stages = pipelines["items"][0]["stages"]
        .as_array()
        .expect("stages")
        .clone();
    let (status, deal) = s
        .post(
            "/api/v1/orgs/acme/deals",
            json!({"title": "Big one", "stage_id": stages[0]["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deal}");
    let deal_id = deal["id"].as_str().expect("id");
    let (status, moved) = s
        .patch(
            &format!("/api/v1/orgs/acme/deals/{deal_id}"),
            json!({"stage_id": stages[1]["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    wait_for("deal.stage_changed", || {
        rx.all()
            .iter()
            .any(|r| parsed(r)["type"] == "deal.stage_changed")
    })
    .await;
    let ev = rx
        .all()
        .iter()
        .map(parsed)
        .find(|v| v["type"] == "deal.stage_changed")
        .expect("event");
    assert_eq!(ev["data"]["id"], json!(deal_id));
    assert_eq!(ev["data"]["to"]["stage_id"], stages[1]["id"]);
    runner.abort();
}

/// A request as a raw receiver read it: event id, signature, body.
type Request = (String, String, Vec<u8>);
/// The requests one read of connection number `.0` carried.
type Read = (usize, Vec<Request>);

/// What a raw receiver saw: per read of a connection (numbered), the
/// requests it carried.
#[derive(Clone, Default)]
struct Wire {
    reads: Arc<Mutex<Vec<Read>>>,
}

/// A receiver that reads the socket itself, so that it sees how requests
/// arrive, and answers every whole request of a read in one write.
async fn wire_receiver() -> (String, Wire) {
    let wire = Wire::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = wire.clone();
    tokio::spawn(async move {
        let mut conn_no = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            conn_no += 1;
            let (seen, conn) = (seen.clone(), conn_no);
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 1 << 16];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let mut got = Vec::new();
                    loop {
                        let mut headers = [httparse::EMPTY_HEADER; 32];
                        let mut req = httparse::Request::new(&mut headers);
                        let Ok(httparse::Status::Complete(head)) = req.parse(&buf) else {
                            break;
                        };
                        let header = |name: &str| {
                            req.headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case(name))
                                .map(|h| String::from_utf8_lossy(h.value).into_owned())
                                .unwrap_or_default()
                        };
                        let len: usize = header("content-length").parse().expect("length");
                        if buf.len() < head + len {
                            break;
                        }
                        let (id, sig) = (header("harmonia-event-id"), header("harmonia-signature"));
                        got.push((id, sig, buf[head..head + len].to_vec()));
                        buf.drain(..head + len);
                    }
                    if got.is_empty() {
                        continue;
                    }
                    let answers =
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".repeat(got.len());
                    seen.reads.lock().expect("lock").push((conn, got));
                    if sock.write_all(answers.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/in"), wire)
}

#[tokio::test]
async fn many_events_to_one_receiver_go_pipelined_on_few_connections() {
    let (app, runner) = hooks_app(true).await;
    let s = app.setup_owner().await;
    let mut ids = Vec::new();
    for i in 0..24 {
        let (status, c) = s
            .post(
                "/api/v1/orgs/acme/contacts",
                sample_contact(&format!("Pipe{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_str().expect("id").to_string());
    }
    let (url, wire) = wire_receiver().await;
    let (status, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["contact.updated"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_string();
    let (status, done) = s
        .post(
            "/api/v1/orgs/acme/contacts/bulk",
            json!({"ids": ids, "set": {"job_title": "Piped"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let delivered = || {
        wire.reads
            .lock()
            .expect("lock")
            .iter()
            .map(|r| r.1.len())
            .sum::<usize>()
    };
    wait_for("24 deliveries", || delivered() >= 24).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reads = wire.reads.lock().expect("lock").clone();
    // Every event once, each signed over its own body.
    let mut events = std::collections::BTreeSet::new();
    for (_, got) in &reads {
        for (id, sig, body) in got {
            assert!(signature_ok(&secret, sig, body), "bad signature {sig}");
            let v: Value = serde_json::from_slice(body).expect("json");
            assert_eq!(v["id"], json!(id));
            assert_eq!(v["data"]["record"]["job_title"], "Piped");
            assert!(events.insert(id.clone()), "{id} twice");
        }
    }
    assert_eq!(events.len(), 24);
    // Several requests in one read of one connection, and fewer
    // connections than events.
    let most = reads.iter().map(|r| r.1.len()).max().unwrap_or(0);
    assert!(most >= 2, "no read carried two requests: {most}");
    let conns = reads
        .iter()
        .map(|r| r.0)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        conns.len() <= 12,
        "{} connections for 24 events",
        conns.len()
    );
    runner.abort();
}

#[tokio::test]
async fn private_targets_are_refused_without_the_flag() {
    let (app, runner) = hooks_app(false).await;
    let s = app.setup_owner().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:9/hook",
        "http://0.0.0.0/",
    ] {
        let (status, body) = s
            .post(
                "/api/v1/orgs/acme/webhooks",
                json!({"url": url, "events": ["*"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert!(body["error"]["fields"]["url"].is_string(), "{body}");
    }
    for (url, events) in [
        ("ftp://example.com/", json!(["*"])),
        ("not a url", json!(["*"])),
        ("http://user:pw@93.184.216.34/", json!(["*"])),
        ("http://93.184.216.34/", json!([])),
        ("http://93.184.216.34/", json!(["contact.exploded"])),
    ] {
        let (status, body) = s
            .post(
                "/api/v1/orgs/acme/webhooks",
                json!({"url": url, "events": events}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
    }
    let (_, list) = s.get("/api/v1/orgs/acme/webhooks").await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    // A public address is accepted; if it later points inside (here the
    // stored URL is changed underneath, as a DNS change would), the
    // delivery checks again and refuses to connect.
    let (url, rx) = receiver(0).await;
    let (status, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": "http://93.184.216.34/hook", "events": ["contact.created"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().expect("id").to_string();
    let (status, body) = s
        .patch(
            &format!("/api/v1/orgs/acme/webhooks/{id}"),
            json!({"url": url}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
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
    let (u, i) = (url.clone(), id.clone());
    tenant
        .db
        .write(move |tx| {
            tx.execute("UPDATE webhooks SET url = ?1 WHERE id = ?2", [&u, &i])?;
            Ok(())
        })
        .await
        .expect("rebind");
    s.post("/api/v1/orgs/acme/contacts", sample_contact("Rebound"))
        .await;
    let log = get_until(
        &s,
        &format!("/api/v1/orgs/acme/webhooks/{id}/deliveries"),
        |b| b["items"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let err = log["items"][0]["error"].as_str().unwrap_or_default();
    assert!(err.contains("refused"), "{log}");
    assert!(log["items"][0]["status_code"].is_null());
    assert!(rx.all().is_empty(), "nothing reached the private address");
    runner.abort();
}

#[tokio::test]
async fn every_route_is_for_admins_of_the_organization_only() {
    let (app, runner) = hooks_app(true).await;
    let owner = app.setup_owner().await;
    let (url, _rx) = receiver(0).await;
    let (_, hook) = owner
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["*"]}),
        )
        .await;
    let id = hook["id"].as_str().expect("id").to_string();
    let base = format!("/api/v1/orgs/acme/webhooks/{id}");
    for role in ["member", "viewer"] {
        let who = app
            .add_member(&owner, "acme", &format!("{role}@example.com"), role)
            .await;
        for (status, body) in [
            who.get("/api/v1/orgs/acme/webhooks").await,
            who.post(
                "/api/v1/orgs/acme/webhooks",
                json!({"url": url, "events": ["*"]}),
            )
            .await,
            who.get(&base).await,
            who.patch(&base, json!({"enabled": false})).await,
            who.post(&format!("{base}/test"), json!({})).await,
            who.post(&format!("{base}/rotate-secret"), json!({})).await,
            who.get(&format!("{base}/deliveries")).await,
            who.delete(&base).await,
        ] {
            assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
        }
    }
    let admin = app
        .add_member(&owner, "acme", "adam@example.com", "admin")
        .await;
    let (status, _) = admin.get(&base).await;
    assert_eq!(status, StatusCode::OK);

    // Another organization's hook id is a missing one there.
    let (status, other) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let there = format!("/api/v1/orgs/beta/webhooks/{id}");
    for (status, body) in [
        owner.get(&there).await,
        owner.patch(&there, json!({"enabled": false})).await,
        owner.post(&format!("{there}/test"), json!({})).await,
        owner
            .post(&format!("{there}/rotate-secret"), json!({}))
            .await,
        owner.get(&format!("{there}/deliveries")).await,
        owner.delete(&there).await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (_, list) = owner.get("/api/v1/orgs/beta/webhooks").await;
    assert_eq!(list["items"], json!([]));

    // Disable, enable, delete.
    let (status, off) = owner.patch(&base, json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(off["enabled"], false);
    let (status, _) = owner.delete(&base).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = owner.get(&base).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    runner.abort();
}

#[tokio::test]
async fn a_secret_moved_to_another_org_or_purpose_does_not_decrypt() {
    let (app, runner) = hooks_app(true).await;
    let s = app.setup_owner().await;
    let (url, _rx) = receiver(0).await;
    let (_, hook) = s
        .post(
            "/api/v1/orgs/acme/webhooks",
            json!({"url": url, "events": ["*"]}),
        )
        .await;
    let secret = hook["secret"].as_str().expect("secret").to_string();
    let hook_id = hook["id"].as_str().expect("id").to_string();
    s.post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    let state = app.state.clone();
    let (acme, beta, secret_id): (String, String, String) = state
        .control
        .read_blocking(|c| {
            let id = |slug: &str| {
                c.query_row("SELECT id FROM orgs WHERE slug = ?1", [slug], |r| {
                    r.get::<_, String>(0)
                })
            };
            let sid = c.query_row("SELECT id FROM secrets", [], |r| r.get::<_, String>(0))?;
            Ok((id("acme")?, id("beta")?, sid))
        })
        .expect("ids");
    let purpose = format!("webhook:{hook_id}");
    let st = state.clone();
    let (a, p, sid) = (acme.clone(), purpose.clone(), secret_id.clone());
    let plain = state
        .control
        .read_blocking(move |c| st.vault.reveal(c, &sid, &a, &p))
        .expect("opens for its own org and purpose");
    assert_eq!(plain.as_str(), secret);
    // Copied into another organization's name: the row is there, the value is not.
    let (b, sid) = (beta.clone(), secret_id.clone());
    state
        .control
        .write_blocking(move |tx| {
            tx.execute("UPDATE secrets SET org_id = ?1 WHERE id = ?2", [&b, &sid])?;
            Ok(())
        })
        .expect("move");
    for (org, purpose) in [
        (beta.as_str(), purpose.as_str()),
        (acme.as_str(), purpose.as_str()),
        (beta.as_str(), "smtp"),
    ] {
        let (st, o, p, sid) = (
            state.clone(),
            org.to_string(),
            purpose.to_string(),
            secret_id.clone(),
        );
        let r = state
            .control
            .read_blocking(move |c| st.vault.reveal(c, &sid, &o, &p));
        assert!(r.is_err(), "{org}/{purpose} must not decrypt");
    }
    runner.abort();
}
