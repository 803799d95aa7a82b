//! Privacy requests (issue 18, item 6): everything about a person found by
//! email or phone, exported as a file, erased so that nothing is findable
//! (API, search, files, trash) while others' data stays; each request
//! logged with who handled it and no personal data; admins only; other
//! organizations see nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::exports::download;
use crate::files::upload;
use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

async fn created(s: &Session, path: &str, body: Value) -> String {
    let (status, v) = s.post(&format!("{O}/{path}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_str().expect("id").to_string()
}

fn len(v: &Value, key: &str) -> usize {
    v[key].as_array().map_or(usize::MAX, Vec::len)
}

#[tokio::test]
async fn a_person_is_found_exported_and_erased_and_the_log_keeps_no_personal_data() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let globex = created(&s, "companies", json!({"name": "Globex"})).await;
    let ann = created(
        &s,
        "contacts",
        json!({"first_name": "Annabel", "last_name": "Quist", "company_id": globex,
               "emails": [{"label": "work", "email": "annabel@example.com"}],
               "phones": [{"label": "mobile", "phone": "+1 415 555 0177"}]}),
    )
    .await;
    let bob = created(
        &s,
        "contacts",
        json!({"first_name": "Bob", "last_name": "Stays", "emails": [{"email": "bob@example.com"}]}),
    )
    .await;
    let deal = created(
        &s,
        "deals",
        json!({"title": "Renewal", "contacts": [{"contact_id": ann, "role": "champion"}]}),
    )
    .await;
    let only = created(
        &s,
        "notes",
        json!({"body": "<p>Annabel's allergies</p>", "links": [{"kind": "contact", "id": ann}]}),
    )
    .await;
    let shared = created(&s, "notes", json!({"body": "<p>Globex meeting</p>", "links": [{"kind": "contact", "id": ann}, {"kind": "company", "id": globex}]})).await;
    let bobs = created(
        &s,
        "notes",
        json!({"body": "<p>Bob only</p>", "links": [{"kind": "contact", "id": bob}]}),
    )
    .await;
    let task = created(
        &s,
        "tasks",
        json!({"title": "Call Annabel", "links": [{"kind": "contact", "id": ann}]}),
    )
    .await;
    let call = created(&s, "activities", json!({"type": "call", "outcome": "connected", "body": "<p>Hi</p>", "links": [{"kind": "contact", "id": ann}]})).await;
    let (status, file) = upload(
        &s,
        "acme",
        "passport.txt",
        b"secret".to_vec(),
        &[format!("contact:{ann}")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let file = file["id"].as_str().expect("id").to_string();
    get_until(&s, &format!("{O}/search?q=annabel"), |b| {
        len(b, "items") > 0
    })
    .await;

    // Found by email, and by phone written another way.
    let (status, found) = s
        .get(&format!("{O}/privacy/subject?email=ANNABEL@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["contacts"][0]["id"], json!(ann), "{found}");
    assert_eq!(found["companies"][0]["id"], json!(globex));
    assert_eq!(found["deals"][0]["id"], json!(deal));
    assert_eq!(len(&found, "notes"), 2, "{found}");
    assert_eq!(found["tasks"][0]["id"], json!(task));
    assert_eq!(found["activities"][0]["id"], json!(call));
    assert_eq!(found["files"][0]["id"], json!(file));
    let (_, by_phone) = s
        .get_query(
            &format!("{O}/privacy/subject"),
            &[("phone", "+1 (415) 555-0177")],
        )
        .await;
    assert_eq!(by_phone["contacts"][0]["id"], json!(ann), "{by_phone}");
    // Exported as a file.
    let (status, ty, disp, body) = download(
        &s,
        &format!("{O}/privacy/export"),
        &[("email", "annabel@example.com")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ty.starts_with("application/json"), "{ty}");
    assert!(
        disp.starts_with("attachment; filename=\"acme-privacy-export-"),
        "{disp}"
    );
    let exported: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        exported["contacts"][0]["emails"][0]["email"],
        "annabel@example.com"
    );

    // Erased.
    let (status, erased) = s
        .post(
            &format!("{O}/privacy/erase"),
            json!({"email": "annabel@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(
        erased,
        json!({"contacts": 1, "notes": 1, "tasks": 1, "activities": 1, "files": 1})
    );
    assert_eq!(
        s.get(&format!("{O}/contacts/{ann}")).await.0,
        StatusCode::NOT_FOUND
    );
    for gone in [
        format!("notes/{only}"),
        format!("tasks/{task}"),
        format!("activities/{call}"),
        format!("files/{file}"),
    ] {
        assert_eq!(
            s.get(&format!("{O}/{gone}")).await.0,
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    let (_, trash) = s.get(&format!("{O}/trash")).await;
    assert!(!trash.to_string().contains(&ann), "{trash}");
    get_until(&s, &format!("{O}/search?q=annabel"), |b| {
        len(b, "items") == 0
    })
    .await;
    // What others hold stays, without the link to her.
    let (_, n) = s.get(&format!("{O}/notes/{shared}")).await;
    assert_eq!(len(&n, "links"), 1, "{n}");
    assert_eq!(n["links"][0]["id"], json!(globex));
    let (_, d) = s.get(&format!("{O}/deals/{deal}")).await;
    assert_eq!(len(&d, "contacts"), 0, "{d}");
    assert_eq!(
        s.get(&format!("{O}/companies/{globex}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        s.get(&format!("{O}/contacts/{bob}")).await.0,
        StatusCode::OK
    );
    assert_eq!(s.get(&format!("{O}/notes/{bobs}")).await.0, StatusCode::OK);
    let (_, again) = s
        .get(&format!("{O}/privacy/subject?email=annabel@example.com"))
        .await;
    assert_eq!(len(&again, "contacts"), 0, "{again}");
    assert_eq!(len(&again, "contacts_in_trash"), 0, "{again}");

    // The log: who and when, never the email or phone.
    let (status, log) = s.get(&format!("{O}/privacy/requests")).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["find", "erase", "export", "find", "find"],
        "{log}"
    );
    assert!(
        log["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["handled_by"] == json!(s.user_id))
    );
    let text = log.to_string().to_lowercase();
    assert!(
        !text.contains("annabel") && !text.contains("4155550177"),
        "{log}"
    );
    assert_eq!(log["items"][1]["subject"], log["items"][2]["subject"]);
    assert_eq!(log["items"][1]["summary"]["contacts"], 1);
}

#[tokio::test]
async fn a_contact_in_the_trash_is_erased_too() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let id = created(
        &s,
        "contacts",
        json!({"first_name": "Del", "emails": [{"email": "del@example.com"}]}),
    )
    .await;
    assert_eq!(
        s.delete(&format!("{O}/contacts/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, found) = s
        .get(&format!("{O}/privacy/subject?email=del@example.com"))
        .await;
    assert_eq!(found["contacts_in_trash"], json!([id]), "{found}");
    let (status, erased) = s
        .post(
            &format!("{O}/privacy/erase"),
            json!({"email": "del@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["contacts"], 1);
    let (_, trash) = s.get(&format!("{O}/trash")).await;
    assert_eq!(len(&trash, "items"), 0, "{trash}");
}

#[tokio::test]
async fn privacy_requests_are_for_admins_of_the_organization_and_check_their_input() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let id = created(
        &s,
        "contacts",
        json!({"first_name": "Ann", "emails": [{"email": "ann@example.com"}]}),
    )
    .await;
    for bad in [
        "",
        "email=",
        "email=not-an-email",
        "phone=12",
        "phone=abc",
        "name=ann",
        "email=a@b.com&x=1",
    ] {
        let (status, err) = s.get(&format!("{O}/privacy/subject?{bad}")).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {err}"
        );
        assert!(err["error"].is_object(), "{bad}: {err}");
    }
    for body in [
        json!({}),
        json!({"email": "x"}),
        json!({"email": 5}),
        json!({"email": "ann@example.com", "all": true}),
    ] {
        let (status, err) = s.post(&format!("{O}/privacy/erase"), body.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {err}"
        );
    }
    let member = app.add_member(&s, "acme", "m@example.com", "member").await;
    let viewer = app.add_member(&s, "acme", "v@example.com", "viewer").await;
    let admin = app.add_member(&s, "acme", "a@example.com", "admin").await;
    for who in [&member, &viewer] {
        for path in [
            "privacy/subject?email=ann@example.com",
            "privacy/export?email=ann@example.com",
            "privacy/requests",
        ] {
            assert_eq!(
                who.get(&format!("{O}/{path}")).await.0,
                StatusCode::FORBIDDEN,
                "{path}"
            );
        }
        assert_eq!(
            who.post(
                &format!("{O}/privacy/erase"),
                json!({"email": "ann@example.com"})
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(s.get(&format!("{O}/contacts/{id}")).await.0, StatusCode::OK);
    // Another organization's admin: 404, and its own search finds nothing of ours.
    let (status, body, other) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other = other.expect("session");
    assert_eq!(
        other
            .get(&format!("{O}/privacy/subject?email=ann@example.com"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post(
                &format!("{O}/privacy/erase"),
                json!({"email": "ann@example.com"})
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, erased) = other
        .post(
            "/api/v1/orgs/bobco/privacy/erase",
            json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(erased["contacts"], 0, "{erased}");
    assert_eq!(s.get(&format!("{O}/contacts/{id}")).await.0, StatusCode::OK);
    // An admin may.
    let (status, found) = admin
        .get(&format!("{O}/privacy/subject?email=ann@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["contacts"][0]["id"], json!(id));
}
