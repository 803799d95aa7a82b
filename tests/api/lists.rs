//! Lists that fit a growing organization (issue 20): every column sorts
//! both ways with keyset pages that return each row exactly once; the search
//! box of a list is the palette's engine (typos, accents, phones) combined
//! with the list's filters; bulk actions on every record a list matches.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

fn enc(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn names(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every page of a list (3 rows a page), in order.
async fn all_pages(s: &Session, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}&limit=3&cursor={c}"),
            None => format!("{path}&limit=3"),
        };
        let (status, page) = s.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("{path}: more than 100 pages");
}

/// Adds the custom field `tier` of type `ty` to contacts.
async fn tier_field(s: &Session, ty: &str) {
    let (status, f) = s
        .post(
            &format!("{O}/fields"),
            json!({"kind": "contact", "key": "tier", "label": "Tier", "type": ty}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
}

/// The organization's database file.
async fn crm_db(app: &TestApp, s: &Session) -> std::path::PathBuf {
    let (_, org) = s.get(O).await;
    let org_id = org["id"].as_str().expect("id");
    app.dir.path().join("tenants").join(org_id).join("crm.db")
}

/// The keys of a kind's sortable fields, as `GET /schema` lists them.
async fn sortable_keys(s: &Session, path: &str) -> Vec<String> {
    let (_, schema) = s.get(&format!("{O}/schema")).await;
    let kind = schema["kinds"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["path"] == path))
        .expect("kind");
    kind["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["sortable"] == true)
        .map(|f| f["key"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn every_sortable_column_pages_each_row_once_both_ways() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    tier_field(&s, "text").await;
    let mut companies = Vec::new();
    for (i, (name, industry)) in [
        ("Atlas 10", Some("Energy")),
        ("Atlas 2", None),
        ("Borealis", Some("Energy")),
        ("atlas 2", Some("Retail")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"name": name, "size": if i % 2 == 0 { "1-10" } else { "11-50" }});
        if let Some(ind) = industry {
            body["industry"] = json!(ind);
        }
        if i != 1 {
            body["domain"] = json!(format!("d{}.example", i % 2));
            body["owner_id"] = json!(s.user_id);
        }
        let (status, c) = s.post(&format!("{O}/companies"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        companies.push(c["id"].as_str().expect("id").to_string());
    }
    // Duplicate and missing values in every column, so ties and nulls are
    // crossed by page boundaries.
    let stages = ["lead", "customer", "prospect", "lead"];
    for i in 0..13 {
        let first = ["Ann", "Bob", "ann", "Zoë"][i % 4];
        let mut body = json!({
            "first_name": first,
            "last_name": format!("L{}", i % 3),
            "stage": stages[i % 4],
            "source": if i % 3 == 0 { Value::Null } else { json!("web") },
        });
        if i % 2 == 0 {
            body["owner_id"] = json!(s.user_id);
            body["company_id"] = json!(companies[i % 4]);
            body["job_title"] = json!(["CEO", "Buyer"][i % 4 / 2]);
            let tier = ["gold", "silver"][i % 4 / 2];
            body["custom"] = json!({ "tier": tier });
        }
        if i % 5 == 0 {
            body["emails"] = json!([{"email": format!("p{i}@x.example")}]);
        }
        let (status, c) = s.post(&format!("{O}/contacts"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
    }
    for (path, count) in [("contacts", 13), ("companies", 4)] {
        let mut keys = sortable_keys(&s, path).await;
        if path == "contacts" {
            keys.push("custom.tier".into());
            assert!(keys.contains(&"stage".to_string()), "{keys:?}");
            assert!(keys.contains(&"company_id".to_string()), "{keys:?}");
        }
        assert!(keys.len() >= 5, "{path}: {keys:?}");
        // Sorts whose first key may be empty are read as two ranges (the
        // values, then the empty ones); later keys order within each.
        if path == "contacts" {
            keys.extend(
                [
                    "job_title,name",
                    "custom.tier,-created",
                    "owner_id,-job_title",
                ]
                .map(String::from),
            );
        }
        for key in keys {
            for dir in ["", "-"] {
                let list = format!("{O}/{path}?sort={dir}{key}");
                let (status, whole) = s.get(&format!("{list}&limit=200")).await;
                assert_eq!(status, StatusCode::OK, "{list}: {whole}");
                let paged = all_pages(&s, &list).await;
                let unique: BTreeSet<&String> = paged.iter().collect();
                assert_eq!(unique.len(), paged.len(), "{list}: a row came twice");
                assert_eq!(paged.len(), count, "{list}: a row is missing");
                assert_eq!(paged, ids(&whole), "{list}: pages differ from one page");
            }
        }
    }
    // Both directions are each other's reverse, nulls last in each.
    let (_, up) = s
        .get(&format!("{O}/contacts?sort=job_title&limit=200"))
        .await;
    let (_, down) = s
        .get(&format!("{O}/contacts?sort=-job_title&limit=200"))
        .await;
    let titles = |p: &Value| -> Vec<Value> {
        p["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["job_title"].clone())
            .collect()
    };
    let (up, down) = (titles(&up), titles(&down));
    assert_eq!(up.first(), Some(&json!("Buyer")));
    assert_eq!(down.first(), Some(&json!("CEO")));
    assert_eq!(up.last(), Some(&Value::Null));
    assert_eq!(down.last(), Some(&Value::Null));
    // Two keys: titles descending with the empty ones last, names
    // descending within each title (and within the empty ones).
    let (_, page) = s
        .get(&format!("{O}/contacts?sort=-job_title,-name&limit=200"))
        .await;
    let rows = column_and_name(&page, "job_title");
    assert_eq!(rows.len(), 13);
    let mut want = rows.clone();
    want.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) => y.cmp(x).then(b.1.cmp(&a.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.1.cmp(&a.1),
    });
    assert_eq!(rows, want);
    // A stage's contacts come by name, both ways (the stage's tie-break).
    for dir in ["", "-"] {
        let (_, page) = s
            .get(&format!("{O}/contacts?sort={dir}stage&limit=200"))
            .await;
        let rows = column_and_name(&page, "stage");
        assert_eq!(rows.len(), 13);
        let mut want = rows.clone();
        want.sort();
        if dir == "-" {
            want.reverse();
        }
        assert_eq!(rows, want, "sort={dir}stage");
    }
}

/// Each contact of a page as (its `column`, lowercased; its name, lowercased).
fn column_and_name(page: &Value, column: &str) -> Vec<(Option<String>, String)> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let name = format!(
                "{} {}",
                i["first_name"].as_str().unwrap_or(""),
                i["last_name"].as_str().unwrap_or("")
            );
            (
                i[column].as_str().map(str::to_lowercase),
                name.to_lowercase(),
            )
        })
        .collect()
}

/// Names sort as people read them (accents folded, numbers as numbers),
/// contacts sort by their company's *name* and by their first email, and
/// a company renamed moves its contacts and deals in that order.
#[tokio::test]
async fn names_sort_naturally_and_contacts_by_company_name_and_email() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut company = std::collections::HashMap::new();
    for name in ["Atlas 10", "atlas 2", "Zenith", "Ábaco"] {
        let (status, c) = s
            .post(&format!("{O}/companies"), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        company.insert(name, c["id"].as_str().expect("id").to_string());
    }
    let field = |page: &Value, key: &str| -> Vec<Value> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i[key].clone())
            .collect()
    };
    let (_, up) = s.get(&format!("{O}/companies?sort=name")).await;
    assert_eq!(
        field(&up, "name"),
        [
            json!("Ábaco"),
            json!("atlas 2"),
            json!("Atlas 10"),
            json!("Zenith")
        ]
    );
    let (_, down) = s.get(&format!("{O}/companies?sort=-name")).await;
    assert_eq!(
        field(&down, "name"),
        [
            json!("Zenith"),
            json!("Atlas 10"),
            json!("atlas 2"),
            json!("Ábaco")
        ]
    );
    for (first, co, email) in [
        ("Deal 10", Some("Zenith"), Some("b@x.example")),
        ("Deal 9", Some("Ábaco"), Some("C@x.example")),
        ("Émile", Some("Atlas 10"), None),
        ("eve", None, Some("a@x.example")),
    ] {
        let mut body = json!({"first_name": first});
        if let Some(c) = co {
            body["company_id"] = json!(company[c]);
        }
        if let Some(e) = email {
            body["emails"] = json!([{"email": e}]);
        }
        let (status, c) = s.post(&format!("{O}/contacts"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let (status, d) = s
            .post(
                &format!("{O}/deals"),
                json!({"title": first, "company_id": co.map(|c| company[c].clone())}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
    }
    let (_, by_name) = s.get(&format!("{O}/contacts?sort=name")).await;
    assert_eq!(
        field(&by_name, "first_name"),
        [
            json!("Deal 9"),
            json!("Deal 10"),
            json!("Émile"),
            json!("eve")
        ]
    );
    let (_, deals) = s.get(&format!("{O}/deals?sort=title")).await;
    assert_eq!(
        field(&deals, "title"),
        [
            json!("Deal 9"),
            json!("Deal 10"),
            json!("Émile"),
            json!("eve")
        ]
    );
    // By the company's name, nulls last both ways.
    let (_, by_company) = s.get(&format!("{O}/contacts?sort=company_id")).await;
    assert_eq!(
        field(&by_company, "first_name"),
        [
            json!("Deal 9"),
            json!("Émile"),
            json!("Deal 10"),
            json!("eve")
        ]
    );
    let (_, back) = s.get(&format!("{O}/contacts?sort=-company_id")).await;
    assert_eq!(
        field(&back, "first_name"),
        [
            json!("Deal 10"),
            json!("Émile"),
            json!("Deal 9"),
            json!("eve")
        ]
    );
    let (_, deals) = s.get(&format!("{O}/deals?sort=company_id")).await;
    assert_eq!(
        field(&deals, "title"),
        [
            json!("Deal 9"),
            json!("Émile"),
            json!("Deal 10"),
            json!("eve")
        ]
    );
    // By the first email, case-insensitively; no email last.
    let (_, by_email) = s.get(&format!("{O}/contacts?sort=emails")).await;
    assert_eq!(
        field(&by_email, "first_name"),
        [
            json!("eve"),
            json!("Deal 10"),
            json!("Deal 9"),
            json!("Émile")
        ]
    );
    // Renaming a company moves its contacts and deals to the new name's place.
    let (status, _) = s
        .patch(
            &format!("{O}/companies/{}", company["Zenith"]),
            json!({"name": "Aardvark"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, by_company) = s.get(&format!("{O}/contacts?sort=company_id")).await;
    assert_eq!(
        by_company["items"][0]["first_name"], "Deal 10",
        "{by_company}"
    );
    let (_, deals) = s.get(&format!("{O}/deals?sort=company_id")).await;
    assert_eq!(deals["items"][0]["title"], "Deal 10", "{deals}");
    // A contact moved to another company follows it; one unlinked goes last.
    let eve_id = by_email["items"][0]["id"]
        .as_str()
        .expect("eve")
        .to_string();
    let (status, _) = s
        .patch(
            &format!("{O}/contacts/{eve_id}"),
            json!({"company_id": company["Ábaco"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, by_company) = s.get(&format!("{O}/contacts?sort=company_id")).await;
    assert_eq!(
        field(&by_company, "first_name"),
        [
            json!("Deal 10"),
            json!("Deal 9"),
            json!("eve"),
            json!("Émile")
        ]
    );
}

/// Owners (and a task's assignee) sort by their name, not their id, and a
/// rename moves their records: the members' names are copied into the
/// organization's database when someone joins or renames themselves.
#[tokio::test]
async fn lists_sort_by_the_owners_name_and_follow_a_rename() {
    let app = spawn_app().await;
    let s = app.setup_owner().await; // Olivia Owner
    let bea = app
        .add_member(&s, "acme", "bea@example.com", "member")
        .await;
    let cat = app
        .add_member(&s, "acme", "cat@example.com", "member")
        .await;
    for (who, name) in [(&bea, "Bea 10"), (&cat, "béa 9")] {
        let (status, body) = who.patch("/api/v1/account", json!({"name": name})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let olivia = json!(s.user_id);
    let owners = [
        ("Olivia's", olivia.clone()),
        ("Bea's", json!(bea.user_id)),
        ("Cat's", json!(cat.user_id)),
        ("Nobody's", Value::Null),
    ];
    for (label, owner) in &owners {
        for (path, body) in [
            ("contacts", json!({"first_name": label, "owner_id": owner})),
            ("companies", json!({"name": label, "owner_id": owner})),
            ("deals", json!({"title": label, "owner_id": owner})),
            ("tasks", json!({"title": label, "assignee_id": owner})),
        ] {
            let (status, made) = s.post(&format!("{O}/{path}"), body).await;
            assert_eq!(status, StatusCode::CREATED, "{path}: {made}");
        }
    }
    let order = |page: &Value, key: &str| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i[key].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // Accents folded, numbers as numbers: "béa 9" < "Bea 10" < "Olivia Owner";
    // no owner last both ways.
    for (path, sort, key) in [
        ("contacts", "owner_id", "first_name"),
        ("companies", "owner_id", "name"),
        ("deals", "owner_id", "title"),
        ("tasks", "assignee_id", "title"),
    ] {
        let (status, up) = s.get(&format!("{O}/{path}?sort={sort}")).await;
        assert_eq!(status, StatusCode::OK, "{up}");
        assert_eq!(
            order(&up, key),
            ["Cat's", "Bea's", "Olivia's", "Nobody's"],
            "{path} ascending"
        );
        let (_, down) = s.get(&format!("{O}/{path}?sort=-{sort}")).await;
        assert_eq!(
            order(&down, key),
            ["Olivia's", "Bea's", "Cat's", "Nobody's"],
            "{path} descending"
        );
        // Keyset pages return each row once in the same order.
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{O}/{path}?sort=-{sort}&limit=1&cursor={c}"),
                None => format!("{O}/{path}?sort=-{sort}&limit=1"),
            };
            let (status, page) = s.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            paged.extend(order(&page, key));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(paged, order(&down, key), "{path} pages");
    }
    // Olivia renames herself: her records move to the front.
    let (status, body) = s
        .patch("/api/v1/account", json!({"name": "Aaron Owner"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, up) = s.get(&format!("{O}/contacts?sort=owner_id")).await;
    assert_eq!(
        order(&up, "first_name"),
        ["Olivia's", "Cat's", "Bea's", "Nobody's"]
    );
    // A record handed to someone else takes their place.
    let olivias = up["items"][0]["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .patch(
            &format!("{O}/contacts/{olivias}"),
            json!({"owner_id": bea.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, up) = s.get(&format!("{O}/contacts?sort=owner_id")).await;
    let got = order(&up, "first_name");
    assert_eq!(got[0], "Cat's", "{got:?}");
    let beas: BTreeSet<&str> = got[1..3].iter().map(String::as_str).collect();
    assert_eq!(beas, BTreeSet::from(["Bea's", "Olivia's"]), "{got:?}");
    assert_eq!(got[3], "Nobody's");

    // Every insert carries the sort keys itself: no trigger sets them (a
    // trigger on a table makes each insert into it copy every page it
    // touches into a statement journal first).
    let (status, acme) = s
        .post(
            &format!("{O}/companies"),
            json!({"name": "Acme 7", "owner_id": cat.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{acme}");
    let (status, made) = s
        .post(
            &format!("{O}/contacts"),
            json!({"first_name": "Keyed", "owner_id": bea.user_id, "company_id": acme["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, deal) = s
        .post(
            &format!("{O}/deals"),
            json!({"title": "Keyed", "owner_id": cat.user_id, "company_id": acme["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deal}");
    let (status, task) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Keyed", "assignee_id": bea.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let org = app.only_org_dir();
    let db = rusqlite::Connection::open(org.join("crm.db")).expect("open");
    db.busy_timeout(std::time::Duration::from_secs(10))
        .expect("timeout");
    let keys = |table: &str, id: &str| -> (Option<String>, Option<String>) {
        db.query_row(
            &format!("SELECT owner_key, company_key FROM {table} WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("keys")
    };
    let name_key = |sql: &str, id: &str| -> String {
        db.query_row(sql, [id], |r| r.get(0)).expect("name key")
    };
    let bea_key = name_key(
        "SELECT name_key FROM people WHERE user_id = ?1",
        &bea.user_id,
    );
    let cat_key = name_key(
        "SELECT name_key FROM people WHERE user_id = ?1",
        &cat.user_id,
    );
    let acme_key = name_key(
        "SELECT name_key FROM companies WHERE id = ?1",
        acme["id"].as_str().expect("id"),
    );
    assert!(!bea_key.is_empty() && !acme_key.is_empty());
    for (table, id, owner) in [
        ("contacts", made["id"].as_str().expect("id"), &bea_key),
        ("deals", deal["id"].as_str().expect("id"), &cat_key),
    ] {
        assert_eq!(
            keys(table, id),
            (Some(owner.clone()), Some(acme_key.clone())),
            "{table} {id}"
        );
    }
    let one_key = |sql: &str, id: &str| -> Option<String> {
        db.query_row(sql, [id], |r| r.get(0)).expect("key")
    };
    assert_eq!(
        one_key(
            "SELECT owner_key FROM companies WHERE id = ?1",
            acme["id"].as_str().expect("id")
        ),
        Some(cat_key.clone())
    );
    assert_eq!(
        one_key(
            "SELECT assignee_key FROM tasks WHERE id = ?1",
            task["id"].as_str().expect("id")
        ),
        Some(bea_key.clone())
    );
    let triggers: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%AFTER INSERT ON%'
               AND tbl_name IN ('contacts', 'companies', 'deals', 'tasks',
                 'note_links', 'task_links', 'activity_links')",
            [],
            |r| r.get(0),
        )
        .expect("triggers");
    assert_eq!(triggers, 0, "an insert trigger on a record table");
}

async fn seed_people(s: &Session) {
    let (_, globex) = s
        .post(
            &format!("{O}/companies"),
            json!({"name": "Globex", "domain": "globex.example"}),
        )
        .await;
    for c in [
        json!({"first_name": "Zoltán", "last_name": "Kovács", "stage": "customer",
               "phones": [{"phone": "+49 30 901820"}], "job_title": "Head of Procurement"}),
        json!({"first_name": "Ada", "last_name": "Lovelace", "company_id": globex["id"],
               "emails": [{"email": "ada@globex.example"}], "phones": [{"phone": "+1 415 555 0132"}]}),
        json!({"first_name": "Kovac", "last_name": "Smith", "stage": "lead"}),
        json!({"first_name": "Grace", "last_name": "Hopper", "job_title": "Rear Admiral"}),
    ] {
        let (status, body) = s.post(&format!("{O}/contacts"), c).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn a_lists_search_is_the_palettes() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    seed_people(&s).await;
    let list = |q: &str| format!("{O}/contacts?q={}", enc(q));
    // The last one created is found once the index has them all.
    get_until(&s, &list("hopper"), |p| !names(p).is_empty()).await;
    // Accents folded: "kovacs" finds Kovács (and the prefix "kovac" both).
    let (_, found) = s.get(&list("kovacs")).await;
    assert_eq!(names(&found), BTreeSet::from(["Zoltán Kovács".to_string()]));
    let cases: &[(&str, &[&str])] = &[
        ("kovac", &["Zoltán Kovács", "Kovac Smith"]),
        // A typo: nothing matches exactly, so one typo is forgiven.
        ("lovelase", &["Ada Lovelace"]),
        ("procurment", &["Zoltán Kovács"]),
        // Phones in any notation.
        ("+1 (415) 555-0132", &["Ada Lovelace"]),
        ("415.555.0132", &["Ada Lovelace"]),
        ("030 901820", &["Zoltán Kovács"]),
        // Emails, domains, company names, job titles.
        ("ada@globex.example", &["Ada Lovelace"]),
        ("globex", &["Ada Lovelace"]),
        ("admiral", &["Grace Hopper"]),
        ("zzzz", &[]),
        ("!!!", &[]),
    ];
    for (q, want) in cases {
        let (status, page) = s.get(&list(q)).await;
        assert_eq!(status, StatusCode::OK, "{q}: {page}");
        let want: BTreeSet<String> = want.iter().map(|w| w.to_string()).collect();
        assert_eq!(names(&page), want, "q={q:?}");
        let (_, count) = s.get(&format!("{O}/contacts/count?q={}", enc(q))).await;
        assert_eq!(count["count"], want.len(), "count, q={q:?}");
    }
    // Combined with the list's filters and its sort.
    let (_, customers) = s.get(&format!("{O}/contacts?q=kovac&stage=customer")).await;
    assert_eq!(
        names(&customers),
        BTreeSet::from(["Zoltán Kovács".to_string()])
    );
    let (_, sorted) = s.get(&format!("{O}/contacts?q=kovac&sort=-name")).await;
    let order: Vec<&str> = sorted["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(order, ["Zoltán Kovács", "Kovac Smith"]);
    let paged = all_pages(&s, &format!("{O}/contacts?q=kovac&sort=name")).await;
    assert_eq!(paged.len(), 2);
    // Narrowed to the list's kind: a company's name finds no company here.
    let (_, companies) = s.get(&format!("{O}/companies?q=lovelace")).await;
    assert_eq!(ids(&companies).len(), 0);
    let (_, companies) = s.get(&format!("{O}/companies?q=globex")).await;
    assert_eq!(ids(&companies).len(), 1);
    // One cap for search and lists.
    let long = "a".repeat(201);
    for path in [
        format!("{O}/contacts?q={long}"),
        format!("{O}/contacts/count?q={long}"),
        format!("{O}/search?q={long}"),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["q"].is_string(), "{body}");
    }
    let (status, _) = s.get(&format!("{O}/contacts?q={}", "a".repeat(200))).await;
    assert_eq!(status, StatusCode::OK);
    // A change reaches the list's search.
    let (_, ada) = s.get(&format!("{O}/contacts?q=lovelace")).await;
    let ada_id = ids(&ada)[0].clone();
    s.patch(
        &format!("{O}/contacts/{ada_id}"),
        json!({"last_name": "Byron"}),
    )
    .await;
    get_until(&s, &list("byron"), |p| ids(p) == [ada_id.clone()]).await;
    s.delete(&format!("{O}/contacts/{ada_id}")).await;
    let (_, gone) = s.get(&list("byron")).await;
    assert_eq!(ids(&gone).len(), 0, "a trashed record never shows: {gone}");
}

#[tokio::test]
async fn select_all_matching_changes_the_owner_of_the_whole_filtered_list() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let bea = app
        .add_member(&s, "acme", "bea@example.com", "member")
        .await;
    let viewer = app
        .add_member(&s, "acme", "vic@example.com", "viewer")
        .await;
    let mut leads = BTreeSet::new();
    for i in 0..7 {
        let stage = if i < 5 { "lead" } else { "customer" };
        let (_, c) = s
            .post(
                &format!("{O}/contacts"),
                json!({"first_name": format!("Person{i}"), "last_name": "Kovács", "stage": stage}),
            )
            .await;
        if stage == "lead" {
            leads.insert(c["id"].as_str().expect("id").to_string());
        }
    }
    let bulk = format!("{O}/contacts/bulk");
    let body = json!({"matching": {"stage": "lead"}, "set": {"owner_id": bea.user_id}});
    // A viewer can't; an unknown owner is a 422 with nothing written.
    let (status, _) = viewer.post(&bulk, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = s
        .post(
            &bulk,
            json!({"matching": {"stage": "lead"}, "set": {"owner_id": "nobody"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = s
        .post(
            &bulk,
            json!({"matching": {"stage": "lead"}, "set": {"stage": "bogus"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, none) = s.get(&format!("{O}/contacts?owner={}", bea.user_id)).await;
    assert_eq!(ids(&none).len(), 0);
    // Bad requests: both or neither selection, no change, a bad parameter.
    for bad in [
        json!({"ids": ["x"], "matching": {}, "delete": true}),
        json!({"set": {"stage": "lead"}}),
        json!({"matching": {"stage": "lead"}}),
        json!({"matching": {"stage": "nope"}, "delete": true}),
        json!({"matching": {"limit": "5"}, "delete": true}),
        json!({"matching": {"stage": "lead"}, "delete": true, "add_tags": ["t"]}),
    ] {
        let (status, err) = s.post(&bulk, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {err}");
    }

    let (status, done) = s.post(&bulk, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["matched"], 5);
    assert_eq!(done["updated"], 5);
    let changed: BTreeSet<String> = done["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(changed, leads);
    let (_, theirs) = s
        .get(&format!("{O}/contacts?owner={}&limit=200", bea.user_id))
        .await;
    assert_eq!(ids(&theirs).into_iter().collect::<BTreeSet<_>>(), leads);
    let (_, customers) = s.get(&format!("{O}/contacts?stage=customer")).await;
    for c in customers["items"].as_array().expect("items") {
        assert!(c["owner_id"].is_null(), "{c}");
    }
    // Each record's history says who changed its owner.
    let one = leads.iter().next().expect("a lead");
    let (_, history) = s.get(&format!("{O}/contacts/{one}/history")).await;
    assert!(history.to_string().contains("owner_id"), "{history}");
    // Again: nothing left to change.
    let (_, again) = s.post(&bulk, body).await;
    assert_eq!(again["matched"], 5);
    assert_eq!(again["updated"], 0);

    // With the list's search too, then tags and the stage, then delete.
    let (_, tag) = s.post(&format!("{O}/tags"), json!({"name": "Hot"})).await;
    let searched = json!({"q": "person1", "stage": "lead"});
    get_until(&s, &format!("{O}/contacts?q=person1&stage=lead"), |p| {
        ids(p).len() == 1
    })
    .await;
    let (status, done) = s
        .post(
            &bulk,
            json!({"matching": searched, "add_tags": [tag["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["updated"], 1);
    let (status, done) = s
        .post(
            &bulk,
            json!({"matching": {"owner": bea.user_id}, "set": {"stage": "prospect"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["updated"], 5);
    let (_, count) = s.get(&format!("{O}/contacts/count?stage=prospect")).await;
    assert_eq!(count["count"], 5);
    let (status, done) = s
        .post(
            &bulk,
            json!({"matching": {"stage": "prospect"}, "delete": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["updated"], 5);
    assert_eq!(contact_count(&s, "acme").await, 2);
    // By ids, as before; an id of nothing (or of another organization) is skipped.
    let (_, left) = s.get(&format!("{O}/contacts")).await;
    let mut some = ids(&left);
    some.push("0190-not-here".into());
    let (status, done) = s
        .post(
            &bulk,
            json!({"ids": some, "set": {"owner_id": bea.user_id}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["matched"], 3);
    assert_eq!(done["updated"], 2);
}

#[tokio::test]
async fn bulk_actions_stay_in_their_organization() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    let (_, c) = a
        .post(&format!("{O}/contacts"), json!({"first_name": "Alice"}))
        .await;
    let a_id = c["id"].as_str().expect("id").to_string();
    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = b.expect("session");
    // B acting in its own organization never reaches A's records.
    for body in [
        json!({"ids": [a_id], "delete": true}),
        json!({"ids": [a_id], "set": {"stage": "customer"}}),
        json!({"matching": {}, "delete": true}),
        json!({"matching": {"q": "alice"}, "delete": true}),
    ] {
        let (status, done) = b.post("/api/v1/orgs/bobco/contacts/bulk", body).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["updated"], 0, "{done}");
    }
    // A's organization: 404 for B, as any of its routes.
    let (status, _) = b
        .post(
            &format!("{O}/contacts/bulk"),
            json!({"matching": {}, "delete": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, alice) = a.get(&format!("{O}/contacts/{a_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice["stage"], "lead");
}

/// A search that matches many records reads its pages by walking the list in
/// its order and keeping the matches (a few matching, by reading them by id
/// and sorting; sorted by name, by reading the few whose rank in the index
/// puts them first): every way, every sortable column pages the matches,
/// each once, in the order of the whole list.
#[tokio::test]
async fn a_search_matching_many_pages_in_the_lists_order() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut companies = Vec::new();
    for name in ["Atlas 10", "Atlas 2", "Borealis"] {
        let (status, c) = s
            .post(&format!("{O}/companies"), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        companies.push(c["id"].clone());
    }
    let mut quagga = BTreeSet::new();
    let mut okapi = BTreeSet::new();
    for i in 0..60usize {
        let (last, word) = match i {
            0..48 => (format!("{} Quagga", ["Ames", "Berg", "Cruz"][i % 3]), 1),
            48..52 => ("Okapi".to_string(), 2),
            _ => (["Ames", "Berg", "Cruz"][i % 3].to_string(), 0),
        };
        let first = ["Ann", "Bob", "ann", "Zoë", "Émile"][i % 5];
        let stage = ["lead", "customer", "prospect"][i % 3];
        let mut body = json!({"first_name": first, "last_name": last, "stage": stage});
        if i % 2 == 0 {
            body["owner_id"] = json!(s.user_id);
            body["company_id"] = companies[i % 3].clone();
            body["job_title"] = json!(["CEO", "Buyer", "Engineer 10", "Engineer 2"][i % 4]);
        }
        if i % 7 == 0 {
            body["emails"] = json!([{"email": format!("p{i}@x.example")}]);
        }
        let (status, c) = s.post(&format!("{O}/contacts"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = c["id"].as_str().expect("id").to_string();
        match word {
            1 => quagga.insert(id),
            2 => okapi.insert(id),
            _ => false,
        };
    }
    for (word, want) in [("quagga", 48), ("okapi", 4)] {
        get_until(&s, &format!("{O}/contacts/count?q={word}"), |c| {
            c["count"] == want
        })
        .await;
    }
    let keys = sortable_keys(&s, "contacts").await;
    assert!(keys.len() >= 8, "{keys:?}");
    for key in keys {
        for dir in ["", "-"] {
            let (status, whole) = s
                .get(&format!("{O}/contacts?sort={dir}{key}&limit=200"))
                .await;
            assert_eq!(status, StatusCode::OK, "{whole}");
            for (word, found) in [("quagga", &quagga), ("okapi", &okapi)] {
                let want: Vec<String> = ids(&whole)
                    .into_iter()
                    .filter(|id| found.contains(id))
                    .collect();
                assert_eq!(want.len(), found.len(), "sort={dir}{key}");
                let list = format!("{O}/contacts?q={word}&sort={dir}{key}");
                assert_eq!(all_pages(&s, &list).await, want, "{list}: pages");
                let (_, one) = s.get(&format!("{list}&limit=200")).await;
                assert_eq!(ids(&one), want, "{list}: one page");
            }
        }
    }
    // Another filter narrows the walk too.
    let (_, leads) = s
        .get(&format!("{O}/contacts?stage=lead&sort=name&limit=200"))
        .await;
    let want: Vec<String> = ids(&leads)
        .into_iter()
        .filter(|id| quagga.contains(id))
        .collect();
    assert_eq!(want.len(), 16);
    let list = format!("{O}/contacts?q=quagga&stage=lead&sort=name");
    assert_eq!(all_pages(&s, &list).await, want, "{list}");
}

/// A custom field indexed by an earlier version (two indexes, `_asc` and
/// `_desc`) gets today's one index when its organization opens, and sorts
/// the same both ways, empty values last.
#[tokio::test]
async fn custom_fields_indexed_as_pairs_are_reindexed_when_the_org_opens() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    tier_field(&s, "number").await;
    for (name, tier) in [
        ("A", json!(2)),
        ("B", Value::Null),
        ("C", json!(10)),
        ("D", json!(1)),
    ] {
        let (status, c) = s
            .post(
                &format!("{O}/contacts"),
                json!({"first_name": name, "custom": {"tier": tier}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
    }
    let path = crm_db(&app, &s).await;
    let (dir, config) = app.stop().await;
    let indexes = |db: &rusqlite::Connection| -> Vec<String> {
        db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'cf_%' ORDER BY name")
            .expect("sql")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("names")
    };
    {
        let db = rusqlite::Connection::open(&path).expect("open");
        assert_eq!(indexes(&db), ["cf_contacts_tier"]);
        // As versions before tenant migration 22 made them.
        let e = "CAST(json_extract(custom, '$.tier') AS REAL)";
        db.execute_batch(&format!(
            "DROP INDEX cf_contacts_tier;
             CREATE INDEX cf_contacts_tier_asc ON contacts(({e}) IS NULL, {e}, id) WHERE deleted_at IS NULL;
             CREATE INDEX cf_contacts_tier_desc ON contacts(({e}) IS NOT NULL, {e}, id) WHERE deleted_at IS NULL;"
        ))
        .expect("old shape");
    }
    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    for (sort, want) in [
        ("custom.tier", ["D", "A", "C", "B"]),
        ("-custom.tier", ["C", "A", "D", "B"]),
    ] {
        let (status, page) = s.get(&format!("{O}/contacts?sort={sort}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let names: Vec<&str> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["first_name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, want, "{sort}");
    }
    let db = rusqlite::Connection::open(&path).expect("open");
    assert_eq!(indexes(&db), ["cf_contacts_tier"]);
}

/// Forgets the planner's statistics: without them it takes tables to be
/// large, as they are where a plan matters (a test's few rows may rightly be
/// scanned).
fn without_statistics(db: &rusqlite::Connection) {
    let has_stats: bool = db
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')",
            [],
            |r| r.get(0),
        )
        .expect("stats");
    if has_stats {
        db.execute_batch("DELETE FROM sqlite_stat1; ANALYZE sqlite_schema;")
            .expect("no stats");
    }
}

/// The EXPLAIN QUERY PLAN lines of `sql` on `db`.
fn plan(db: &rusqlite::Connection, sql: &str) -> String {
    let mut stmt = db
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
    let lines: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("lines");
    lines.join(" / ")
}

/// The sorts a contact list offers in the UI walk an index — each range the
/// list reads (`Sorts::ranges`), first page and after a cursor, both ways —
/// and never sort the table: the shapes of the indexes (tenant migrations)
/// and of the queries (`record::sort`) have to keep matching, or a sort
/// costs seconds at a million contacts while every test still passes.
#[tokio::test]
async fn contact_sorts_walk_an_index() {
    use harmonia::record::RecordKind;
    use harmonia::record::catalogue::Catalogue;
    use harmonia::record::sort::{self, Sorts};
    use rusqlite::types::Value as Sql;

    let app = spawn_app().await;
    let s = app.setup_owner().await;
    tier_field(&s, "text").await;
    let path = crm_db(&app, &s).await;
    let db = rusqlite::Connection::open(&path).expect("open");
    without_statistics(&db);
    let fields = harmonia::record::custom::of_kind(&db, "contact").expect("fields");
    let cat = Catalogue {
        builtins: harmonia::crm::contacts::Contacts::fields(),
        custom: &fields,
    };
    for key in [
        "name",
        "company_id",
        "stage",
        "owner_id",
        "job_title",
        "emails",
        "created",
        "updated",
        "custom.tier",
    ] {
        for dir in ["", "-"] {
            let sort = format!("{dir}{key}");
            let sorts = Sorts::parse(Some(&sort), &cat).expect("sort");
            // After a row with values, and after one with an empty first key.
            let n = sorts.len();
            let mut valued = vec![Sql::Text("m".into()); n];
            let cursors = [None, Some(sort::encode(&valued, "x")), {
                valued[0] = Sql::Null;
                Some(sort::encode(&valued, "x"))
            }];
            for cursor in &cursors {
                for range in sorts.ranges(cursor.as_deref()).expect("ranges") {
                    let cond = match range.cond.is_empty() {
                        true => String::new(),
                        false => format!(" AND {}", range.cond),
                    };
                    let sql = format!(
                        "SELECT t.id FROM contacts t WHERE t.deleted_at IS NULL{cond}
                         ORDER BY {} LIMIT 51",
                        range.order
                    );
                    let p = plan(&db, &sql);
                    assert!(
                        p.contains("INDEX") && !p.contains("TEMP B-TREE"),
                        "{sort} after {cursor:?}: {p}\n{sql}"
                    );
                }
            }
        }
    }
    // A stage sorts by name within it: the stage filter's index, one seek
    // after a cursor (there is no index of its own).
    for (sort, op) in [("stage", ">"), ("-stage", "<")] {
        let sorts = Sorts::parse(Some(sort), &cat).expect("sort");
        let at = [Sql::Text("lead".into()), Sql::Text("m".into())];
        let cursor = sort::encode(&at, "x");
        let range = &sorts.ranges(Some(&cursor)).expect("ranges")[0];
        let p = plan(
            &db,
            &format!(
                "SELECT t.id FROM contacts t WHERE t.deleted_at IS NULL AND {}
                 ORDER BY {} LIMIT 51",
                range.cond, range.order
            ),
        );
        let seek = format!("contacts_by_stage ((stage,name_key,id){op}(?,?,?))");
        assert!(p.contains(&seek), "{sort}: {p}");
    }
}

/// A contact's name has one index, its natural key's (the lists' name
/// order): a filter on the name by equality finds the same contacts as
/// comparing the name itself — accents, case and numbers included — and
/// seeks that index instead of reading every contact.
#[tokio::test]
async fn a_name_filter_seeks_the_name_key_index() {
    use harmonia::record::RecordKind;
    use harmonia::record::catalogue::Catalogue;
    use harmonia::record::filter::{Context, Filter};

    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut ids = Vec::new();
    for (first, last) in [
        ("Ábel", "Nagy"),
        ("Abel", "Nagy"),
        ("Atlas", "2"),
        ("Atlas", "02"),
        ("Atlas", "10"),
        ("", ""),
    ] {
        let body = match first.is_empty() {
            true => json!({"emails": [{"label": "work", "email": "Only@Mail.test"}]}),
            false => json!({"first_name": first, "last_name": last}),
        };
        let (status, c) = s.post(&format!("{O}/contacts"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_str().expect("id").to_string());
    }
    let found = |filter: Value| {
        let s = &s;
        async move {
            let (status, page) = s
                .get_query(
                    &format!("{O}/contacts"),
                    &[("filter", &filter.to_string()), ("sort", "created")],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {page}");
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|c| c["id"].as_str().expect("id").to_string())
                .collect::<Vec<_>>()
        }
    };
    let eq = |v: &str| json!({"field": "name", "op": "eq", "value": v});
    // The name compares lowercased, as it always has; its key folds accents
    // and reads numbers as numbers, but only narrows what the name matches.
    assert_eq!(found(eq("ábel nagy")).await, [ids[0].clone()]);
    assert_eq!(found(eq("abel nagy")).await, [ids[1].clone()]);
    assert_eq!(found(eq("atlas 2")).await, [ids[2].clone()]);
    assert_eq!(found(eq("atlas 02")).await, [ids[3].clone()]);
    assert_eq!(found(eq("only@mail.test")).await, [ids[5].clone()]);
    assert!(found(eq("Abel Nagy")).await.is_empty());
    let within = json!({"field": "name", "op": "in", "value": ["atlas 10", "ábel nagy", "nobody"]});
    assert_eq!(found(within).await, [ids[0].clone(), ids[4].clone()]);
    let not_eq = json!({"field": "name", "op": "neq", "value": "atlas 2"});
    assert_eq!(found(not_eq).await.len(), 5);

    let db = rusqlite::Connection::open(crm_db(&app, &s).await).expect("open");
    let dropped: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master
             WHERE name IN ('contacts_by_name', 'contacts_by_last')",
            [],
            |r| r.get(0),
        )
        .expect("indexes");
    assert_eq!(dropped, 0, "the name's other indexes are gone");
    without_statistics(&db);
    let cat = Catalogue {
        builtins: harmonia::crm::contacts::Contacts::fields(),
        custom: &[],
    };
    let ctx = Context {
        me: None,
        now: time::OffsetDateTime::UNIX_EPOCH,
    };
    for filter in [
        eq("ábel nagy"),
        json!({"field": "name", "op": "in", "value": ["a", "b"]}),
    ] {
        let (cond, _) = Filter::parse(&filter.to_string())
            .and_then(|f| f.compile(&cat, &ctx))
            .expect("compiles");
        let p = plan(
            &db,
            &format!(
                "SELECT t.id FROM contacts t WHERE t.deleted_at IS NULL AND {cond}
                 ORDER BY t.created_at, t.id LIMIT 51"
            ),
        );
        assert!(
            p.contains("SEARCH t USING INDEX contacts_by_name_key (name_key=?)"),
            "{filter}: {p}"
        );
    }
}
