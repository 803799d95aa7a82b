//! Every write endpoint of an organization, called by each role.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Fresh targets for each call, so every row of the table runs on its own data.
struct Targets {
    contact: String,
    trashed_contact: String,
    company: String,
    trashed_company: String,
    member: String,
    key: String,
}

async fn targets(app: &TestApp, owner: &Session, n: usize) -> Targets {
    let post = |path: &str, body: Value| {
        let owner = owner.clone();
        let path = path.to_string();
        async move {
            let (status, body) = owner.post(&path, body).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["id"].as_str().expect("id").to_string()
        }
    };
    let contact = post("/api/v1/orgs/acme/contacts", sample_contact("Target")).await;
    let trashed_contact = post("/api/v1/orgs/acme/contacts", sample_contact("Trashed")).await;
    owner
        .delete(&format!("/api/v1/orgs/acme/contacts/{trashed_contact}"))
        .await;
    let company = post("/api/v1/orgs/acme/companies", json!({"name": "Initech"})).await;
    let trashed_company = post("/api/v1/orgs/acme/companies", json!({"name": "Gone Ltd"})).await;
    owner
        .delete(&format!("/api/v1/orgs/acme/companies/{trashed_company}"))
        .await;
    let (_, added) = owner
        .post(
            "/api/v1/orgs/acme/members",
            json!({"email": format!("target{n}@example.com"), "role": "member"}),
        )
        .await;
    let member = added["member"]["user_id"]
        .as_str()
        .expect("member")
        .to_string();
    let key = app.api_key(owner, "acme", "viewer").await.id;
    Targets {
        contact,
        trashed_contact,
        company,
        trashed_company,
        member,
        key,
    }
}

fn writes(t: &Targets, n: usize) -> Vec<(&'static str, Method, String, Option<Value>)> {
    vec![
        (
            "create contact",
            Method::POST,
            "/api/v1/orgs/acme/contacts".into(),
            Some(sample_contact("New")),
        ),
        (
            "update contact",
            Method::PATCH,
            format!("/api/v1/orgs/acme/contacts/{}", t.contact),
            Some(json!({"job_title": "CEO"})),
        ),
        (
            "delete contact",
            Method::DELETE,
            format!("/api/v1/orgs/acme/contacts/{}", t.contact),
            None,
        ),
        (
            "restore contact",
            Method::POST,
            format!("/api/v1/orgs/acme/contacts/{}/restore", t.trashed_contact),
            None,
        ),
        (
            "create company",
            Method::POST,
            "/api/v1/orgs/acme/companies".into(),
            Some(json!({"name": "Hooli"})),
        ),
        (
            "update company",
            Method::PATCH,
            format!("/api/v1/orgs/acme/companies/{}", t.company),
            Some(json!({"industry": "Software"})),
        ),
        (
            "delete company",
            Method::DELETE,
            format!("/api/v1/orgs/acme/companies/{}", t.company),
            None,
        ),
        (
            "restore company",
            Method::POST,
            format!("/api/v1/orgs/acme/companies/{}/restore", t.trashed_company),
            None,
        ),
        (
            "add member",
            Method::POST,
            "/api/v1/orgs/acme/members".into(),
            Some(json!({"email": format!("new{n}@example.com"), "role": "viewer"})),
        ),
        (
            "change role",
            Method::PATCH,
            format!("/api/v1/orgs/acme/members/{}", t.member),
            Some(json!({"role": "viewer"})),
        ),
        (
            "remove member",
            Method::DELETE,
            format!("/api/v1/orgs/acme/members/{}", t.member),
            None,
        ),
        (
            "add owner",
            Method::POST,
            "/api/v1/orgs/acme/members".into(),
            Some(json!({"email": format!("boss{n}@example.com"), "role": "owner"})),
        ),
        (
            "create api key",
            Method::POST,
            "/api/v1/orgs/acme/api-keys".into(),
            Some(json!({"name": "ci", "role": "viewer"})),
        ),
        (
            "revoke api key",
            Method::DELETE,
            format!("/api/v1/orgs/acme/api-keys/{}", t.key),
            None,
        ),
        (
            "update org",
            Method::PATCH,
            "/api/v1/orgs/acme".into(),
            Some(json!({"name": "Acme Corp"})),
        ),
        // Reads for admins only: the audit log and the API request log.
        (
            "read audit",
            Method::GET,
            "/api/v1/orgs/acme/audit".into(),
            None,
        ),
        (
            "export audit",
            Method::GET,
            "/api/v1/orgs/acme/audit/export".into(),
            None,
        ),
        (
            "read api requests",
            Method::GET,
            "/api/v1/orgs/acme/api-requests".into(),
            None,
        ),
    ]
}

fn expected(role: &str, action: &str) -> StatusCode {
    let ok = |s: &str| match s {
        "create contact" | "create company" | "add member" | "add owner" | "create api key" => {
            StatusCode::CREATED
        }
        "delete contact" | "delete company" | "remove member" | "revoke api key" => {
            StatusCode::NO_CONTENT
        }
        _ => StatusCode::OK,
    };
    let needs = match action {
        "add owner" => "owner",
        "add member" | "change role" | "remove member" | "create api key" | "revoke api key"
        | "update org" | "read audit" | "export audit" | "read api requests" => "admin",
        _ => "member",
    };
    let rank = |r: &str| {
        ["viewer", "member", "admin", "owner"]
            .iter()
            .position(|x| *x == r)
    };
    if rank(role) >= rank(needs) {
        ok(action)
    } else {
        StatusCode::FORBIDDEN
    }
}

#[tokio::test]
async fn each_role_may_do_exactly_what_it_should() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let mut n = 0;
    for role in ["viewer", "member", "admin", "owner"] {
        // Through a signed-in member of that role...
        let session = if role == "owner" {
            owner.clone()
        } else {
            app.add_member(&owner, "acme", &format!("{role}@example.com"), role)
                .await
        };
        // ...and through an API key of that role.
        let key = app.api_key(&owner, "acme", role).await;
        for via_key in [false, true] {
            n += 1;
            let t = targets(&app, &owner, n).await;
            for (action, method, path, body) in writes(&t, n) {
                let (status, resp) = if via_key {
                    key.send(method.clone(), &path, body.clone()).await
                } else {
                    session.send(method.clone(), &path, body.clone()).await
                };
                assert_eq!(
                    status,
                    expected(role, action),
                    "{role} ({}) {action}: {resp}",
                    if via_key { "api key" } else { "session" }
                );
                if status == StatusCode::FORBIDDEN {
                    assert_eq!(resp["error"]["code"], "forbidden");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_viewers_refused_writes_change_nothing() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let viewer = app
        .add_member(&owner, "acme", "viewer@example.com", "viewer")
        .await;
    let (_, c) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let id = c["id"].as_str().expect("id");
    assert_eq!(
        viewer
            .get(&format!("/api/v1/orgs/acme/contacts/{id}"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        viewer
            .post("/api/v1/orgs/acme/contacts", sample_contact("X"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .patch(
                &format!("/api/v1/orgs/acme/contacts/{id}"),
                json!({"first_name": "X"})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .delete(&format!("/api/v1/orgs/acme/contacts/{id}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, after) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(after, c);
    assert_eq!(contact_count(&owner, "acme").await, 1);
}

#[tokio::test]
async fn keys_cannot_outrank_their_creator() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let (status, body) = admin
        .post(
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "x", "role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["role"].is_string());
}
