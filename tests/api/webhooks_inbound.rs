//! Inbound webhooks: a signed event creates records by their external ids,
//! then updates the same ones; a wrong signature, an old timestamp, a
//! replayed event id, an oversize or malformed body write nothing.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

/// Signs like a sender would, independently of the server's code.
fn signed(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

async fn send(
    app: &TestApp,
    endpoint: &str,
    signature: Option<String>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = crate::helpers::http_client()
        .post(format!("{}/api/v1/hooks/{endpoint}", app.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(sig) = signature {
        req = req.header("Harmonia-Signature", sig);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn event(id: &str, records: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"id": id, "type": "lead.captured", "records": records}))
        .expect("json")
}

fn lead(external_id: &str, first: &str) -> Value {
    json!({"kind": "contact", "external_id": external_id,
           "fields": {"first_name": first, "last_name": "Web",
                      "emails": [{"label": "work", "email": format!("{}@example.com", first.to_lowercase())}]}})
}

/// The error body's shape: code and message.
fn is_error(body: &Value, code: &str) -> bool {
    body["error"]["code"] == code && body["error"]["message"].is_string()
}

/// What is sent, with which signature, and the answer expected.
type Case = (
    &'static str,
    Option<String>,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn a_signed_event_creates_then_updates_and_bad_ones_write_nothing() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, ep) = s
        .post(
            "/api/v1/orgs/acme/inbound-hooks",
            json!({"name": "Website form"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ep}");
    let id = ep["id"].as_str().expect("id").to_string();
    let secret = ep["secret"].as_str().expect("secret").to_string();
    assert!(
        ep["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/api/v1/hooks/{id}"))
    );
    let (_, list) = s.get("/api/v1/orgs/acme/inbound-hooks").await;
    assert!(
        !list.to_string().contains(&secret),
        "the secret is shown once"
    );
    assert_eq!(
        list["items"][0]["secret_last4"],
        json!(secret[secret.len() - 4..])
    );

    // The right one creates the contact and a company.
    let body = event(
        "evt-1",
        json!([lead("web-42", "Grace"),
        {"kind": "company", "external_id": "co-7", "fields": {"name": "Hopper Inc"}}]),
    );
    let (status, got) = send(&app, &id, Some(signed(&secret, now(), &body)), body).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["records"][0]["action"], "created");
    assert_eq!(got["records"][1]["action"], "created");
    let contact_id = got["records"][0]["id"].as_str().expect("id").to_string();
    let (_, c) = s
        .get(&format!("/api/v1/orgs/acme/contacts/{contact_id}"))
        .await;
    assert_eq!(c["first_name"], "Grace");
    assert_eq!(contact_count(&s, "acme").await, 1);

    // Hostile or broken requests: each refused, nothing written.
    let changed = event("evt-2", json!([lead("web-42", "Mallory")]));
    let t = now();
    let good_sig = signed(&secret, t, &changed);
    let cases: Vec<Case> = vec![
        (
            "no signature",
            None,
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "wrong secret",
            Some(signed("whsec_guess", t, &changed)),
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "body changed after signing",
            Some(good_sig.clone()),
            event("evt-2", json!([lead("web-42", "Eve")])),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "timestamp changed",
            Some(good_sig.replace(&format!("t={t}"), &format!("t={}", t + 1))),
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "stale",
            Some(signed(&secret, t - 360, &changed)),
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "from the future",
            Some(signed(&secret, t + 360, &changed)),
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "garbage header",
            Some("v1=zz,t=x".into()),
            changed.clone(),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (
            "replay of evt-1",
            Some(signed(
                &secret,
                t,
                &event("evt-1", json!([lead("web-42", "Mallory")])),
            )),
            event("evt-1", json!([lead("web-42", "Mallory")])),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "malformed JSON",
            Some(signed(&secret, t, b"{\"id\": \"evt-3\", ")),
            b"{\"id\": \"evt-3\", ".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "unknown kind",
            Some(signed(
                &secret,
                t,
                &event(
                    "evt-4",
                    json!([{"kind": "user", "external_id": "x", "fields": {}}]),
                ),
            )),
            event(
                "evt-4",
                json!([{"kind": "user", "external_id": "x", "fields": {}}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            "no records",
            Some(signed(&secret, t, &event("evt-5", json!([])))),
            event("evt-5", json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (what, sig, body, want, code) in cases {
        let (status, got) = send(&app, &id, sig, body).await;
        assert_eq!(status, want, "{what}: {got}");
        assert!(is_error(&got, code), "{what}: {got}");
    }
    // Oversize: refused before anything is read into a record.
    let mut big = event("evt-6", json!([lead("web-99", "Big")]));
    big.extend(std::iter::repeat_n(b' ', 300 * 1024));
    let (status, got) = send(&app, &id, Some(signed(&secret, t, &big)), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{got}");
    // An invalid record refuses the whole event (the good one with it)
    // and does not use up its id.
    let half = event(
        "evt-7",
        json!([lead("web-50", "Half"),
        {"kind": "contact", "external_id": "web-51",
         "fields": {"first_name": "Bad", "emails": [{"label": "work", "email": "no"}]}}]),
    );
    let (status, got) = send(&app, &id, Some(signed(&secret, t, &half)), half).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{got}");
    assert!(
        got["error"]["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .any(|k| k.starts_with("records[1].")),
        "{got}"
    );
    // An outside system cannot make a member the owner.
    let (_, me) = s.get("/api/v1/me").await;
    let owner = json!([{"kind": "contact", "external_id": "web-60",
        "fields": {"first_name": "Owned", "owner_id": me["user"]["id"].clone()}}]);
    let body = event("evt-8", owner);
    let (status, got) = send(&app, &id, Some(signed(&secret, t, &body)), body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{got}");
    // An unknown endpoint answers like a wrong signature.
    let body = event("evt-9", json!([lead("web-61", "Nobody")]));
    let (status, _) = send(
        &app,
        "no-such-endpoint",
        Some(signed(&secret, t, &body)),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(contact_count(&s, "acme").await, 1, "nothing was written");
    let (_, c) = s
        .get(&format!("/api/v1/orgs/acme/contacts/{contact_id}"))
        .await;
    assert_eq!(c["first_name"], "Grace");

    // evt-7 corrected, then the same external id again: updated, not doubled.
    let fixed = event("evt-7", json!([lead("web-50", "Half")]));
    let (status, got) = send(&app, &id, Some(signed(&secret, now(), &fixed)), fixed).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let (status, got) = send(&app, &id, Some(good_sig), changed).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["records"][0]["action"], "updated");
    assert_eq!(got["records"][0]["id"], json!(contact_id));
    let (_, c) = s
        .get(&format!("/api/v1/orgs/acme/contacts/{contact_id}"))
        .await;
    assert_eq!(c["first_name"], "Mallory");
    assert_eq!(contact_count(&s, "acme").await, 2);

    // A disabled endpoint accepts nothing.
    let (status, _) = s
        .patch(
            &format!("/api/v1/orgs/acme/inbound-hooks/{id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = event("evt-10", json!([lead("web-62", "Late")]));
    let (status, _) = send(&app, &id, Some(signed(&secret, now(), &body)), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn endpoints_are_for_admins_of_their_organization_only() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (_, ep) = owner
        .post("/api/v1/orgs/acme/inbound-hooks", json!({"name": "Form"}))
        .await;
    let id = ep["id"].as_str().expect("id").to_string();
    let base = format!("/api/v1/orgs/acme/inbound-hooks/{id}");
    for role in ["member", "viewer"] {
        let who = app
            .add_member(&owner, "acme", &format!("{role}@example.com"), role)
            .await;
        for (status, body) in [
            who.get("/api/v1/orgs/acme/inbound-hooks").await,
            who.post("/api/v1/orgs/acme/inbound-hooks", json!({"name": "Mine"}))
                .await,
            who.patch(&base, json!({"enabled": false})).await,
            who.delete(&base).await,
        ] {
            assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
        }
    }
    let admin = app
        .add_member(&owner, "acme", "adam@example.com", "admin")
        .await;
    let (status, list) = admin.get("/api/v1/orgs/acme/inbound-hooks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (status, body) = admin
        .post("/api/v1/orgs/acme/inbound-hooks", json!({"name": " "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let there = format!("/api/v1/orgs/beta/inbound-hooks/{id}");
    for (status, body) in [
        owner.patch(&there, json!({"enabled": false})).await,
        owner.delete(&there).await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (_, list) = owner.get("/api/v1/orgs/beta/inbound-hooks").await;
    assert_eq!(list["items"], json!([]));
    let (status, _) = owner.delete(&base).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = owner.delete(&base).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
