use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const FIREFOX: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Signs in with a browser's User-Agent.
async fn login_as_browser(app: &TestApp, email: &str, ua: &str) -> Session {
    let anon = Anon {
        base: app.base.clone(),
        http: crate::helpers::http_builder()
            .user_agent(ua)
            .build()
            .expect("client"),
    };
    let (status, body, session) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    session.expect("session")
}

fn kinds(items: &Value) -> Vec<String> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn sessions_list_where_you_are_signed_in_and_a_revoked_one_ends_at_once() {
    let app = spawn_app().await;
    let setup = app.setup_owner().await;
    let laptop = login_as_browser(&app, "owner@example.com", FIREFOX).await;

    let (status, body) = setup.get("/api/v1/auth/sessions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{body}");
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "exactly one is this session: {body}");
    let firefox = items
        .iter()
        .find(|s| s["browser"] == "Firefox 133")
        .expect("the laptop's session");
    assert_eq!(firefox["os"], "macOS");
    assert_eq!(firefox["ip"], "127.0.0.1");
    assert_eq!(firefox["current"], false);
    let laptop_id = firefox["id"].as_str().expect("id").to_string();

    assert_eq!(laptop.get("/api/v1/me").await.0, StatusCode::OK);
    let (status, body) = setup
        .delete(&format!("/api/v1/auth/sessions/{laptop_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = laptop.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = laptop.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Gone: a second revoke is a 404.
    let (status, _) = setup
        .delete(&format!("/api/v1/auth/sessions/{laptop_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn nobody_can_see_or_end_another_persons_sessions() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let (_, body) = owner.get("/api/v1/auth/sessions").await;
    let owners_id = body["items"][0]["id"].as_str().expect("id").to_string();
    let (_, body) = member.get("/api/v1/auth/sessions").await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(!ids.contains(&owners_id.as_str()), "{body}");
    // Another person's session id answers like one that does not exist.
    let (status, body) = member
        .delete(&format!("/api/v1/auth/sessions/{owners_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(owner.get("/api/v1/me").await.0, StatusCode::OK);
    // Without the CSRF token nothing ends.
    let (status, _) = member
        .send_with_csrf(
            reqwest::Method::POST,
            "/api/v1/auth/sessions/revoke-others",
            Some(json!({})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // API keys have no sessions or activity.
    let key = app.api_key(&owner, "acme", "admin").await;
    assert_eq!(
        key.get("/api/v1/auth/sessions").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        key.get("/api/v1/auth/activity").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn sign_out_everywhere_else_keeps_only_this_session() {
    let app = spawn_app().await;
    let a = app.setup_owner().await;
    let b = app.login("owner@example.com", PASSWORD).await;
    let c = app.login("owner@example.com", PASSWORD).await;
    let (status, body) = b
        .post("/api/v1/auth/sessions/revoke-others", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], 2);
    assert_eq!(a.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(c.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/api/v1/me").await.0, StatusCode::OK);
    let (_, body) = b.get("/api/v1/auth/sessions").await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn activity_records_sign_ins_failures_and_password_changes() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": "not the password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    login_as_browser(&app, "owner@example.com", FIREFOX).await;
    let (status, _) = owner
        .post(
            "/api/v1/auth/password",
            json!({"current_password": PASSWORD, "new_password": "a new long password"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = owner.get("/api/v1/auth/activity").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        kinds(&body["items"]),
        [
            "password_changed",
            "signed_in",
            "sign_in_failed",
            "signed_in"
        ],
        "{body}"
    );
    let signed_in = &body["items"][1];
    assert_eq!(signed_in["browser"], "Firefox 133");
    assert_eq!(signed_in["ip"], "127.0.0.1");
    assert_eq!(signed_in["detail"], "password");

    // Pages: two at a time, then the rest, with no repeats.
    let (_, page1) = owner
        .get_query("/api/v1/auth/activity", &[("limit", "2")])
        .await;
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_string();
    let (_, page2) = owner
        .get_query(
            "/api/v1/auth/activity",
            &[("limit", "2"), ("cursor", &cursor)],
        )
        .await;
    assert_eq!(kinds(&page2["items"]), ["sign_in_failed", "signed_in"]);
    assert!(page2["next_cursor"].is_null(), "{page2}");
    for bad in [
        ("limit", "0"),
        ("limit", "201"),
        ("cursor", "'; drop table"),
    ] {
        let (status, body) = owner.get_query("/api/v1/auth/activity", &[bad]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {body}");
    }
}

#[tokio::test]
async fn activity_older_than_a_year_is_forgotten() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (_, body) = owner.get("/api/v1/auth/activity").await;
    assert_eq!(kinds(&body["items"]), ["signed_in"]);
    let control = app.state.control.clone();
    // A day short of a year: kept. A day past: gone.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(364);
    let removed = control
        .write(move |tx| harmonia::auth::activity::purge_old(tx, soon))
        .await
        .expect("purge");
    assert_eq!(removed, 0);
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(366);
    let removed = control
        .write(move |tx| harmonia::auth::activity::purge_old(tx, later))
        .await
        .expect("purge");
    assert_eq!(removed, 1);
}
