use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn invites_create_accounts_and_existing_users_join_at_once() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "New.Person@Example.com", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["member"]["status"], "invited");
    assert_eq!(body["member"]["email"], "new.person@example.com");
    let url = body["invite_url"].as_str().expect("link");
    assert!(url.starts_with(&app.base), "{url}");
    let token = url.split("token=").nth(1).expect("token");

    let (status, info) = app
        .anon()
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/invites/{token}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["organization"]["name"], "Acme");
    assert_eq!(info["role"], "member");

    let (status, body) = app
        .anon()
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "New Person", "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body, s) = app
        .anon()
        .sign_in_via(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "New Person", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organizations"][0]["role"], "member");
    assert!(s.is_some());
    // One use only.
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Again", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.login("new.person@example.com", PASSWORD).await;

    // Adding them again is a conflict; an existing user elsewhere joins at once.
    let (status, _) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "new.person@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, org2) = owner
        .post("/api/v1/orgs", json!({"name": "Second Org"}))
        .await;
    let slug = org2["slug"].as_str().expect("slug");
    let (status, body) = owner
        .post(
            &format!("/api/v1/orgs/{slug}/members"),
            json!({"email": "new.person@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["invite_url"], serde_json::Value::Null);
    assert_eq!(body["member"]["status"], "active");
}

#[tokio::test]
async fn the_last_owner_stays_and_only_owners_make_owners() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let me = format!("/api/v1/orgs/acme/members/{}", owner.user_id);

    let (status, _) = owner.patch(&me, json!({"role": "admin"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = owner.delete(&me).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = admin.patch(&me, json!({"role": "member"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins cannot demote owners");
    let (status, _) = admin.delete(&me).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = admin
        .patch(
            &format!("/api/v1/orgs/acme/members/{}", admin.user_id),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "admins cannot make themselves owner"
    );

    // With a second owner, the first may step down, and members may leave.
    let (status, _) = owner
        .patch(
            &format!("/api/v1/orgs/acme/members/{}", admin.user_id),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = owner.patch(&me, json!({"role": "member"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = owner.delete(&me).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "anyone may leave");
    assert_eq!(
        owner.get("/api/v1/orgs/acme").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn only_platform_admins_create_orgs() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "m@example.com", "member")
        .await;
    let (status, _) = member.post("/api/v1/orgs", json!({"name": "Mine"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = owner
        .post(
            "/api/v1/orgs",
            json!({"name": "Beta", "slug": "beta", "default_country": "de"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["default_country"], "DE");
    let (status, _) = owner
        .post(
            "/api/v1/orgs",
            json!({"name": "Beta again", "slug": "beta"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Phone numbers in that org are read as German when written without a country code.
    let (_, c) = owner
        .post(
            "/api/v1/orgs/beta/contacts",
            json!({"first_name": "Jörg", "phones": [{"phone": "030 901820"}]}),
        )
        .await;
    assert_eq!(c["phones"][0]["phone"], "+4930901820");
}
