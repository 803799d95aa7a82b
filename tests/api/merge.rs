//! Duplicates and merging (issue 18, item 5): groups found with their
//! reasons, a merge moving every kind of link to the survivor, values
//! chosen per field, the others in the trash and restorable, the history
//! naming who merged, hostile input refused with nothing written, roles
//! and isolation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files::upload;
use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

async fn created(s: &Session, path: &str, body: Value) -> String {
    let (status, v) = s.post(&format!("{O}/{path}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_str().expect("id").to_string()
}

fn person(first: &str, last: &str, email: &str, phone: &str) -> Value {
    json!({"first_name": first, "last_name": last,
           "emails": [{"label": "work", "email": email}],
           "phones": [{"label": "mobile", "phone": phone}]})
}

fn link(kind: &str, id: &str) -> Value {
    json!([{"kind": kind, "id": id}])
}

/// Each group as (sorted reasons, sorted record ids).
fn groups_of(page: &Value) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out: Vec<(Vec<String>, Vec<String>)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| {
            let mut reasons: Vec<String> = g["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r.as_str().expect("reason").to_string())
                .collect();
            reasons.sort();
            let mut ids: Vec<String> = g["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_string())
                .collect();
            ids.sort();
            (reasons, ids)
        })
        .collect();
    out.sort();
    out
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn duplicates_are_grouped_with_their_reasons() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let globex = created(
        &s,
        "companies",
        json!({"name": "Globex", "domain": "globex.com"}),
    )
    .await;
    let globex2 = created(
        &s,
        "companies",
        json!({"name": "Globex Inc", "domain": "GLOBEX.com"}),
    )
    .await;
    let initech = created(&s, "companies", json!({"name": "Initech"})).await;
    let initech2 = created(&s, "companies", json!({"name": "Initech"})).await;
    created(
        &s,
        "companies",
        json!({"name": "Alone", "domain": "alone.io"}),
    )
    .await;
    // Same email, written differently; same phone, written differently.
    let ann = created(
        &s,
        "contacts",
        person("Ann", "Lee", "ann@x.com", "+1 415 555 0100"),
    )
    .await;
    let ann2 = created(
        &s,
        "contacts",
        person("Anne", "Lee", "ANN@x.com", "+1 650 555 0101"),
    )
    .await;
    let bob = created(
        &s,
        "contacts",
        person("Bob", "Ray", "bob@x.com", "+1 415 555 0199"),
    )
    .await;
    let bob2 = created(
        &s,
        "contacts",
        person("Robert", "Ray", "rob@y.com", "+1 (415) 555-0199"),
    )
    .await;
    // Same name at the same company; the same name elsewhere is not one.
    let mut cy = person("Cy", "Doe", "cy1@x.com", "+1 212 555 0001");
    cy["company_id"] = json!(globex);
    let cy1 = created(&s, "contacts", cy.clone()).await;
    cy["emails"] = json!([{"label": "work", "email": "cy2@x.com"}]);
    cy["phones"] = json!([]);
    let cy2 = created(&s, "contacts", cy.clone()).await;
    cy["company_id"] = json!(initech);
    cy["emails"] = json!([]);
    created(&s, "contacts", cy).await;
    // A contact in the trash is no one's duplicate.
    let gone = created(
        &s,
        "contacts",
        person("Zed", "Q", "bob@x.com", "+1 415 555 0150"),
    )
    .await;
    s.delete(&format!("{O}/contacts/{gone}")).await;

    let (status, page) = s.get(&format!("{O}/contacts/duplicates")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        groups_of(&page),
        {
            let mut want = vec![
                (vec!["email".to_string()], sorted(&[&ann, &ann2])),
                (vec!["phone".to_string()], sorted(&[&bob, &bob2])),
                (vec!["name_and_company".to_string()], sorted(&[&cy1, &cy2])),
            ];
            want.sort();
            want
        },
        "{page}"
    );
    let (_, page) = s.get(&format!("{O}/companies/duplicates")).await;
    assert_eq!(
        groups_of(&page),
        {
            let mut want = vec![
                (vec!["domain".to_string()], sorted(&[&globex, &globex2])),
                (vec!["name".to_string()], sorted(&[&initech, &initech2])),
            ];
            want.sort();
            want
        },
        "{page}"
    );
    // Pages: one group at a time, every group once.
    let mut seen = Vec::new();
    let mut path = format!("{O}/contacts/duplicates?limit=1");
    loop {
        let (status, p) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["items"].as_array().expect("items").len(), 1, "{p}");
        seen.extend(groups_of(&p));
        match p["next_cursor"].as_str() {
            Some(c) => path = format!("{O}/contacts/duplicates?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    for bad in [
        "limit=0",
        "limit=101",
        "cursor=abc",
        "cursor=-1",
        "limit=x",
        "bogus=1",
    ] {
        let (status, err) = s.get(&format!("{O}/contacts/duplicates?{bad}")).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {err}"
        );
        assert!(err["error"].is_object(), "{bad}: {err}");
    }
}

/// An update writes only the columns it changes (`store::update_changed`);
/// the emails' lookup rows follow the emails, and only them.
#[tokio::test]
async fn duplicates_by_email_follow_patches() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let ann = created(
        &s,
        "contacts",
        person("Ann", "Lee", "ann@x.com", "+1 415 555 0100"),
    )
    .await;
    let ann2 = created(
        &s,
        "contacts",
        person("Anne", "Lee", "ann@x.com", "+1 650 555 0101"),
    )
    .await;
    let by_email = || async {
        let (status, page) = s.get(&format!("{O}/contacts/duplicates")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        groups_of(&page)
    };
    let same = vec![(vec!["email".to_string()], sorted(&[&ann, &ann2]))];
    assert_eq!(by_email().await, same);
    // A patch that leaves the emails alone keeps the pair.
    let (status, v) = s
        .patch(
            &format!("{O}/contacts/{ann2}"),
            json!({"job_title": "CFO", "first_name": "Annie"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["emails"][0]["email"], "ann@x.com", "{v}");
    assert_eq!(by_email().await, same);
    // A new address ends it; the old one back makes it again.
    for (email, want) in [("annie@y.com", vec![]), ("ANN@x.com", same.clone())] {
        let (status, v) = s
            .patch(
                &format!("{O}/contacts/{ann2}"),
                json!({"emails": [{"label": "work", "email": email}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(by_email().await, want, "{email}");
    }
}

#[tokio::test]
async fn a_merge_moves_every_link_to_the_survivor_and_trashes_the_others() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let co = created(&s, "companies", json!({"name": "Globex"})).await;
    let (status, _) = s
        .post(
            &format!("{O}/fields"),
            json!({"kind": "company", "key": "champion", "label": "Champion", "type": "record", "target_kind": "contact"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = s
        .post(
            &format!("{O}/fields"),
            json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut a = person("Ann", "Lee", "ann@x.com", "+1 415 555 0100");
    a["job_title"] = json!("Analyst");
    let ann = created(&s, "contacts", a).await;
    let mut b = person("Anne", "Lee", "ann@x.com", "+1 415 555 0101");
    b["job_title"] = json!("CTO");
    b["company_id"] = json!(co);
    b["custom"] = json!({"tier": "gold"});
    let ann2 = created(&s, "contacts", b).await;
    let third = created(
        &s,
        "contacts",
        person("A.", "Lee", "a.lee@x.com", "+1 415 555 0102"),
    )
    .await;

    // Links to the duplicates: of each kind, and one both already share.
    let deal = created(
        &s,
        "deals",
        json!({"title": "Renewal", "contacts": [{"contact_id": ann2, "role": "champion"}]}),
    )
    .await;
    let both_deal = created(
        &s,
        "deals",
        json!({"title": "Both", "contacts": [{"contact_id": ann, "role": "user"},
                                             {"contact_id": ann2, "role": "champion"}]}),
    )
    .await;
    let note = created(
        &s,
        "notes",
        json!({"body": "<p>Met Anne</p>", "links": link("contact", &ann2)}),
    )
    .await;
    let task = created(
        &s,
        "tasks",
        json!({"title": "Call Anne", "links": link("contact", &ann2)}),
    )
    .await;
    let call = created(
        &s,
        "activities",
        json!({"type": "call", "outcome": "connected", "body": "<p>Hi</p>", "links": link("contact", &third)}),
    )
    .await;
    let shared = created(
        &s,
        "notes",
        json!({"body": "<p>Both</p>", "links": [{"kind": "contact", "id": ann}, {"kind": "contact", "id": ann2}]}),
    )
    .await;
    let (status, file) = upload(
        &s,
        "acme",
        "card.txt",
        b"hello".to_vec(),
        &[format!("contact:{ann2}")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    let file = file["id"].as_str().expect("id").to_string();
    let (_, vip) = s.post(&format!("{O}/tags"), json!({"name": "VIP"})).await;
    let vip = vip["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .post(
            &format!("{O}/contacts/{ann2}/tags"),
            json!({"tag_ids": [vip]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.patch(
        &format!("{O}/companies/{co}"),
        json!({"custom": {"champion": ann2}}),
    )
    .await;

    let (status, merged) = s
        .post(
            &format!("{O}/contacts/merge"),
            json!({"ids": [ann, ann2, third], "values": {"job_title": ann2, "first_name": {"value": "Annie"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["id"], json!(ann));
    // Chosen values; the survivor's gaps filled from the others.
    assert_eq!(merged["first_name"], "Annie", "{merged}");
    assert_eq!(merged["job_title"], "CTO");
    assert_eq!(merged["company_id"], json!(co));
    assert_eq!(merged["custom"]["tier"], "gold");
    assert_eq!(merged["tags"][0]["name"], "VIP", "{merged}");

    // The others are in the trash, not deleted.
    for gone in [&ann2, &third] {
        assert_eq!(
            s.get(&format!("{O}/contacts/{gone}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (_, trash) = s.get(&format!("{O}/trash?kind=contact")).await;
    let in_trash: Vec<&str> = trash["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(
        in_trash.contains(&ann2.as_str()) && in_trash.contains(&third.as_str()),
        "{trash}"
    );

    // Deals: moved, and the one both were on keeps the survivor once.
    let (_, d) = s.get(&format!("{O}/deals/{deal}")).await;
    assert_eq!(d["contacts"].as_array().expect("contacts").len(), 1, "{d}");
    assert_eq!(d["contacts"][0]["contact_id"], json!(ann), "{d}");
    let (_, d) = s.get(&format!("{O}/deals/{both_deal}")).await;
    assert_eq!(d["contacts"].as_array().expect("contacts").len(), 1, "{d}");
    assert_eq!(d["contacts"][0]["contact_id"], json!(ann), "{d}");
    // Notes, tasks, activities: on the survivor's timeline.
    let (status, t) = s.get(&format!("{O}/contacts/{ann}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let items = t["items"].as_array().expect("items");
    let ids: Vec<&str> = items
        .iter()
        .filter_map(|e| e["item"]["id"].as_str())
        .collect();
    for want in [&note, &task, &call, &shared] {
        assert!(ids.contains(&want.as_str()), "{want} missing from {t}");
    }
    // The history says who merged what.
    let m = items
        .iter()
        .find(|e| e["event"] == "merged")
        .unwrap_or_else(|| panic!("no merge in {t}"));
    assert_eq!(
        m["actor"]["id"].as_str().or(m["actor"].as_str()),
        Some(s.user_id.as_str()),
        "{m}"
    );
    let mut from: Vec<&str> = m["item"]["merge"]["merged"]
        .as_array()
        .expect("merged")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    from.sort();
    assert_eq!(from, sorted(&[&ann2, &third]), "{m}");
    // The shared note links to the survivor once.
    let (_, n) = s.get(&format!("{O}/notes/{shared}")).await;
    assert_eq!(n["links"].as_array().expect("links").len(), 1, "{n}");
    assert_eq!(n["links"][0]["id"], json!(ann));
    // Files, record fields of other kinds.
    let (_, f) = s.get(&format!("{O}/files/{file}")).await;
    assert_eq!(f["links"][0]["id"], json!(ann), "{f}");
    let (_, c) = s.get(&format!("{O}/companies/{co}")).await;
    assert_eq!(c["custom"]["champion"]["id"], json!(ann), "{c}");
    // Nothing points to the merged-away records any more.
    let (_, deals) = s.get(&format!("{O}/contacts/{ann}/deals")).await;
    assert_eq!(
        deals["items"].as_array().expect("items").len(),
        2,
        "{deals}"
    );
    // A merged-away contact can be restored.
    let (status, body) = s
        .post(
            &format!("{O}/trash/restore"),
            json!({"items": [{"kind": "contact", "id": ann2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        s.get(&format!("{O}/contacts/{ann2}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn merging_companies_moves_their_contacts_and_deals() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let a = created(
        &s,
        "companies",
        json!({"name": "Globex", "domain": "globex.com"}),
    )
    .await;
    let b = created(
        &s,
        "companies",
        json!({"name": "Globex Corp", "industry": "Energy"}),
    )
    .await;
    let mut p = person("Ann", "Lee", "ann@x.com", "+1 415 555 0100");
    p["company_id"] = json!(b);
    let ann = created(&s, "contacts", p).await;
    let deal = created(&s, "deals", json!({"title": "Big", "company_id": b})).await;
    let (status, merged) = s
        .post(
            &format!("{O}/companies/merge"),
            json!({"ids": [a, b], "values": {"name": b}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["name"], "Globex Corp");
    assert_eq!(merged["domain"], "globex.com");
    assert_eq!(merged["industry"], "Energy");
    let (_, c) = s.get(&format!("{O}/contacts/{ann}")).await;
    assert_eq!(c["company_id"], json!(a), "{c}");
    let (_, d) = s.get(&format!("{O}/deals/{deal}")).await;
    assert_eq!(d["company_id"], json!(a), "{d}");
    assert_eq!(
        s.get(&format!("{O}/companies/{b}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_merges_are_refused_and_change_nothing() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let a = created(
        &s,
        "contacts",
        person("Ann", "Lee", "ann@x.com", "+1 415 555 0100"),
    )
    .await;
    let b = created(
        &s,
        "contacts",
        person("Anne", "Lee", "ann@x.com", "+1 415 555 0101"),
    )
    .await;
    let co = created(&s, "companies", json!({"name": "Globex"})).await;
    let path = format!("{O}/contacts/merge");
    let many: Vec<String> = (0..11).map(|_| a.clone()).collect();
    for body in [
        json!({"ids": [a]}),
        json!({"ids": []}),
        json!({"ids": [a, a]}),
        json!({"ids": many}),
        json!({"ids": [a, b], "values": {"job_title": "01900000-0000-7000-8000-000000000000"}}),
        json!({"ids": [a, b], "values": {"job_title": 5}}),
        json!({"ids": [a, b], "values": {"job_title": {"value": "x", "extra": 1}}}),
        json!({"ids": [a, b], "values": {"id": a}}),
        json!({"ids": [a, b], "values": {"x'); DROP TABLE contacts; --": a}}),
        json!({"ids": [a, b], "values": {"owner_id": {"value": "not-a-member"}}}),
        json!({"ids": [a, b], "values": {"emails": {"value": "not-a-list"}}}),
        json!({"ids": [a, b], "values": {"custom.nope": {"value": 1}}}),
        json!({"ids": [a, b], "surprise": true}),
        json!({"ids": "a,b"}),
    ] {
        let (status, err) = s.post(&path, body.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{body}: {status} {err}"
        );
        assert!(err["error"].is_object(), "{body}: {err}");
    }
    // A missing record, or one of another kind: 404, nothing merged.
    for ids in [
        json!([a, "01900000-0000-7000-8000-000000000000"]),
        json!([a, co]),
    ] {
        let (status, _) = s.post(&path, json!({"ids": ids})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{ids}");
    }
    assert_eq!(s.get(&format!("{O}/contacts/{b}")).await.0, StatusCode::OK);
    let (_, dups) = s.get(&format!("{O}/contacts/duplicates")).await;
    assert_eq!(groups_of(&dups).len(), 1, "{dups}");

    // Roles: viewers neither list nor merge; members do both.
    let viewer = app.add_member(&s, "acme", "v@example.com", "viewer").await;
    assert_eq!(
        viewer.get(&format!("{O}/contacts/duplicates")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer.post(&path, json!({"ids": [a, b]})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.get(&format!("{O}/contacts/{b}")).await.0, StatusCode::OK);
    // Another organization: its ids are not found, its own list is empty.
    let (status, body, other) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other = other.expect("session");
    let (status, mine) = other
        .post(
            "/api/v1/orgs/bobco/contacts",
            person("Bo", "B", "bo@b.com", "+1 415 555 0199"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let mine = mine["id"].as_str().expect("id").to_string();
    let (status, _) = other
        .post(
            "/api/v1/orgs/bobco/contacts/merge",
            json!({"ids": [mine, a]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.post(&path, json!({"ids": [a, b]})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other.get(&format!("{O}/contacts/duplicates")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, theirs) = other.get("/api/v1/orgs/bobco/contacts/duplicates").await;
    assert_eq!(groups_of(&theirs).len(), 0, "{theirs}");
    assert_eq!(s.get(&format!("{O}/contacts/{a}")).await.0, StatusCode::OK);
    assert_eq!(s.get(&format!("{O}/contacts/{b}")).await.0, StatusCode::OK);
    // And a member merges.
    let member = app.add_member(&s, "acme", "m@example.com", "member").await;
    let (status, m) = member.post(&path, json!({"ids": [a, b]})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
}
