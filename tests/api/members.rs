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
    assert_eq!(body["member"]["name"], "New Person");
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

/// Another organization inviting the same email gets only its own membership:
/// accepting its token never opens the first organization.
#[tokio::test]
async fn an_invite_from_another_org_cannot_take_over_a_pending_membership() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let acme = app.setup_owner().await;
    let (_, acme_invite) = acme
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "victim@corp.example", "role": "admin"}),
        )
        .await;
    let acme_token = acme_invite["invite_url"]
        .as_str()
        .expect("link")
        .split("token=")
        .nth(1)
        .expect("t")
        .to_string();

    let (_, _, mallory) = app
        .anon()
        .sign_in_via("/api/v1/auth/signup", json!({"name": "M", "email": "m@evil.example", "password": PASSWORD, "org_name": "Evil"}))
        .await;
    let mallory = mallory.expect("mallory");
    let (status, evil_invite) = mallory
        .post(
            "/api/v1/orgs/evil/members",
            json!({"email": "victim@corp.example", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{evil_invite}");
    assert_eq!(evil_invite["member"]["status"], "invited");
    let evil_token = evil_invite["invite_url"]
        .as_str()
        .expect("link")
        .split("token=")
        .nth(1)
        .expect("t")
        .to_string();
    let (status, body, hijacked) = app
        .anon()
        .sign_in_via(
            "/api/v1/invites/accept",
            json!({"token": evil_token, "name": "Victim?", "password": "mallorys password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let orgs: Vec<&str> = body["organizations"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["slug"].as_str())
        .collect();
    assert_eq!(orgs, ["evil"], "only the inviting org");
    let hijacked = hijacked.expect("session");
    assert_eq!(
        hijacked.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        hijacked.get("/api/v1/orgs/acme/members").await.0,
        StatusCode::NOT_FOUND
    );

    // Acme's own link no longer sets a password: the account must sign in to accept.
    let (status, _) = app
        .anon()
        .post(
            "/api/v1/invites/accept",
            json!({"token": acme_token, "name": "V", "password": "another password"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, members) = acme.get("/api/v1/orgs/acme/members").await;
    let victim = members["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["email"] == "victim@corp.example")
        .cloned()
        .expect("listed");
    assert_eq!(victim["status"], "invited");
}

#[tokio::test]
async fn an_existing_account_joins_at_once_without_its_name_shown() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let sam = app
        .add_member(&owner, "acme", "sam@example.com", "member")
        .await;
    let (_, org2) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(org2["slug"], "beta");
    // Sam has an account now, so Beta adds him at once, without a link.
    let (_, added) = owner
        .post(
            "/api/v1/orgs/beta/members",
            json!({"email": "sam@example.com", "role": "viewer"}),
        )
        .await;
    assert_eq!(added["member"]["status"], "active");
    assert_eq!(
        added["member"]["name"], "sam@example.com",
        "his chosen name is his own business"
    );
    assert_eq!(
        sam.get("/api/v1/orgs/beta/contacts").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_pending_owner_does_not_keep_an_org_owned() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "nobody-yet@example.com", "role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = owner
        .delete(&format!("/api/v1/orgs/acme/members/{}", owner.user_id))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the only owner who can sign in may not leave"
    );
}

#[tokio::test]
async fn api_keys_act_with_their_creators_current_rights() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "adm@example.com", "admin")
        .await;
    let key = app.api_key(&admin, "acme", "admin").await;
    let me = format!("/api/v1/orgs/acme/members/{}", admin.user_id);
    assert_eq!(
        key.post("/api/v1/orgs/acme/contacts", sample_contact("K"))
            .await
            .0,
        StatusCode::CREATED
    );

    // Demoted to viewer: the key can no longer write, nor promote its creator back.
    assert_eq!(
        owner.patch(&me, json!({"role": "viewer"})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        key.post("/api/v1/orgs/acme/contacts", sample_contact("K"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        key.send(reqwest::Method::PATCH, &me, Some(json!({"role": "admin"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        key.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::OK,
        "a viewer still reads"
    );

    // Removed: the key stops working.
    assert_eq!(owner.delete(&me).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        key.get("/api/v1/orgs/acme/contacts").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_account_accepts_a_second_pending_invitation_while_signed_in() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    let link = |body: &serde_json::Value| {
        body["invite_url"]
            .as_str()
            .expect("link")
            .split("token=")
            .nth(1)
            .expect("t")
            .to_string()
    };
    // Invited to both before having an account.
    let (_, a) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "dee@example.com", "role": "member"}),
        )
        .await;
    let (_, b) = owner
        .post(
            "/api/v1/orgs/beta/members",
            json!({"email": "dee@example.com", "role": "viewer"}),
        )
        .await;
    let (status, _, dee) = app
        .anon()
        .sign_in_via(
            "/api/v1/invites/accept",
            json!({"token": link(&a), "name": "Dee", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let dee = dee.expect("session");
    assert_eq!(
        dee.get("/api/v1/orgs/beta/contacts").await.0,
        StatusCode::NOT_FOUND,
        "still pending"
    );

    let (_, info) = app
        .anon()
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/invites/{}", link(&b)),
            None,
        )
        .await;
    assert_eq!(info["account_exists"], true);
    let accept = json!({"token": link(&b)});
    let (status, _) = dee
        .send_with_csrf(
            reqwest::Method::POST,
            "/api/v1/invites/accept",
            Some(accept.clone()),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a cookie without the CSRF token is not enough"
    );
    let (status, body) = dee.post("/api/v1/invites/accept", accept.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        dee.get("/api/v1/orgs/beta/contacts").await.0,
        StatusCode::OK
    );
    assert_eq!(
        dee.post("/api/v1/invites/accept", accept).await.0,
        StatusCode::NOT_FOUND,
        "one use"
    );
}

/// A pending invitation can be re-issued: the new link works, the old one
/// no longer does, and "joined" is when they accepted.
#[tokio::test]
async fn a_new_invitation_link_replaces_the_old_one() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": "late@example.com", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let user_id = body["member"]["user_id"].as_str().expect("id").to_string();
    let invited_at = body["member"]["joined_at"]
        .as_str()
        .expect("at")
        .to_string();
    let old = body["invite_url"].as_str().expect("url").to_string();
    let token_of = |url: &str| url.split("token=").nth(1).expect("token").to_string();
    let path = format!("/api/v1/orgs/acme/members/{user_id}/invite");

    assert_eq!(member.post(&path, json!({})).await.0, StatusCode::FORBIDDEN);
    let (status, body) = owner.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["invite_url"].as_str().expect("url").to_string();
    assert_ne!(token_of(&old), token_of(&new));
    let accept =
        |token: String| json!({"token": token, "name": "Late Comer", "password": PASSWORD});
    let (status, _) = app
        .anon()
        .post("/api/v1/invites/accept", accept(token_of(&old)))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the old link no longer works"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, body, _) = app
        .anon()
        .sign_in_via("/api/v1/invites/accept", accept(token_of(&new)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organizations"][0]["role"], "admin");
    let (_, list) = owner.get("/api/v1/orgs/acme/members").await;
    let late = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["user_id"] == user_id.as_str())
        .expect("member")
        .clone();
    assert_eq!(late["status"], "active");
    assert!(
        late["joined_at"].as_str().expect("joined") > invited_at.as_str(),
        "joined is when they accepted: {late}"
    );
    // Joined: nothing to re-send. Someone not invited here: not found.
    assert_eq!(owner.post(&path, json!({})).await.0, StatusCode::CONFLICT);
    assert_eq!(
        owner
            .post("/api/v1/orgs/acme/members/nobody/invite", json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        owner
            .post(
                &format!("/api/v1/orgs/other/members/{user_id}/invite"),
                json!({})
            )
            .await
            .0,
        StatusCode::NOT_FOUND,
        "another organization's invitee is not there"
    );
}

/// A change checks only the users it newly names: a record whose owner,
/// assignee, user field or mention has left the organization can still be
/// edited (and sent back whole), but no one can newly name a non-member —
/// refused with the field, nothing written.
#[tokio::test]
async fn a_change_checks_only_the_users_it_newly_names() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    const O: &str = "/api/v1/orgs/acme";
    let (status, f) = s
        .post(
            &format!("{O}/fields"),
            json!({"kind": "contact", "key": "manager", "label": "Manager", "type": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    let mut body = sample_contact("Ada");
    body["owner_id"] = json!(mia.user_id);
    body["custom"] = json!({"manager": mia.user_id});
    let (status, c) = s.post(&format!("{O}/contacts"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let contact = format!("{O}/contacts/{}", c["id"].as_str().expect("id"));
    let (status, t) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "call", "assignee_id": mia.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let task = format!("{O}/tasks/{}", t["id"].as_str().expect("id"));
    let mention = |id: &str| format!("<p><span data-member=\"{id}\">@M</span> hi</p>");
    let (status, n) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": mention(&mia.user_id)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{n}");
    let note = format!("{O}/notes/{}", n["id"].as_str().expect("id"));
    let (status, _) = s.delete(&format!("{O}/members/{}", mia.user_id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Mia is named already: changes elsewhere, and the record sent back
    // whole, are taken.
    let (status, after) = s.patch(&contact, json!({"job_title": "CTO"})).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["owner_id"], json!(mia.user_id));
    let (status, after) = s.patch(&contact, after.clone()).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    let (status, t2) = s.patch(&task, json!({"title": "call back"})).await;
    assert_eq!(status, StatusCode::OK, "{t2}");
    assert_eq!(t2["assignee_id"], json!(mia.user_id));
    let (status, n2) = s.patch(&note, json!({"pinned": true})).await;
    assert_eq!(status, StatusCode::OK, "{n2}");

    // Newly naming a non-member is refused, with the field, and writes nothing.
    let stranger = "01900000-0000-7000-8000-000000000000";
    for (path, patch, field) in [
        (
            &contact,
            json!({"owner_id": stranger, "job_title": "x"}),
            "owner_id",
        ),
        (
            &contact,
            json!({"custom": {"manager": stranger}, "job_title": "x"}),
            "custom.manager",
        ),
        (
            &task,
            json!({"assignee_id": stranger, "title": "x"}),
            "owner_id",
        ),
        (
            &note,
            json!({"body": mention(stranger), "pinned": false}),
            "body",
        ),
    ] {
        let (_, before) = s.get(path).await;
        let (status, err) = s.patch(path, patch.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patch}: {err}");
        assert!(err["error"]["fields"][field].is_string(), "{patch}: {err}");
        let (_, now) = s.get(path).await;
        assert_eq!(now, before, "{patch} wrote something");
    }

    // Naming a member is taken (checked, then written); once Mia is no
    // longer named, naming her again is refused.
    let (status, after) = s
        .patch(
            &contact,
            json!({"owner_id": s.user_id, "custom": {"manager": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["owner_id"], json!(s.user_id));
    let (status, err) = s.patch(&contact, json!({"owner_id": mia.user_id})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"]["fields"]["owner_id"].is_string(), "{err}");
}

/// A change to a record too large to validate on the writer (here: twenty
/// emails and twenty phones) is validated beside it and lands the same.
#[tokio::test]
async fn a_change_to_a_large_record_lands() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut body = sample_contact("Many");
    body["emails"] = json!(
        (0..20)
            .map(|i| json!({"label": "work", "email": format!("m{i}@example.com")}))
            .collect::<Vec<_>>()
    );
    body["phones"] = json!(
        (0..20)
            .map(|i| json!({"label": "work", "phone": format!("+1 415 555 01{i:02}")}))
            .collect::<Vec<_>>()
    );
    let (status, c) = s.post("/api/v1/orgs/acme/contacts", body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let path = format!(
        "/api/v1/orgs/acme/contacts/{}",
        c["id"].as_str().expect("id")
    );
    let (status, after) = s.patch(&path, json!({"job_title": "Chief"})).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["job_title"], "Chief");
    assert_eq!(after["emails"].as_array().map(Vec::len), Some(20));
    assert_eq!(after["phones"].as_array().map(Vec::len), Some(20));
    let (status, err) = s.patch(&path, json!({"stage": "nonsense"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, now) = s.get(&path).await;
    assert_eq!(now["stage"], c["stage"]);
}
