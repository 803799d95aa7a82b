//! An organization that requires two-factor sign-in.

use reqwest::StatusCode;
use serde_json::json;

use super::mfa::{early_in_a_step, enable_totp};
use crate::helpers::*;

#[tokio::test]
async fn members_without_a_factor_are_sent_to_enrol_and_api_keys_are_unaffected() {
    early_in_a_step().await;
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    // A key made by the admin, who has no factor.
    let key = app.api_key(&admin, "acme", "member").await;

    // Nobody without a factor turns the policy on: not the owner…
    let (status, body) = owner
        .patch("/api/v1/orgs/acme", json!({"require_mfa": true}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["require_mfa"].is_string());
    // …nor an admin's API key acting for them.
    let admin_key = app.api_key(&admin, "acme", "admin").await;
    let (status, _) = admin_key
        .send(
            reqwest::Method::PATCH,
            "/api/v1/orgs/acme",
            Some(json!({"require_mfa": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A member can't at all.
    let (status, _) = member
        .patch("/api/v1/orgs/acme", json!({"require_mfa": true}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    enable_totp(&owner).await;
    let (status, body) = owner
        .patch("/api/v1/orgs/acme", json!({"require_mfa": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["require_mfa"], true);

    // The owner (with a factor) goes on working.
    assert_eq!(
        owner.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
    // The others reach none of the organization's routes until they enrol.
    for (who, s) in [("admin", &admin), ("member", &member)] {
        for path in [
            "/api/v1/orgs/acme",
            "/api/v1/orgs/acme/contacts",
            "/api/v1/orgs/acme/members",
        ] {
            let (status, body) = s.get(path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} {path}: {body}");
            assert_eq!(body["error"]["code"], "mfa_enrollment_required");
        }
        let (status, body) = s
            .post("/api/v1/orgs/acme/contacts", sample_contact("Blocked"))
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::FORBIDDEN, json!("mfa_enrollment_required"))
        );
        // They can still see why and set a factor up.
        let (status, body) = s.get("/api/v1/auth/mfa").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["required_by"], json!(["acme"]));
    }
    assert_eq!(
        contact_count(&owner, "acme").await,
        0,
        "nothing was written"
    );
    // The admin's API key works as before.
    let (status, body) = key
        .post("/api/v1/orgs/acme/contacts", sample_contact("Keyed"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Enrolled, the member is in; and can't turn the only factor off meanwhile.
    let (secret, _) = enable_totp(&member).await;
    assert_eq!(
        member.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
    let (status, body) = member
        .send(
            reqwest::Method::DELETE,
            "/api/v1/auth/mfa/totp",
            Some(json!({"password": PASSWORD, "code": super::mfa::code_at(&secret, 0)})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        member.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );

    // Turned off again, everyone is back.
    let (status, _) = owner
        .patch("/api/v1/orgs/acme", json!({"require_mfa": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        admin.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK
    );
}
