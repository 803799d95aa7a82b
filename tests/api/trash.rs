//! The trash of every kind: listing with who and when, paging, restoring
//! several at once (each as its own restore, links included), erasing for
//! good; roles and isolation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn create(s: &Session, path: &str, body: Value) -> String {
    let (status, b) = s.post(&format!("/api/v1/orgs/acme/{path}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn the_trash_lists_restores_and_erases_every_kind() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let member = app
        .add_member(&owner, "acme", "member@example.com", "member")
        .await;
    let viewer = app
        .add_member(&owner, "acme", "viewer@example.com", "viewer")
        .await;
    let ada = create(&owner, "contacts", sample_contact("Ada")).await;
    let globex = create(&owner, "companies", json!({"name": "Globex"})).await;
    let mut linked = sample_contact("Linus");
    linked["company_id"] = json!(globex);
    let linus = create(&owner, "contacts", linked).await;
    let cleo = create(&owner, "contacts", sample_contact("Cleo")).await;
    assert_eq!(
        owner.get("/api/v1/orgs/acme/trash").await.1["items"],
        json!([])
    );

    owner
        .delete(&format!("/api/v1/orgs/acme/contacts/{ada}"))
        .await;
    owner
        .delete(&format!("/api/v1/orgs/acme/companies/{globex}"))
        .await;
    let (status, _) = member
        .delete(&format!("/api/v1/orgs/acme/contacts/{cleo}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Everyone reads it, newest deletion first, with who and until when.
    let (status, page) = viewer.get("/api/v1/orgs/acme/trash").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().expect("items");
    let got: Vec<(&str, &str)> = items
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or(""),
                i["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("contact", "Cleo Lovelace"),
            ("company", "Globex"),
            ("contact", "Ada Lovelace")
        ]
    );
    assert_eq!(items[0]["deleted_by"], member.user_id.as_str());
    assert_eq!(items[1]["deleted_by"], owner.user_id.as_str());
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().expect("time"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("time")
    };
    assert_eq!(
        parse(&items[0]["purge_at"]) - parse(&items[0]["deleted_at"]),
        time::Duration::days(30)
    );
    // By kind, and page by page: each once.
    let (_, companies) = viewer.get("/api/v1/orgs/acme/trash?kind=company").await;
    assert_eq!(companies["items"].as_array().map(Vec::len), Some(1));
    let mut seen = Vec::new();
    let mut path = "/api/v1/orgs/acme/trash?limit=1".to_string();
    loop {
        let (status, page) = viewer.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for i in page["items"].as_array().expect("items") {
            seen.push(i["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/orgs/acme/trash?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [cleo.clone(), globex.clone(), ada.clone()]);

    // Restoring several: viewers can't; one missing record restores none.
    let both =
        json!({"items": [{"kind": "contact", "id": ada}, {"kind": "company", "id": globex}]});
    assert_eq!(
        viewer
            .post("/api/v1/orgs/acme/trash/restore", both.clone())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = member
        .post(
            "/api/v1/orgs/acme/trash/restore",
            json!({"items": [{"kind": "contact", "id": ada}, {"kind": "contact", "id": "nope"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        member
            .get(&format!("/api/v1/orgs/acme/contacts/{ada}"))
            .await
            .0,
        StatusCode::NOT_FOUND,
        "nothing restored"
    );
    let (status, body) = member.post("/api/v1/orgs/acme/trash/restore", both).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["restored"], 2);
    // The company comes back with its contact linked, as its own restore does.
    let (_, l) = member
        .get(&format!("/api/v1/orgs/acme/contacts/{linus}"))
        .await;
    assert_eq!(l["company_id"], globex.as_str(), "{l}");

    // Erasing: admins only; then it is gone, history and all.
    assert_eq!(
        member
            .delete(&format!("/api/v1/orgs/acme/trash/contact/{cleo}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/orgs/acme/trash/contact/{cleo}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/orgs/acme/trash/contact/{cleo}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .get(&format!("/api/v1/orgs/acme/contacts/{cleo}/history"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .post(
                &format!("/api/v1/orgs/acme/contacts/{cleo}/restore"),
                json!({})
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A live record can't be erased through the trash.
    assert_eq!(
        owner
            .delete(&format!("/api/v1/orgs/acme/trash/contact/{ada}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner.get("/api/v1/orgs/acme/trash").await.1["items"],
        json!([])
    );
}

#[tokio::test]
async fn another_orgs_trash_is_not_there() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada = create(&owner, "contacts", sample_contact("Ada")).await;
    owner
        .delete(&format!("/api/v1/orgs/acme/contacts/{ada}"))
        .await;
    assert_eq!(
        owner.get("/api/v1/orgs/other/trash").await.1["items"],
        json!([])
    );
    let (status, _) = owner
        .post(
            "/api/v1/orgs/other/trash/restore",
            json!({"items": [{"kind": "contact", "id": ada}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/orgs/other/trash/contact/{ada}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Still in acme's trash.
    assert_eq!(
        owner.get("/api/v1/orgs/acme/trash").await.1["items"][0]["id"],
        ada.as_str()
    );
    let outsider = app
        .add_member(&owner, "other", "outsider@example.com", "owner")
        .await;
    assert_eq!(
        outsider.get("/api/v1/orgs/acme/trash").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_trash_requests_name_what_is_wrong() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for (path, field) in [
        ("/api/v1/orgs/acme/trash?kind=planet", "kind"),
        ("/api/v1/orgs/acme/trash?cursor=garbage!", "cursor"),
        ("/api/v1/orgs/acme/trash?limit=0", "limit"),
    ] {
        let (status, body) = owner.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "{path}: {body}");
    }
    for (body, field) in [
        (json!({"items": []}), "items"),
        (
            json!({"items": [{"kind": "planet", "id": "x"}]}),
            "items[0].kind",
        ),
        (json!({"items": [{"kind": "contact"}]}), "items[0]"),
    ] {
        let (status, resp) = owner
            .post("/api/v1/orgs/acme/trash/restore", body.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {resp}");
        let fields = resp["error"]["fields"].as_object().expect("fields");
        assert!(
            fields.keys().any(|k| k.starts_with(field)),
            "{body}: {resp}"
        );
    }
    assert_eq!(
        owner.delete("/api/v1/orgs/acme/trash/planet/x").await.0,
        StatusCode::NOT_FOUND
    );
}
