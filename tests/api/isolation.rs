//! Two organizations on one server: nothing of A is reachable from B, by any
//! route, through B's session, B's slug, or B's API key. Every such call
//! answers 404 exactly like a missing record, and leaks nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const MARKER: &str = "Zyxwvutsrq";

struct OrgA {
    contact: String,
    company: String,
    member: String,
    key: String,
}

async fn seed_a(app: &TestApp, a: &Session) -> OrgA {
    let (_, company) = a
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": format!("{MARKER} Corp"), "domain": "zyxw.example"}),
        )
        .await;
    let company = company["id"].as_str().expect("company").to_string();
    let mut contact = sample_contact(MARKER);
    contact["company_id"] = json!(company);
    let (_, contact) = a.post("/api/v1/orgs/acme/contacts", contact).await;
    let contact = contact["id"].as_str().expect("contact").to_string();
    let member = app
        .add_member(a, "acme", "alice@example.com", "member")
        .await
        .user_id;
    let key = app.api_key(a, "acme", "admin").await.id;
    OrgA {
        contact,
        company,
        member,
        key,
    }
}

/// Every organization route, aimed at org A's records, under the slug `slug`.
fn routes(slug: &str, a: &OrgA) -> Vec<(Method, String, Option<Value>)> {
    let o = format!("/api/v1/orgs/{slug}");
    vec![
        (Method::GET, o.clone(), None),
        (Method::PATCH, o.clone(), Some(json!({"name": "Pwned"}))),
        (Method::GET, format!("{o}/contacts/{}", a.contact), None),
        (
            Method::PATCH,
            format!("{o}/contacts/{}", a.contact),
            Some(json!({"first_name": "Pwned"})),
        ),
        (Method::DELETE, format!("{o}/contacts/{}", a.contact), None),
        (
            Method::POST,
            format!("{o}/contacts/{}/restore", a.contact),
            None,
        ),
        (Method::GET, format!("{o}/companies/{}", a.company), None),
        (
            Method::PATCH,
            format!("{o}/companies/{}", a.company),
            Some(json!({"name": "Pwned"})),
        ),
        (Method::DELETE, format!("{o}/companies/{}", a.company), None),
        (
            Method::POST,
            format!("{o}/companies/{}/restore", a.company),
            None,
        ),
        (
            Method::GET,
            format!("{o}/companies/{}/contacts", a.company),
            None,
        ),
        (
            Method::PATCH,
            format!("{o}/members/{}", a.member),
            Some(json!({"role": "viewer"})),
        ),
        (Method::DELETE, format!("{o}/members/{}", a.member), None),
        (Method::DELETE, format!("{o}/api-keys/{}", a.key), None),
    ]
}

/// Org-level collection routes under org A's slug.
fn collections() -> Vec<(Method, String, Option<Value>)> {
    let o = "/api/v1/orgs/acme";
    vec![
        (Method::GET, format!("{o}/contacts"), None),
        (Method::GET, format!("{o}/contacts/count"), None),
        (
            Method::POST,
            format!("{o}/contacts"),
            Some(sample_contact("Intruder")),
        ),
        (Method::GET, format!("{o}/companies"), None),
        (Method::GET, format!("{o}/companies/count"), None),
        (
            Method::POST,
            format!("{o}/companies"),
            Some(json!({"name": "Intruder"})),
        ),
        (Method::GET, format!("{o}/members"), None),
        (
            Method::POST,
            format!("{o}/members"),
            Some(json!({"email": "x@example.com", "role": "owner"})),
        ),
        (Method::GET, format!("{o}/api-keys"), None),
        (
            Method::POST,
            format!("{o}/api-keys"),
            Some(json!({"name": "x", "role": "owner"})),
        ),
        (Method::GET, format!("{o}/audit"), None),
        (Method::GET, format!("{o}/audit/export"), None),
        (Method::GET, format!("{o}/api-requests"), None),
    ]
}

fn assert_hidden(who: &str, method: &Method, path: &str, status: StatusCode, body: &Value) {
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{who} {method} {path}: {body}"
    );
    assert_eq!(body["error"]["code"], "not_found", "{who} {method} {path}");
    let text = body.to_string();
    assert!(
        !text.contains(MARKER) && !text.contains("acme"),
        "{who} {method} {path} leaked: {text}"
    );
}

#[tokio::test]
async fn nothing_of_one_org_is_reachable_from_another() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    let org_a = seed_a(&app, &a).await;

    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = b.expect("session");
    let b_key = app.api_key(&b, "bobco", "owner").await;
    b.post("/api/v1/orgs/bobco/contacts", sample_contact("Bobby"))
        .await;

    for (method, path, body) in routes("acme", &org_a).into_iter().chain(collections()) {
        let (status, resp) = b.send(method.clone(), &path, body.clone()).await;
        assert_hidden("B session, A slug", &method, &path, status, &resp);
        let (status, resp) = b_key.send(method.clone(), &path, body.clone()).await;
        assert_hidden("B key, A slug", &method, &path, status, &resp);
    }
    // A's ids under B's own slug: not found in B's database.
    for (method, path, body) in routes("bobco", &org_a).into_iter().skip(2) {
        let (status, resp) = b.send(method.clone(), &path, body.clone()).await;
        assert_hidden("B session, B slug", &method, &path, status, &resp);
        let (status, resp) = b_key.send(method.clone(), &path, body.clone()).await;
        assert_hidden("B key, B slug", &method, &path, status, &resp);
    }
    // B's lists never show A's data, whatever the filter.
    for q in [MARKER, "zyx", "Z", ""] {
        let (_, list) = b.get(&format!("/api/v1/orgs/bobco/contacts?q={q}")).await;
        assert!(!list.to_string().contains(MARKER), "{list}");
        let (_, list) = b
            .get(&format!(
                "/api/v1/orgs/bobco/contacts?company={}",
                org_a.company
            ))
            .await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    }
    // B cannot link its contact to A's company or make A's member its owner.
    let mut c = sample_contact("Link");
    c["company_id"] = json!(org_a.company);
    c["owner_id"] = json!(org_a.member);
    let (status, resp) = b.post("/api/v1/orgs/bobco/contacts", c).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");

    // A's data is untouched.
    let (_, contact) = a
        .get(&format!("/api/v1/orgs/acme/contacts/{}", org_a.contact))
        .await;
    assert_eq!(contact["first_name"], MARKER);
    assert_eq!(contact["company"]["id"], json!(org_a.company));
    let (_, org) = a.get("/api/v1/orgs/acme").await;
    assert_eq!(org["name"], "Acme");
    let (_, members) = a.get("/api/v1/orgs/acme/members").await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(contact_count(&a, "acme").await, 1);
    let (_, me) = b.get("/api/v1/me").await;
    assert_eq!(me["organizations"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_platform_admin_who_is_not_a_member_sees_nothing() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let admin = app.setup_owner().await;
    let (_, _, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    let b = b.expect("session");
    let (_, c) = b
        .post("/api/v1/orgs/bobco/contacts", sample_contact("Secret"))
        .await;
    let id = c["id"].as_str().expect("id");
    let (status, _) = admin.get("/api/v1/orgs/bobco/contacts").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .get(&format!("/api/v1/orgs/bobco/contacts/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, orgs) = admin.get("/api/v1/orgs").await;
    assert!(!orgs.to_string().contains("bobco"));
}

#[tokio::test]
async fn signup_is_closed_unless_enabled() {
    let app = spawn_app().await;
    let (status, body) = app
        .anon()
        .post(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
