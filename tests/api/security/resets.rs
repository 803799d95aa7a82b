//! Password reset links made by an admin or on the command line.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn token_of(url: &str) -> String {
    url.split("token=")
        .nth(1)
        .expect("token in link")
        .to_string()
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_the_members_sessions() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let (status, body) = owner
        .post(
            &format!("/api/v1/orgs/acme/members/{}/reset-link", member.user_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["reset_url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/reset-password?token=", app.base)),
        "{url}"
    );
    let token = token_of(url);
    let anon = app.anon();

    let (status, info) = anon
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/password-resets/{token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["email"], "member@example.com");
    // A short password is refused and the link stays good.
    let (status, _) = anon
        .post(
            "/api/v1/password-resets/accept",
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(member.get("/api/v1/me").await.0, StatusCode::OK);
    let (status, body) = anon
        .post(
            "/api/v1/password-resets/accept",
            json!({"token": token, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Every session of the account ended; the new password signs in, the old doesn't.
    assert_eq!(member.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    app.login("member@example.com", "a brand new password")
        .await;
    let (status, _) = anon
        .post(
            "/api/v1/auth/login",
            json!({"email": "member@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Once only.
    let (status, _) = anon
        .post(
            "/api/v1/password-resets/accept",
            json!({"token": token, "password": "another new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = anon
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/password-resets/{token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The member's activity says what happened.
    let m = app
        .login("member@example.com", "a brand new password")
        .await;
    let (_, body) = m.get("/api/v1/auth/activity").await;
    let kinds: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"password_reset") && kinds.contains(&"password_reset_link_created"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn only_admins_make_links_and_never_above_their_role_or_outside_their_org() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let link = |id: &str| format!("/api/v1/orgs/acme/members/{id}/reset-link");

    let (status, _) = member.post(&link(&admin.user_id), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members make no links");
    let (status, _) = admin.post(&link(&owner.user_id), json!({})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin can't take over an owner"
    );
    let (status, _) = admin.post(&link(&member.user_id), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = app.api_key(&owner, "acme", "admin").await;
    let (status, _) = key.post(&link(&member.user_id), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "API keys make no links");

    // Someone in another organization only: 404, like nobody.
    let (status, body) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let outsider = app
        .add_member(&owner, "beta", "outsider@example.com", "member")
        .await;
    let (status, _) = admin.post(&link(&outsider.user_id), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .post(&link("0190a0a0-0000-7000-8000-000000000001"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Invited, not yet accepted: the invitation is the way in.
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "pending@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let pending = body["member"]["user_id"].as_str().expect("id").to_string();
    let (status, _) = owner.post(&link(&pending), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_new_link_replaces_the_old_and_an_hour_later_none_works() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let path = format!("/api/v1/orgs/acme/members/{}/reset-link", member.user_id);
    let (_, first) = owner.post(&path, json!({})).await;
    let (_, second) = owner.post(&path, json!({})).await;
    let anon = app.anon();
    let accept = |url: &serde_json::Value| json!({"token": token_of(url["reset_url"].as_str().unwrap_or_default()), "password": "a brand new password"});
    let (status, _) = anon
        .post("/api/v1/password-resets/accept", accept(&first))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the older link stopped working"
    );
    app.state
        .control
        .write(|tx| {
            tx.execute(
                "UPDATE password_resets SET expires_at = '2000-01-01T00:00:00.000000Z'",
                [],
            )?;
            Ok(())
        })
        .await
        .expect("age");
    let (status, _) = anon
        .post("/api/v1/password-resets/accept", accept(&second))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "expired");
    assert_eq!(
        member.get("/api/v1/me").await.0,
        StatusCode::OK,
        "nothing changed"
    );
}

#[tokio::test]
async fn the_command_line_makes_a_link_while_the_server_runs() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args([
            "reset-password",
            "--email",
            "OWNER@example.com",
            "--public-url",
        ])
        .arg(&app.base)
        .env("HARMONIA_LOG", "warn")
        .output()
        .expect("run harmonia");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout
        .lines()
        .find(|l| l.contains("/reset-password?token="))
        .expect("a link");
    assert!(url.starts_with(&app.base), "{url}");
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/password-resets/accept",
            json!({"token": token_of(url), "password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(owner.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    app.login("owner@example.com", "a brand new password").await;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(["reset-password", "--email", "nobody@example.com"])
        .output()
        .expect("run harmonia");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody@example.com"));
}
