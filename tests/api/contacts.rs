use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_contact_round_trips_with_normalised_fields() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Globex", "domain": "https://www.Globex.com/about", "phone": "(415) 555-0199", "size": "51-200"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{co}");
    assert_eq!(co["domain"], "globex.com");
    assert_eq!(co["phone"], "+14155550199");
    let mut input = sample_contact("Ada");
    input["company_id"] = co["id"].clone();
    input["owner_id"] = json!(s.user_id);
    input["phones"] =
        json!([{"phone": "(415) 555-0132"}, {"label": "home", "phone": "+44 20 7946 0958"}]);
    let (status, c) = s.post("/api/v1/orgs/acme/contacts", input).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["name"], "Ada Lovelace");
    assert_eq!(
        c["phones"][0],
        json!({"label": "work", "phone": "+14155550132"})
    );
    assert_eq!(c["phones"][1]["phone"], "+442079460958");
    assert_eq!(c["company"]["name"], "Globex");
    assert_eq!(c["stage"], "prospect");
    assert_eq!(c["created_by"], json!(s.user_id));
    let id = c["id"].as_str().expect("id");

    let (status, got) = s.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, c);

    // PATCH changes only what it names; null clears; read-only fields are ignored.
    let (status, patched) = s
        .patch(
            &format!("/api/v1/orgs/acme/contacts/{id}"),
            json!({"job_title": "CTO", "address": null, "name": "ignored", "stage": "customer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["job_title"], "CTO");
    assert_eq!(patched["address"], Value::Null);
    assert_eq!(patched["stage"], "customer");
    assert_eq!(patched["emails"], c["emails"]);
    assert!(patched["updated_at"].as_str() > c["updated_at"].as_str());

    let (_, company_contacts) = s
        .get(&format!(
            "/api/v1/orgs/acme/companies/{}/contacts",
            co["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(names(&company_contacts), ["Ada Lovelace"]);
    let (_, company) = s
        .get(&format!(
            "/api/v1/orgs/acme/companies/{}",
            co["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(company["contact_count"], 1);
}

#[tokio::test]
async fn delete_moves_to_trash_and_restore_brings_back() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, c) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let path = format!(
        "/api/v1/orgs/acme/contacts/{}",
        c["id"].as_str().expect("id")
    );
    assert_eq!(s.delete(&path).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(&path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(contact_count(&s, "acme").await, 0);
    let (status, back) = s.post(&format!("{path}/restore"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["first_name"], "Ada");
    assert_eq!(
        s.post(&format!("{path}/restore"), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(contact_count(&s, "acme").await, 1);
}

#[tokio::test]
async fn deleting_a_company_unlinks_its_contacts_and_restoring_links_them_again() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Initech"}))
        .await;
    let mut input = sample_contact("Peter");
    input["company_id"] = co["id"].clone();
    let (_, c) = s.post("/api/v1/orgs/acme/contacts", input).await;
    let co_path = format!(
        "/api/v1/orgs/acme/companies/{}",
        co["id"].as_str().expect("id")
    );
    assert_eq!(s.delete(&co_path).await.0, StatusCode::NO_CONTENT);
    let (_, after) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{}",
            c["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(after["company_id"], Value::Null);
    assert_eq!(after["company"], Value::Null);
    assert_eq!(
        s.get(&format!("{co_path}/contacts")).await.0,
        StatusCode::NOT_FOUND
    );
    // A restore returns what the delete changed: the contact is linked again
    // (a contact moved to another company meanwhile would stay there).
    let (status, _) = s.post(&format!("{co_path}/restore"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, back) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{}",
            c["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(back["company_id"], co["id"], "{back}");
    assert_eq!(back["company"]["name"], "Initech");
    let (_, company) = s.get(&co_path).await;
    assert_eq!(company["contact_count"], 1);
}

#[tokio::test]
async fn lists_page_sort_and_filter() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Umbrella"}))
        .await;
    let people = [
        ("Zoe", "Adams", "lead"),
        ("amy", "Brown", "customer"),
        ("Mia", "Clark", "customer"),
        ("Bob", "Young", "prospect"),
        ("Eve", "Stone", "former_customer"),
    ];
    for (i, (first, last, stage)) in people.iter().enumerate() {
        let mut c = json!({"first_name": first, "last_name": last, "stage": stage,
                           "emails": [{"email": format!("{}@{}.example", first.to_lowercase(), if i % 2 == 0 {"even"} else {"odd"})}]});
        if i < 2 {
            c["company_id"] = co["id"].clone();
        }
        let (status, body) = s.post("/api/v1/orgs/acme/contacts", c).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, all) = s.get("/api/v1/orgs/acme/contacts?sort=name").await;
    assert_eq!(
        names(&all),
        [
            "amy Brown",
            "Bob Young",
            "Eve Stone",
            "Mia Clark",
            "Zoe Adams"
        ]
    );
    let (_, desc) = s.get("/api/v1/orgs/acme/contacts?sort=-name").await;
    assert_eq!(
        names(&desc),
        [
            "Zoe Adams",
            "Mia Clark",
            "Eve Stone",
            "Bob Young",
            "amy Brown"
        ]
    );
    let (_, newest) = s
        .get("/api/v1/orgs/acme/contacts?sort=-created&limit=1")
        .await;
    assert_eq!(names(&newest), ["Eve Stone"]);

    // Walking pages of two gives every contact exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orgs/acme/contacts?limit=2&cursor={c}"),
            None => "/api/v1/orgs/acme/contacts?limit=2".to_string(),
        };
        let (status, page) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, names(&all));

    let (_, customers) = s.get("/api/v1/orgs/acme/contacts?stage=customer").await;
    assert_eq!(names(&customers), ["amy Brown", "Mia Clark"]);
    let (_, at_co) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts?company={}",
            co["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(names(&at_co), ["amy Brown", "Zoe Adams"]);
    // A list's search follows the search index, a moment after the writes.
    let q_first = get_until(&s, "/api/v1/orgs/acme/contacts?q=B", |p| {
        p["items"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    assert_eq!(
        names(&q_first),
        ["amy Brown", "Bob Young"],
        "first-name and last-name prefixes"
    );
    let (_, q_full) = s.get("/api/v1/orgs/acme/contacts?q=mia%20cl").await;
    assert_eq!(names(&q_full), ["Mia Clark"]);
    let (_, q_email) = s.get("/api/v1/orgs/acme/contacts?q=bob@odd").await;
    assert_eq!(names(&q_email), ["Bob Young"]);
    let (_, owned) = s
        .get(&format!("/api/v1/orgs/acme/contacts?owner={}", s.user_id))
        .await;
    assert_eq!(names(&owned).len(), 0);
    let (_, count) = s
        .get("/api/v1/orgs/acme/contacts/count?stage=customer")
        .await;
    assert_eq!(count["count"], 2);
    let (_, future) = s
        .get("/api/v1/orgs/acme/contacts?updated_since=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(names(&future).len(), 0);
    let (_, past) = s
        .get("/api/v1/orgs/acme/contacts?updated_since=2000-01-01T00:00:00%2B02:00")
        .await;
    assert_eq!(names(&past).len(), 5);

    let companies = get_until(&s, "/api/v1/orgs/acme/companies?q=umb", |p| {
        p["items"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(companies["items"][0]["contact_count"], 2);
}

/// A body of a few values is validated where the request is served; one of
/// many (here twenty phone numbers) on the blocking pool. Both answer the
/// same: the record, or a 422 naming the bad value, with nothing written.
#[tokio::test]
async fn small_and_large_bodies_are_validated_alike() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let many = |bad: Option<usize>| {
        (0..20)
            .map(|i| {
                let phone = if Some(i) == bad {
                    "not a phone".to_string()
                } else {
                    format!("+1 415 555 01{i:02}")
                };
                json!({"label": "work", "phone": phone})
            })
            .collect::<Vec<_>>()
    };
    let patch_phones = |id: String, phones: Value, title: &'static str| {
        let s = &s;
        async move {
            s.patch(
                &format!("/api/v1/orgs/acme/contacts/{id}"),
                json!({"phones": phones, "job_title": title}),
            )
            .await
        }
    };
    let mut made: Vec<String> = Vec::new();
    for (phones, bad) in [
        (json!([{"phone": "+1 415 555 0100"}]), None),
        (json!([{"phone": "nope"}]), Some(0)),
        (json!(many(Some(17))), Some(17)),
        (json!(many(None)), None),
    ] {
        let mut input = sample_contact("Grace");
        input["phones"] = phones.clone();
        let (status, body) = s.post("/api/v1/orgs/acme/contacts", input).await;
        match bad {
            None => {
                assert_eq!(status, StatusCode::CREATED, "{body}");
                let n = phones.as_array().map_or(0, Vec::len);
                assert_eq!(body["phones"].as_array().map(Vec::len), Some(n), "{body}");
                // The same body again as a PATCH of what was made.
                let id = body["id"].as_str().expect("id");
                let (status, patched) = patch_phones(id.to_string(), phones, "Admiral").await;
                assert_eq!(status, StatusCode::OK, "{patched}");
                assert_eq!(patched["job_title"], "Admiral");
                made.push(id.to_string());
            }
            Some(i) => {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                let named = |body: &Value| {
                    body["error"]["fields"]
                        .as_object()
                        .map(|f| f.keys().any(|k| k.starts_with("phones")))
                        .unwrap_or(false)
                };
                assert!(named(&body), "the bad phone #{i} is named: {body}");
                // The same phones as a PATCH of the first contact: refused, nothing changed.
                let first = made.first().expect("a contact was made first");
                let (status, body) = patch_phones(first.clone(), phones, "Rear admiral").await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                assert!(named(&body), "the bad phone #{i} is named: {body}");
                let (_, got) = s.get(&format!("/api/v1/orgs/acme/contacts/{first}")).await;
                assert_eq!(got["job_title"], "Admiral", "{got}");
            }
        }
    }
    let (_, list) = s.get("/api/v1/orgs/acme/contacts").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");
}

/// A change takes the phone numbers a contact already stores as they are:
/// one stored under earlier rules does not block an edit of another field,
/// nor sending the whole record back; the same digits written anew are read.
#[tokio::test]
async fn a_change_keeps_a_stored_number_it_does_not_touch() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut input = sample_contact("Ada");
    input["phones"] = json!([{"phone": "+44 20 7946 0958"}]);
    let (status, c) = s.post("/api/v1/orgs/acme/contacts", input).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().expect("id").to_string();
    // A number today's rules refuse, as if stored under older ones.
    let org_dir = app.only_org_dir();
    let db = rusqlite::Connection::open(org_dir.join("crm.db")).expect("crm db");
    db.execute(
        "UPDATE contacts SET phones = '[{\"label\":\"work\",\"phone\":\"+1555\"}]' WHERE id = ?1",
        [&id],
    )
    .expect("stored");
    drop(db);
    let path = format!("/api/v1/orgs/acme/contacts/{id}");

    let (status, body) = s.patch(&path, json!({"job_title": "Analyst"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phones"][0]["phone"], "+1555");
    assert_eq!(body["job_title"], "Analyst");
    let (status, body) = s
        .patch(
            &path,
            json!({"phones": body["phones"].clone(), "job_title": "Engineer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the record sent back whole: {body}");

    let (status, body) = s
        .patch(
            &path,
            json!({"phones": [{"phone": "+1 555"}], "job_title": "Lead"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("phones[0].phone"), "{body}");
    let (_, got) = s.get(&path).await;
    assert_eq!(got["job_title"], "Engineer", "nothing written");
}
