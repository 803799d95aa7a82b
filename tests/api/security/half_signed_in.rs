//! A client that got past the password but not the second step holds a
//! challenge and nothing else. Whatever it does with it, every API route
//! that needs a signed-in caller answers 401: a table over every operation
//! of the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::mfa::{early_in_a_step, enable_totp, first_step};
use crate::helpers::*;

/// Operations anyone may call: they don't look at credentials at all.
const PUBLIC: &[&str] = &[
    "/auth/login",
    "/auth/signup",
    "/auth/mfa/verify",
    "/auth/passkeys/login/start",
    "/auth/passkeys/login/finish",
    "/setup",
    "/setup/status",
    "/invites/accept",
    "/invites/{token}",
    "/password-resets/accept",
    "/password-resets/{token}",
    // Signed by the sender, no session: its own tests (webhooks_inbound).
    "/hooks/{endpoint_id}",
];

fn fill(path: &str) -> String {
    let id = "0190a0a0-0000-7000-8000-000000000001";
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        let name = &rest[start + 1..end];
        out.push_str(match name {
            "org" => "acme",
            "kind" => "contacts",
            _ => id,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_answers_401_to_a_client_holding_only_a_challenge() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    enable_totp(&owner).await;
    let anon = app.anon();
    let challenge = first_step(&anon, "owner@example.com").await;
    let forged_csrf = harmonia::auth::tokens::csrf_for(&challenge);

    let (status, doc) = anon.send(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        for (method, _) in item.as_object().expect("item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let url = format!("{}/api/v1{}", app.base, fill(path));
            // The challenge as a session cookie (with the CSRF token it would
            // have), and as a bearer token.
            let as_cookie = anon
                .http
                .request(method.clone(), &url)
                .header("cookie", format!("harmonia_session={challenge}"))
                .header("x-csrf-token", &forged_csrf)
                .json(&json!({}))
                .send()
                .await
                .expect("request");
            assert_eq!(
                as_cookie.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with the challenge as a cookie"
            );
            let as_bearer = anon
                .http
                .request(method.clone(), &url)
                .bearer_auth(format!("hmn_{challenge}"))
                .json(&json!({}))
                .send()
                .await
                .expect("request");
            assert_eq!(
                as_bearer.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with the challenge as a key"
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} operations in the document");
    // The challenge itself is still good for its one purpose.
    let (_, body) = owner.get("/api/v1/auth/mfa").await;
    assert_eq!(body["totp"], true);
}
