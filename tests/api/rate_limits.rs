//! API rate limits (a token bucket per API key, per session, and per address
//! without credentials) with their headers on every answer, and the
//! per-organization API request log with its roles and isolation.

use std::net::IpAddr;

use harmonia::auth::rate_limit::{Limits, Rate};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Small limits so a test meets them: 5 at once per key or session, 3 per
/// address; refills of one a second (60 a minute).
async fn limited_app() -> TestApp {
    spawn_app_with(|c| {
        c.rate_limits = Limits {
            caller: Rate::new(60, 5),
            address: Rate::new(60, 3),
        }
    })
    .await
}

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {:?}", resp.headers()))
}

async fn get_with_key(app: &TestApp, secret: &str, path: &str) -> reqwest::Response {
    crate::helpers::http_client()
        .get(format!("{}{path}", app.base))
        .bearer_auth(secret)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn past_the_burst_a_key_gets_429_with_headers_and_others_are_unaffected() {
    let app = limited_app().await;
    let owner = app.setup_owner().await;
    // Creating keys spends the owner's session bucket: 2 of 5.
    let key = app.api_key(&owner, "acme", "member").await;
    let other = app.api_key(&owner, "acme", "member").await;
    let path = "/api/v1/orgs/acme/contacts";
    for left in (0..5).rev() {
        let resp = get_with_key(&app, &key.secret, path).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "ratelimit-limit"), 5);
        assert_eq!(header(&resp, "ratelimit-remaining"), left);
        assert!(header(&resp, "ratelimit-reset") <= 5);
    }
    let resp = get_with_key(&app, &key.secret, path).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&resp, "retry-after") >= 1);
    assert_eq!(header(&resp, "ratelimit-limit"), 5);
    assert_eq!(header(&resp, "ratelimit-remaining"), 0);
    assert!(header(&resp, "ratelimit-reset") >= 1);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // A second key of the same organization, the owner's session, and a key
    // of another organization go on.
    let resp = get_with_key(&app, &other.secret, path).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "ratelimit-remaining"), 4);
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let beta = app.api_key(&owner, "beta", "member").await;
    let resp = get_with_key(&app, &beta.secret, "/api/v1/orgs/beta/contacts").await;
    assert_eq!(resp.status(), StatusCode::OK);

    // A refused request changed nothing: after the wait the key goes on.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = get_with_key(&app, &key.secret, path).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_has_its_own_bucket() {
    let app = limited_app().await;
    let owner = app.setup_owner().await;
    let key = app.api_key(&owner, "acme", "admin").await;
    // The owner's session has spent some of its 5 (the key); within 5 more
    // it gets 429.
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(owner.get("/api/v1/me").await.0);
    }
    assert_eq!(
        answers.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    assert!(answers.contains(&StatusCode::OK), "{answers:?}");
    // Unsafe methods are limited the same way (and change nothing).
    let (status, _) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Nope"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, list) = key.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn unauthenticated_endpoints_are_limited_per_address() {
    let app = limited_app().await;
    app.setup_owner().await;
    let attacker = app.anon_from(ip(7));
    let wrong = json!({"email": "owner@example.com", "password": "guess guess guess"});
    for _ in 0..3 {
        let (status, _) = attacker.post("/api/v1/auth/login", wrong.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Past the address's burst, sign-in, invites, setup and inbound hooks
    // all answer 429 with the headers.
    for (path, body) in [
        ("/api/v1/auth/login", wrong.clone()),
        (
            "/api/v1/invites/accept",
            json!({"token": "x", "password": "y"}),
        ),
        ("/api/v1/setup", json!({})),
        ("/api/v1/hooks/some-endpoint", json!({"id": "1"})),
    ] {
        let resp = attacker
            .http
            .post(format!("{}{path}", app.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(header(&resp, "retry-after") >= 1, "{path}");
        assert_eq!(header(&resp, "ratelimit-limit"), 3, "{path}");
        assert_eq!(header(&resp, "ratelimit-remaining"), 0, "{path}");
    }
    // Another address is unaffected.
    let (status, _) = app
        .anon_from(ip(8))
        .post("/api/v1/auth/login", wrong.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn made_up_keys_do_not_each_get_a_fresh_bucket() {
    let app = limited_app().await;
    let owner = app.setup_owner().await;
    let key = app.api_key(&owner, "acme", "member").await;
    let from = |last| {
        crate::helpers::http_builder()
            .local_address(ip(last))
            .build()
            .expect("client")
    };
    let attacker = from(9);
    let path = format!("{}/api/v1/orgs/acme/contacts", app.base);
    // The real key, used once from the attacker's address, is known good.
    let resp = from(9)
        .get(&path)
        .bearer_auth(&key.secret)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    for i in 0..3 {
        let resp = attacker
            .get(&path)
            .bearer_auth(format!("hmn_madeup{i}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().contains_key("ratelimit-remaining"));
    }
    let resp = attacker
        .get(&path)
        .bearer_auth("hmn_madeup-next")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    // The known key from the same address goes on.
    let resp = from(9)
        .get(&path)
        .bearer_auth(&key.secret)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn admins_read_their_organizations_api_requests() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "mo@example.com", "member")
        .await;
    let viewer = app
        .add_member(&owner, "acme", "vi@example.com", "viewer")
        .await;
    let admin = app
        .add_member(&owner, "acme", "ada@example.com", "admin")
        .await;
    let key = app.api_key(&owner, "acme", "member").await;
    let admin_key = app.api_key(&owner, "acme", "admin").await;
    let (_, c) = key
        .post("/api/v1/orgs/acme/contacts", sample_contact("Logged"))
        .await;
    let id = c["id"].as_str().expect("id").to_string();
    key.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    let (status, _) = key.get("/api/v1/orgs/acme/contacts/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let path = "/api/v1/orgs/acme/api-requests";
    let (status, page) = owner.get(&format!("{path}?actor={}", key.id)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{page:#}");
    // Newest first; route templates, never concrete ids.
    assert_eq!(items[0]["route"], "/api/v1/orgs/{org}/contacts/{id}");
    assert_eq!(items[0]["status"], 404);
    assert_eq!(items[1]["method"], "GET");
    assert_eq!(items[1]["status"], 200);
    assert_eq!(items[2]["method"], "POST");
    assert_eq!(items[2]["route"], "/api/v1/orgs/{org}/contacts");
    assert_eq!(items[2]["status"], 201);
    assert!(!page.to_string().contains(&id), "{page}");
    for e in items {
        assert_eq!(e["actor_kind"], "api_key");
        assert_eq!(e["actor_label"], "member");
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["latency_ms"].as_i64().is_some());
    }
    let (_, failed) = owner.get(&format!("{path}?failed=true")).await;
    let failed = failed["items"].as_array().expect("items");
    assert!(failed.iter().all(|e| e["status"].as_u64() >= Some(400)));
    assert!(failed.iter().any(|e| e["status"] == 404));
    // Only keys', or only people's.
    let (_, by_keys) = owner.get(&format!("{path}?via=api_key&limit=200")).await;
    let by_keys = by_keys["items"].as_array().expect("items");
    assert!(by_keys.len() >= 3);
    assert!(by_keys.iter().all(|e| e["actor_kind"] == "api_key"));
    let (_, by_people) = owner.get(&format!("{path}?via=user&limit=200")).await;
    let by_people = by_people["items"].as_array().expect("items");
    assert!(!by_people.is_empty());
    assert!(by_people.iter().all(|e| e["actor_kind"] == "user"));
    // People's requests are there too.
    let (_, all) = owner.get(&format!("{path}?limit=200")).await;
    assert!(
        all["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["actor_label"] == "owner@example.com" && e["actor_kind"] == "user")
    );
    // Paging walks the same entries.
    let (_, first) = owner.get(&format!("{path}?limit=2&actor={}", key.id)).await;
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let (_, second) = owner
        .get(&format!("{path}?limit=2&actor={}&cursor={cursor}", key.id))
        .await;
    assert_eq!(second["items"][0]["status"], 201);
    assert!(second["next_cursor"].is_null());

    // Roles: admins and owners (people or keys) only.
    assert_eq!(admin.get(path).await.0, StatusCode::OK);
    assert_eq!(admin_key.get(path).await.0, StatusCode::OK);
    assert_eq!(member.get(path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(viewer.get(path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(key.get(path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.anon().send(reqwest::Method::GET, path, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Bad parameters: 422 in the error shape.
    for q in [
        "failed=maybe",
        "cursor=x",
        "limit=0",
        "limit=500",
        "actor=%01",
    ] {
        let (status, body) = owner.get(&format!("{path}?{q}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert!(body["error"]["code"].is_string());
    }

    // Another organization: 404 for acme's log, and its own log holds
    // nothing of acme's.
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let beta_owner = app
        .add_member(&owner, "beta", "bo@example.com", "owner")
        .await;
    let beta_key = app.api_key(&beta_owner, "beta", "owner").await;
    assert_eq!(beta_owner.get(path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(beta_key.get(path).await.0, StatusCode::NOT_FOUND);
    let (status, beta) = beta_owner
        .get("/api/v1/orgs/beta/api-requests?limit=200")
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = beta.to_string();
    assert!(
        !text.contains(&key.id) && !text.contains("mo@example.com"),
        "{text}"
    );
}

#[tokio::test]
async fn api_requests_are_kept_30_days() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let key = app.api_key(&owner, "acme", "member").await;
    assert_eq!(
        key.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
    let keys_requests = || async {
        let (status, page) = owner
            .get("/api/v1/orgs/acme/api-requests?via=api_key")
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().expect("items").len()
    };
    assert_eq!(keys_requests().await, 1);
    let now = time::OffsetDateTime::now_utc();
    let clock = std::sync::Arc::new(harmonia::clock::TestClock::at(
        now + time::Duration::days(29),
    ));
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| b).expect("runner");
    runner.run_due().await;
    assert_eq!(keys_requests().await, 1, "29 days old: kept");
    clock.set(now + time::Duration::days(31));
    runner.run_due().await;
    assert_eq!(keys_requests().await, 0, "31 days old: purged");
}
