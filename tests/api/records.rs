//! The record layer at the HTTP boundary: a contract over every kind the
//! schema lists, custom fields of each type, the filter language (with
//! hostile input), sorts with stable keyset paging, tags and saved views.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

/// A valid body for each kind the schema lists (a new kind adds a line here
/// only if its required fields differ from `name`).
fn sample(kind: &str, n: usize) -> Value {
    match kind {
        "contact" => json!({"first_name": format!("Person {n}"), "stage": "lead"}),
        "deal" => json!({"title": format!("Deal {n}"), "amount": n}),
        "note" => json!({"body": format!("<p>Note {n}</p>")}),
        "task" => json!({"title": format!("Task {n}")}),
        "activity" => json!({"type": "meeting", "subject": format!("Meeting {n}")}),
        _ => json!({"name": format!("Thing {n}")}),
    }
}

fn invalid(kind: &str) -> (Value, &'static str) {
    match kind {
        "contact" => (json!({"first_name": "A", "stage": "royalty"}), "stage"),
        "deal" => (json!({"title": "A", "amount": 1.5}), "amount"),
        "note" => (json!({"body": "<script>only</script>"}), "body"),
        "task" => (json!({"title": ""}), "title"),
        "activity" => (json!({"type": "call", "duration_min": -1}), "duration_min"),
        _ => (json!({"name": ""}), "name"),
    }
}

async fn kinds(s: &Session) -> Vec<(String, String)> {
    let (status, schema) = s.get(&format!("{O}/schema")).await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    schema["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().expect("kind").to_string(),
                k["path"].as_str().expect("path").to_string(),
            )
        })
        .collect()
}

async fn other_org(app: &TestApp) -> Session {
    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    b.expect("session")
}

#[tokio::test]
async fn every_kind_keeps_the_contract() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let viewer = app
        .add_member(&s, "acme", "vera@example.com", "viewer")
        .await;
    let bob = other_org(&app).await;
    let kinds = kinds(&s).await;
    assert!(kinds.len() >= 2, "{kinds:?}");
    for (kind, path) in kinds {
        let base = format!("{O}/{path}");
        // Create, get, list, filter, sort, PATCH.
        let mut ids = Vec::new();
        for n in 0..3 {
            let (status, rec) = s.post(&base, sample(&kind, n)).await;
            assert_eq!(status, StatusCode::CREATED, "{kind}: {rec}");
            assert!(
                rec["custom"].is_object() && rec["tags"].is_array(),
                "{kind}: {rec}"
            );
            ids.push(rec["id"].as_str().expect("id").to_string());
        }
        let one = format!("{base}/{}", ids[0]);
        assert_eq!(s.get(&one).await.0, StatusCode::OK, "{kind}");
        let (_, page) = s.get(&format!("{base}?sort=-created&limit=2")).await;
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(2),
            "{kind}: {page}"
        );
        assert_eq!(
            page["items"][0]["id"],
            json!(ids[2]),
            "{kind}: newest first"
        );
        let cursor = page["next_cursor"].as_str().expect("cursor").to_string();
        let (_, rest) = s
            .get(&format!("{base}?sort=-created&limit=2&cursor={cursor}"))
            .await;
        assert_eq!(rest["items"][0]["id"], json!(ids[0]), "{kind}: {rest}");
        let filter = json!({"field": "created_at", "op": "gte", "value": "2000-01-01"}).to_string();
        let (status, filtered) = s.get_query(&base, &[("filter", &filter)]).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {filtered}");
        assert_eq!(
            filtered["items"].as_array().map(Vec::len),
            Some(3),
            "{kind}"
        );
        let (status, patched) = s.patch(&one, sample(&kind, 9)).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {patched}");
        let (_, history) = s.get(&format!("{one}/history")).await;
        assert_eq!(
            history["items"][0]["action"], "updated",
            "{kind}: {history}"
        );
        assert_eq!(
            history["items"][1]["action"], "created",
            "{kind}: {history}"
        );
        // Bad input: 422 naming the field, nothing written.
        let (bad, field) = invalid(&kind);
        let (status, err) = s.post(&base, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}: {err}");
        assert!(err["error"]["fields"][field].is_string(), "{kind}: {err}");
        let (_, count) = s.get(&format!("{base}/count")).await;
        assert_eq!(count["count"], 3, "{kind}: nothing written");
        // Viewers read but do not write.
        assert_eq!(viewer.get(&one).await.0, StatusCode::OK);
        assert_eq!(
            viewer.post(&base, sample(&kind, 5)).await.0,
            StatusCode::FORBIDDEN,
            "{kind}"
        );
        assert_eq!(viewer.delete(&one).await.0, StatusCode::FORBIDDEN, "{kind}");
        // Another organization's id is 404, under its own slug too.
        for path in [one.clone(), format!("{one}/history")] {
            assert_eq!(
                bob.get(&path).await.0,
                StatusCode::NOT_FOUND,
                "{kind} {path}"
            );
            let own = path.replace("/orgs/acme/", "/orgs/bobco/");
            assert_eq!(bob.get(&own).await.0, StatusCode::NOT_FOUND, "{kind} {own}");
        }
        // Delete and restore.
        assert_eq!(s.delete(&one).await.0, StatusCode::NO_CONTENT);
        assert_eq!(s.get(&one).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            s.post(&format!("{one}/restore"), json!({})).await.0,
            StatusCode::OK,
            "{kind}"
        );
        assert_eq!(s.get(&one).await.0, StatusCode::OK);
    }
}

async fn field(s: &Session, body: Value) -> Value {
    let (status, f) = s.post(&format!("{O}/fields"), body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {f}");
    f
}

#[tokio::test]
async fn custom_fields_check_each_type_and_write_nothing_when_wrong() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    field(
        &s,
        json!({"kind": "contact", "key": "arr", "label": "ARR", "type": "number"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "plan", "label": "Plan", "type": "select",
        "options": [{"label": "Basic"}, {"label": "Pro", "color": "blue"}], "default": "basic"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "renewal", "label": "Renewal", "type": "date"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "fee", "label": "Fee", "type": "money"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "vip", "label": "VIP", "type": "checkbox"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "site", "label": "Site", "type": "url"}),
    )
    .await;
    field(&s, json!({"kind": "contact", "key": "alt_email", "label": "Alt email", "type": "email", "unique": true})).await;
    field(
        &s,
        json!({"kind": "contact", "key": "desk", "label": "Desk", "type": "phone"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "areas", "label": "Areas", "type": "multi_select",
        "options": [{"label": "North"}, {"label": "South"}]}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "manager", "label": "Manager", "type": "user"}),
    )
    .await;
    field(&s, json!({"kind": "contact", "key": "account", "label": "Account", "type": "record", "target_kind": "company"})).await;
    field(&s, json!({"kind": "contact", "key": "badge", "label": "Badge", "type": "text", "required": true})).await;

    let (_, co) = s
        .post(&format!("{O}/companies"), json!({"name": "Globex"}))
        .await;
    let owner_id = s.user_id.clone();
    let good = json!({"first_name": "Ada", "custom": {
        "arr": "120000.50", "renewal": "2027-03-01", "fee": {"amount": 1999, "currency": "eur"},
        "vip": true, "site": "globex.com", "alt_email": "ada@globex.com", "desk": "(415) 555-0132",
        "areas": ["South", "north"], "manager": owner_id, "account": co["id"], "badge": "A1"}});
    let (status, c) = s.post(&format!("{O}/contacts"), good).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let cu = &c["custom"];
    assert_eq!(cu["arr"], "120000.5");
    assert_eq!(cu["plan"], "basic", "the default fills in");
    assert_eq!(cu["fee"], json!({"amount": 1999, "currency": "EUR"}));
    assert_eq!(cu["site"], "https://globex.com/");
    assert_eq!(cu["desk"], "+14155550132");
    assert_eq!(
        cu["areas"],
        json!(["north", "south"]),
        "option order, values"
    );
    assert_eq!(cu["account"]["name"], "Globex");

    let bad = json!({"first_name": "Bad", "custom": {
        "arr": "12,5", "renewal": "2027-13-01", "fee": {"amount": 19.99, "currency": "EUR"},
        "vip": "yes", "site": "ftp://x", "alt_email": "ada@globex.com", "desk": "12",
        "areas": ["West"], "manager": "someone-else", "account": "no-such-company", "nope": 1}});
    let (status, err) = s.post(&format!("{O}/contacts"), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let fields = &err["error"]["fields"];
    for key in [
        "arr", "renewal", "fee", "vip", "site", "desk", "areas", "nope", "badge",
    ] {
        assert!(
            fields[format!("custom.{key}")].is_string(),
            "custom.{key} not named: {err}"
        );
    }
    assert_eq!(contact_count(&s, "acme").await, 1, "nothing written");
    // Unique, user and record references are checked against the data.
    let dup = json!({"first_name": "Dup", "custom": {"alt_email": "ada@globex.com", "badge": "B"}});
    let (status, err) = s.post(&format!("{O}/contacts"), dup).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["fields"]["custom.alt_email"].is_string(),
        "{err}"
    );
    let stranger = json!({"first_name": "S", "custom": {"manager": "not-a-member", "badge": "B"}});
    let (status, err) = s.post(&format!("{O}/contacts"), stranger).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["fields"]["custom.manager"].is_string(),
        "{err}"
    );
    // PATCH merges per key; clearing a required field is refused.
    let one = format!("{O}/contacts/{}", c["id"].as_str().expect("id"));
    let (status, p) = s.patch(&one, json!({"custom": {"plan": "Pro"}})).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["custom"]["plan"], "pro");
    assert_eq!(p["custom"]["arr"], "120000.5", "other values stay");
    let (status, err) = s.patch(&one, json!({"custom": {"badge": null}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // A record field pointing to a deleted record doesn't break the page.
    s.delete(&format!("{O}/companies/{}", co["id"].as_str().expect("id")))
        .await;
    let (status, after) = s.get(&one).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["custom"]["account"]["deleted"], true, "{after}");
}

#[tokio::test]
async fn option_renames_keep_values_and_type_changes_must_convert() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let plan = field(
        &s,
        json!({"kind": "contact", "key": "plan", "label": "Plan", "type": "select",
        "options": [{"label": "Basic"}, {"label": "Pro"}]}),
    )
    .await;
    let code = field(
        &s,
        json!({"kind": "contact", "key": "code", "label": "Code", "type": "text"}),
    )
    .await;
    let (_, c) = s
        .post(
            &format!("{O}/contacts"),
            json!({"first_name": "A", "custom": {"plan": "pro", "code": "12"}}),
        )
        .await;
    let (_, _) = s
        .post(
            &format!("{O}/contacts"),
            json!({"first_name": "B", "custom": {"code": "x1"}}),
        )
        .await;
    let plan_path = format!("{O}/fields/{}", plan["id"].as_str().expect("id"));
    let (status, f) = s.patch(&plan_path, json!({"options": [{"value": "basic", "label": "Basic"}, {"value": "pro", "label": "Professional"}]})).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    let one = format!("{O}/contacts/{}", c["id"].as_str().expect("id"));
    assert_eq!(s.get(&one).await.1["custom"]["plan"], "pro");
    // Removing an option in use asks first.
    let (status, err) = s
        .patch(
            &plan_path,
            json!({"options": [{"value": "basic", "label": "Basic"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, _) = s
        .patch(
            &plan_path,
            json!({"options": [{"value": "basic", "label": "Basic"}], "removed_options": "clear"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.get(&one).await.1["custom"].get("plan").is_none());
    // A create is checked against the fields as they are now, not as the
    // last create (which read them) found them.
    let (status, err) = s
        .post(
            &format!("{O}/contacts"),
            json!({"first_name": "C", "custom": {"plan": "pro"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // "x1" is no number: the type change is refused and nothing changes.
    let code_path = format!("{O}/fields/{}", code["id"].as_str().expect("id"));
    let (status, err) = s.patch(&code_path, json!({"type": "number"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(s.get(&one).await.1["custom"]["code"], "12");
    // Delete hides the values; restore brings them back.
    assert_eq!(s.delete(&code_path).await.0, StatusCode::NO_CONTENT);
    assert!(s.get(&one).await.1["custom"].get("code").is_none());
    let (status, _) = s.post(&format!("{code_path}/restore"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(&one).await.1["custom"]["code"], "12");
    // Only admins change fields.
    let member = app.add_member(&s, "acme", "mo@example.com", "member").await;
    let (status, _) = member
        .post(
            &format!("{O}/fields"),
            json!({"kind": "contact", "key": "k", "label": "K", "type": "text"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(member.get(&format!("{O}/fields")).await.0, StatusCode::OK);
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["first_name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn the_filter_language_finds_what_it_says() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    field(
        &s,
        json!({"kind": "contact", "key": "arr", "label": "ARR", "type": "number"}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "areas", "label": "Areas", "type": "multi_select",
        "options": [{"label": "North"}, {"label": "South"}, {"label": "East"}]}),
    )
    .await;
    field(
        &s,
        json!({"kind": "contact", "key": "renewal", "label": "Renewal", "type": "date"}),
    )
    .await;
    let me = s.user_id.clone();
    for (name, stage, arr, areas, owner) in [
        ("Ann", "lead", Some("100"), vec!["north"], true),
        (
            "Bob",
            "customer",
            Some("250000"),
            vec!["north", "south"],
            false,
        ),
        ("Cid", "prospect", None, vec![], true),
        ("Dee", "customer", Some("99.5"), vec!["east"], false),
    ] {
        let mut body = json!({"first_name": name, "stage": stage, "custom": {"areas": areas}});
        if let Some(a) = arr {
            body["custom"]["arr"] = json!(a);
        }
        if owner {
            body["owner_id"] = json!(me);
        }
        let (status, b) = s.post(&format!("{O}/contacts"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
    }
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"field": "stage", "op": "in", "value": ["lead", "prospect"]}),
            vec!["Ann", "Cid"],
        ),
        (
            json!({"field": "stage", "op": "neq", "value": "customer"}),
            vec!["Ann", "Cid"],
        ),
        (
            json!({"field": "custom.arr", "op": "gte", "value": 100}),
            vec!["Ann", "Bob"],
        ),
        (
            json!({"field": "custom.arr", "op": "between", "value": [99, 101]}),
            vec!["Ann", "Dee"],
        ),
        (
            json!({"field": "custom.arr", "op": "is_empty"}),
            vec!["Cid"],
        ),
        (
            json!({"field": "custom.areas", "op": "has_any", "value": ["south", "east"]}),
            vec!["Bob", "Dee"],
        ),
        (
            json!({"field": "custom.areas", "op": "has_all", "value": ["north", "south"]}),
            vec!["Bob"],
        ),
        (
            json!({"field": "custom.areas", "op": "is_empty"}),
            vec!["Cid"],
        ),
        (
            json!({"field": "first_name", "op": "contains", "value": "E"}),
            vec!["Dee"],
        ),
        (
            json!({"field": "first_name", "op": "starts_with", "value": "b"}),
            vec!["Bob"],
        ),
        (json!({"field": "owner_id", "op": "me"}), vec!["Ann", "Cid"]),
        (
            json!({"field": "owner_id", "op": "eq", "value": "me"}),
            vec!["Ann", "Cid"],
        ),
        (
            json!({"field": "created_at", "op": "within", "value": "last_7_days"}),
            vec!["Ann", "Bob", "Cid", "Dee"],
        ),
        (
            json!({"field": "custom.renewal", "op": "within", "value": "next_month"}),
            vec![],
        ),
        (
            json!({"or": [{"field": "stage", "op": "eq", "value": "lead"},
                       {"and": [{"field": "stage", "op": "eq", "value": "customer"},
                                {"field": "custom.arr", "op": "lt", "value": 1000}]}]}),
            vec!["Ann", "Dee"],
        ),
    ];
    for (filter, expected) in cases {
        let text = filter.to_string();
        let (status, page) = s
            .get_query(
                &format!("{O}/contacts"),
                &[("filter", &text), ("sort", "first_name")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{text}: {page}");
        assert_eq!(ids(&page), expected, "{text}");
    }
    // Hostile input is 422 (or a correct empty answer), never 500.
    // Built as text: a 1,000-deep serde_json::Value would overflow the
    // test's own stack.
    let deep = format!(
        "{}{}{}",
        r#"{"and":["#.repeat(1000),
        r#"{"field":"first_name","op":"eq","value":"x"}"#,
        "]}".repeat(1000)
    );
    let many: Vec<Value> = (0..300)
        .map(|i| json!({"field": "first_name", "op": "eq", "value": i.to_string()}))
        .collect();
    let hostile = vec![
        json!({"field": "first_name; DROP TABLE contacts; --", "op": "eq", "value": "x"})
            .to_string(),
        json!({"field": "custom.x') OR 1=1 --", "op": "eq", "value": "x"}).to_string(),
        json!({"field": "stage", "op": "eq OR 1=1", "value": "lead"}).to_string(),
        json!({"field": "stage", "op": "lt", "value": "lead"}).to_string(),
        json!({"field": "custom.arr", "op": "contains", "value": "1"}).to_string(),
        json!({"field": "custom.arr", "op": "gt", "value": "1 OR 1=1"}).to_string(),
        json!({"field": "custom.areas", "op": "eq", "value": "north"}).to_string(),
        json!({"field": "custom.renewal", "op": "within", "value": "someday"}).to_string(),
        deep,
        json!({"or": many}).to_string(),
        "{not json".to_string(),
        "[]".to_string(),
    ];
    for h in hostile {
        let (status, body) = s
            .get_query(&format!("{O}/contacts"), &[("filter", &h)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            &h[..h.len().min(80)]
        );
        assert!(body["error"]["fields"]["filter"].is_string(), "{body}");
    }
    let quotes = json!({"field": "first_name", "op": "eq", "value": "x' OR '1'='1"}).to_string();
    let (status, page) = s
        .get_query(&format!("{O}/contacts"), &[("filter", &quotes)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ids(&page).is_empty());
    assert_eq!(
        contact_count(&s, "acme").await,
        4,
        "the table is still there"
    );
    for bad_sort in [
        "email; DROP TABLE contacts",
        "custom.nope",
        "custom.areas",
        "a,b,c,d",
    ] {
        let (status, body) = s
            .get_query(&format!("{O}/contacts"), &[("sort", bad_sort)])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad_sort}: {body}"
        );
    }
}

#[tokio::test]
async fn paging_by_a_custom_field_with_many_equal_and_empty_values_sees_every_record_once() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    field(
        &s,
        json!({"kind": "contact", "key": "score", "label": "Score", "type": "number"}),
    )
    .await;
    let db = app.state.tenants.dir(&org_id(&app).await).join("crm.db");
    // 1,000 contacts through the API would take long: insert them with the
    // same SQL the layer writes, then read them through the API.
    {
        let conn = rusqlite::Connection::open(&db).expect("db");
        let tx = conn.unchecked_transaction().expect("tx");
        for i in 0..1000 {
            let custom = if i % 7 == 0 {
                "{}".to_string()
            } else {
                format!("{{\"score\":\"{}\"}}", i % 5)
            };
            tx.execute(
                "INSERT INTO contacts (id, first_name, last_name, sort_name, last_key, created_at, updated_at,
                   created_by, updated_by, custom)
                 VALUES (?1, ?2, '', ?3, '', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'x', 'x', ?4)",
                rusqlite::params![format!("id-{i:04}"), format!("P{i}"), format!("p{i}"), custom],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    for sort in [
        "custom.score",
        "-custom.score",
        "custom.score,-name",
        "-updated",
    ] {
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        let mut last_score: Option<f64> = None;
        let mut nulls_started = false;
        loop {
            let mut q = vec![("sort", sort.to_string()), ("limit", "37".to_string())];
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, page) = s.get_query(&format!("{O}/contacts"), &q).await;
            assert_eq!(status, StatusCode::OK, "{sort}: {page}");
            for item in page["items"].as_array().expect("items") {
                assert!(
                    seen.insert(item["id"].as_str().expect("id").to_string()),
                    "{sort}: seen twice"
                );
                if sort.contains("score") {
                    match item["custom"]["score"].as_str() {
                        None => nulls_started = true,
                        Some(v) => {
                            assert!(!nulls_started, "{sort}: empty values come last");
                            let v: f64 = v.parse().expect("number");
                            if let Some(l) = last_score {
                                assert!(
                                    if sort.starts_with('-') {
                                        v <= l
                                    } else {
                                        v >= l
                                    },
                                    "{sort}: order"
                                );
                            }
                            last_score = Some(v);
                        }
                    }
                }
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 1000, "{sort}: every record exactly once");
    }
}

async fn org_id(app: &TestApp) -> String {
    app.state
        .control
        .read(|c| {
            Ok(
                c.query_row("SELECT id FROM orgs WHERE slug = 'acme'", [], |r| {
                    r.get::<_, String>(0)
                })?,
            )
        })
        .await
        .expect("org id")
}

#[tokio::test]
async fn tags_on_records_filter_and_merge() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (status, vip) = s
        .post(&format!("{O}/tags"), json!({"name": "VIP", "color": "red"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{vip}");
    let (_, hot) = s.post(&format!("{O}/tags"), json!({"name": "Hot"})).await;
    assert_eq!(
        s.post(&format!("{O}/tags"), json!({"name": "vip"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        s.post(
            &format!("{O}/tags"),
            json!({"name": "x", "color": "ultraviolet"})
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, a) = s
        .post(&format!("{O}/contacts"), sample_contact("Ann"))
        .await;
    let (_, b) = s
        .post(&format!("{O}/contacts"), sample_contact("Bea"))
        .await;
    let a_path = format!("{O}/contacts/{}", a["id"].as_str().expect("id"));
    let (status, tagged) = s
        .post(&format!("{a_path}/tags"), json!({"tag_ids": [vip["id"]]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{tagged}");
    assert_eq!(tagged["tags"][0]["name"], "VIP");
    // A change answers with the tags, and cannot set them (they have routes
    // of their own).
    let (status, changed) = s
        .patch(&a_path, json!({"job_title": "CTO", "tags": []}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["job_title"], "CTO", "{changed}");
    assert_eq!(changed["tags"][0]["name"], "VIP", "{changed}");
    assert_eq!(s.get(&a_path).await.1["tags"], changed["tags"]);
    let (status, bulk) = s
        .post(
            &format!("{O}/contacts/bulk/tags"),
            json!({"ids": [a["id"], b["id"]], "add": [hot["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bulk}");
    assert_eq!(bulk["updated"], 2);
    let f = json!({"field": "tags", "op": "has_any", "value": [vip["id"]]}).to_string();
    let (_, page) = s
        .get_query(&format!("{O}/contacts"), &[("filter", &f)])
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    // Merge VIP into Hot: Ann keeps one tag, VIP is gone.
    let (status, merged) = s
        .post(
            &format!("{O}/tags/{}/merge", vip["id"].as_str().expect("id")),
            json!({"into": hot["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    assert_eq!(merged["count"], 2);
    let (_, ann) = s.get(&a_path).await;
    assert_eq!(ann["tags"].as_array().map(Vec::len), Some(1), "{ann}");
    // Removing one; viewers can't; other orgs can't see them.
    let (status, _) = s
        .delete(&format!(
            "{a_path}/tags/{}",
            hot["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(&a_path).await.1["tags"], json!([]));
    let viewer = app.add_member(&s, "acme", "vi@example.com", "viewer").await;
    assert_eq!(
        viewer
            .post(&format!("{a_path}/tags"), json!({"tag_ids": [hot["id"]]}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn views_are_personal_or_shared_and_stay_in_their_org() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let member = app.add_member(&s, "acme", "mo@example.com", "member").await;
    let bob = other_org(&app).await;
    let filter = json!({"field": "stage", "op": "eq", "value": "customer"});
    let (status, mine) = member
        .post(&format!("{O}/views"), json!({"kind": "contact", "name": "My customers", "filter": filter,
            "sort": "-updated", "columns": [{"field": "name", "width": 240}, {"field": "stage"}], "is_default": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["is_default"], true);
    assert_eq!(mine["scope"], "personal");
    // Members can't share; admins can.
    let shared = json!({"kind": "contact", "name": "All leads", "scope": "shared"});
    assert_eq!(
        member.post(&format!("{O}/views"), shared.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(&format!("{O}/views"), shared).await.0,
        StatusCode::CREATED
    );
    // A view naming an unknown field is refused.
    let (status, _) = s
        .post(
            &format!("{O}/views"),
            json!({"kind": "contact", "name": "x", "sort": "custom.nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("views")
            .iter()
            .map(|x| x["name"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(
        names(&member.get(&format!("{O}/views")).await.1),
        vec!["My customers", "All leads"]
    );
    assert_eq!(
        names(&s.get(&format!("{O}/views")).await.1),
        vec!["All leads"],
        "personal views are private"
    );
    let mine_path = format!("{O}/views/{}", mine["id"].as_str().expect("id"));
    assert_eq!(s.get(&mine_path).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        s.patch(&mine_path, json!({"name": "Stolen"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.delete(&mine_path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        bob.patch(&mine_path, json!({"name": "Stolen"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.get(&format!("{O}/views")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, renamed) = member.patch(&mine_path, json!({"name": "Customers"})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["columns"][0]["width"], 240);
    assert_eq!(renamed["filter"], filter, "absent fields stay");
    let (status, cleared) = member
        .patch(&mine_path, json!({"filter": null, "sort": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["filter"], Value::Null, "null clears: {cleared}");
    assert_eq!(cleared["sort"], Value::Null, "null clears: {cleared}");
    assert_eq!(member.delete(&mine_path).await.0, StatusCode::NO_CONTENT);
}

/// For each type: three values in a known order and one record without a
/// value; sorting both ways puts them in order with the empty one last, and
/// an equality filter finds exactly its record.
#[tokio::test]
async fn every_custom_type_sorts_and_filters() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let bob = other_org(&app).await;
    let amy = app
        .add_member(&s, "acme", "amy@example.com", "member")
        .await;
    let zed = app
        .add_member(&s, "acme", "zed@example.com", "member")
        .await;
    let mut companies = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        let (_, co) = s
            .post(&format!("{O}/companies"), json!({"name": name}))
            .await;
        companies.push(co["id"].clone());
    }
    let mut users = [s.user_id.clone(), amy.user_id.clone(), zed.user_id.clone()];
    users.sort();
    let options = json!([{"label": "Low"}, {"label": "Mid"}, {"label": "High"}]);
    // (type, extra settings, three values in ascending stored order)
    let cases: Vec<(&str, Value, [Value; 3])> = vec![
        (
            "text",
            json!({}),
            [json!("apple"), json!("banana"), json!("cherry")],
        ),
        (
            "number",
            json!({}),
            [json!("-5"), json!("10.25"), json!("300")],
        ),
        (
            "money",
            json!({}),
            [
                json!({"amount": 100, "currency": "EUR"}),
                json!({"amount": 2500, "currency": "USD"}),
                json!({"amount": 99999, "currency": "EUR"}),
            ],
        ),
        (
            "date",
            json!({}),
            [
                json!("2025-01-31"),
                json!("2026-06-01"),
                json!("2027-12-24"),
            ],
        ),
        (
            "datetime",
            json!({}),
            [
                json!("2026-01-01T08:00:00Z"),
                json!("2026-01-01T09:30:00Z"),
                json!("2026-02-01T00:00:00Z"),
            ],
        ),
        (
            "select",
            json!({"options": options}),
            [json!("high"), json!("low"), json!("mid")],
        ),
        (
            "url",
            json!({}),
            [
                json!("https://a.example/"),
                json!("https://b.example/"),
                json!("https://c.example/"),
            ],
        ),
        (
            "email",
            json!({}),
            [
                json!("a@x.example"),
                json!("b@x.example"),
                json!("c@x.example"),
            ],
        ),
        (
            "phone",
            json!({}),
            [
                json!("+14155550101"),
                json!("+14155550102"),
                json!("+14155550103"),
            ],
        ),
        (
            "user",
            json!({}),
            [json!(users[0]), json!(users[1]), json!(users[2])],
        ),
        (
            "record",
            json!({"target_kind": "company"}),
            [
                companies[0].clone(),
                companies[1].clone(),
                companies[2].clone(),
            ],
        ),
    ];
    for (ty, extra, values) in cases {
        let key = format!("f_{ty}");
        let mut def = json!({"kind": "contact", "key": key, "label": ty, "type": ty});
        for (k, v) in extra.as_object().expect("extra") {
            def[k] = v.clone();
        }
        field(&s, def).await;
        // Created out of order, with one empty.
        let mut ids = Vec::new();
        for (name, v) in [
            ("second", &values[1]),
            ("none", &Value::Null),
            ("third", &values[2]),
            ("first", &values[0]),
        ] {
            let (status, c) = s
                .post(
                    &format!("{O}/contacts"),
                    json!({"first_name": format!("{ty} {name}"), "custom": {key.clone(): v}}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{ty}: {c}");
            ids.push(c["id"].clone());
        }
        let names = |page: &Value| -> Vec<String> {
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["first_name"].as_str().expect("name").to_string())
                .filter(|n| n.starts_with(&format!("{ty} ")))
                .collect()
        };
        let only = json!({"field": "first_name", "op": "starts_with", "value": format!("{ty} ")})
            .to_string();
        for (sort, expected) in [
            (
                format!("custom.{key}"),
                ["first", "second", "third", "none"],
            ),
            (
                format!("-custom.{key}"),
                ["third", "second", "first", "none"],
            ),
        ] {
            let (status, page) = s
                .get_query(
                    &format!("{O}/contacts"),
                    &[("sort", &sort), ("filter", &only), ("limit", "2")],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{ty} {sort}: {page}");
            // Page by two to go through the cursor as well.
            let mut got = names(&page);
            let mut cursor = page["next_cursor"].as_str().map(str::to_string);
            while let Some(c) = cursor {
                let (_, next) = s
                    .get_query(
                        &format!("{O}/contacts"),
                        &[
                            ("sort", &sort),
                            ("filter", &only),
                            ("limit", "2"),
                            ("cursor", &c),
                        ],
                    )
                    .await;
                got.extend(names(&next));
                cursor = next["next_cursor"].as_str().map(str::to_string);
            }
            let expected: Vec<String> = expected.iter().map(|e| format!("{ty} {e}")).collect();
            assert_eq!(got, expected, "{ty} sorted by {sort}");
        }
        let probe = match ty {
            "money" => json!(2500),
            _ => values[1].clone(),
        };
        let f = json!({"and": [{"field": format!("custom.{key}"), "op": "eq", "value": probe}, {"field": "first_name", "op": "starts_with", "value": format!("{ty} ")}]}).to_string();
        let (status, page) = s
            .get_query(&format!("{O}/contacts"), &[("filter", &f)])
            .await;
        assert_eq!(status, StatusCode::OK, "{ty}: {page}");
        assert_eq!(names(&page), vec![format!("{ty} second")], "{ty} eq");
        let f = json!({"and": [{"field": format!("custom.{key}"), "op": "is_empty"}, {"field": "first_name", "op": "starts_with", "value": format!("{ty} ")}]}).to_string();
        let (_, page) = s
            .get_query(&format!("{O}/contacts"), &[("filter", &f)])
            .await;
        assert_eq!(names(&page), vec![format!("{ty} none")], "{ty} is_empty");
    }
    // Another organization sees none of it.
    assert_eq!(
        bob.get(&format!("{O}/fields")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(bob.get(&format!("{O}/tags")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        bob.get(&format!("{O}/schema")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, own) = bob.get("/api/v1/orgs/bobco/fields").await;
    assert_eq!(own, json!({"items": []}), "fields are per organization");
}
