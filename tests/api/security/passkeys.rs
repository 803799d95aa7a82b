//! Passkey routes at the HTTP boundary: who may touch which passkey, and
//! hostile or stale ceremony answers. The ceremony itself runs in the
//! browser tests, through Chrome's virtual authenticator.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::mfa::{early_in_a_step, enable_totp, first_step};
use crate::helpers::*;

/// A passkey row written straight into the database (the browser test makes
/// real ones): the routes that list, rename and remove need only the row.
async fn plant_passkey(app: &TestApp, user_id: &str, name: &str) -> String {
    let (uid, name) = (user_id.to_string(), name.to_string());
    app.state
        .control
        .write(move |tx| {
            let id = harmonia::clock::new_id();
            tx.execute(
                "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
                 VALUES (?1, ?2, randomblob(16), ?3, '{}', '2026-01-01T00:00:00.000000Z')",
                rusqlite::params![id, uid, name],
            )?;
            Ok(id)
        })
        .await
        .expect("plant")
}

#[tokio::test]
async fn passkeys_are_listed_renamed_and_removed_only_by_their_owner() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let id = plant_passkey(&app, &owner.user_id, "Laptop").await;

    let (status, body) = owner.get("/api/v1/auth/passkeys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["name"], "Laptop");
    let (_, body) = member.get("/api/v1/auth/passkeys").await;
    assert_eq!(body["items"], json!([]));

    // Someone else's passkey answers like a missing one.
    let path = format!("/api/v1/auth/passkeys/{id}");
    let (status, _) = member.patch(&path, json!({"name": "Mine now"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = member.delete(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let key = app.api_key(&owner, "acme", "owner").await;
    assert_eq!(
        key.get("/api/v1/auth/passkeys").await.0,
        StatusCode::FORBIDDEN
    );
    // Reached by an IP address, the server can't offer passkeys: it says why.
    let (status, body) = owner
        .post("/api/v1/auth/passkeys/register/start", json!({}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--public-url")
    );

    for bad in ["", "   ", "a\u{0}b"] {
        let (status, _) = owner.patch(&path, json!({"name": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    let (status, body) = owner.patch(&path, json!({"name": "Work laptop"})).await;
    assert_eq!(
        (status, body["name"].clone()),
        (StatusCode::OK, json!("Work laptop"))
    );

    // A passkey is a second factor: sign-in now asks for it.
    let anon = app.anon();
    let (_, body, session) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(session.is_none());
    assert_eq!(body["methods"], json!(["passkey"]), "{body}");

    let (status, _) = owner.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.login("owner@example.com", PASSWORD).await;
    let (_, body) = owner.get("/api/v1/auth/activity").await;
    assert_eq!(body["items"][1]["kind"], "passkey_removed");
    assert_eq!(body["items"][1]["detail"], "Work laptop");
}

#[tokio::test]
async fn hostile_and_stale_ceremony_answers_are_refused() {
    early_in_a_step().await;
    let app = spawn_app_with(|c| {
        c.public_url = url::Url::parse("http://localhost").expect("url");
    })
    .await;
    let owner = app.setup_owner().await;
    let anon = app.anon();

    // Registration: a ceremony is the caller's own and answers once.
    let (status, start) = owner
        .post("/api/v1/auth/passkeys/register/start", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(
        start["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        start["options"]["publicKey"]["user"]["name"],
        "owner@example.com"
    );
    let ceremony = start["ceremony"].as_str().expect("ceremony").to_string();
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let garbage = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}, "extensions": {}});
    let (status, _) = member
        .post(
            "/api/v1/auth/passkeys/register/finish",
            json!({"ceremony": ceremony, "credential": garbage}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not the member's ceremony");
    let (status, body) = owner
        .post(
            "/api/v1/auth/passkeys/register/finish",
            json!({"ceremony": ceremony, "credential": garbage}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = owner
        .post(
            "/api/v1/auth/passkeys/register/finish",
            json!({"ceremony": ceremony, "credential": garbage}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "spent by the wrong answer");
    let (status, body) = owner
        .post(
            "/api/v1/auth/passkeys/register/finish",
            json!({"ceremony": "x", "credential": {"not": "a credential"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["credential"].is_string());
    assert_eq!(
        owner.get("/api/v1/auth/passkeys").await.1["items"],
        json!([])
    );

    // Sign-in: passwordless answers that name no known passkey get 401.
    let (status, start) = anon
        .post("/api/v1/auth/passkeys/login/start", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert!(start["options"]["publicKey"]["challenge"].is_string());
    let assertion = json!({"id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA",
                     "userHandle": "AAAA"}, "extensions": {}});
    let (status, body, session) = anon
        .sign_in_via(
            "/api/v1/auth/passkeys/login/finish",
            json!({"ceremony": start["ceremony"], "credential": assertion}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(session.is_none());
    let (status, body) = anon
        .post(
            "/api/v1/auth/passkeys/login/finish",
            json!({"ceremony": start["ceremony"], "credential": assertion}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "challenge_expired", "spent: {body}");
    // A second-step start needs a live challenge.
    let (status, body) = anon
        .post(
            "/api/v1/auth/passkeys/login/start",
            json!({"challenge": "not a challenge"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "challenge_expired");
    // With TOTP only, a passkey second step has no passkey to ask for.
    enable_totp(&owner).await;
    let challenge = first_step(&anon, "owner@example.com").await;
    let (status, body) = anon
        .send(
            Method::POST,
            "/api/v1/auth/passkeys/login/start",
            Some(json!({"challenge": challenge})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "passkey_failed");
}
