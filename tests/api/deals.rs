//! Deals on pipelines: money rules, stages and their changes, moves and
//! column order, the board's sums, the forecast, isolation and roles.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const D: &str = "/api/v1/orgs/acme/deals";

async fn pipeline(s: &Session, slug: &str) -> Value {
    let (status, body) = s.get(&format!("/api/v1/orgs/{slug}/pipelines")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"][0].clone()
}

fn stage_id(p: &Value, name: &str) -> String {
    p["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("no stage {name} in {p}"))
        .to_string()
}

async fn deal(s: &Session, body: Value) -> Value {
    let (status, d) = s.post(D, body).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn board(s: &Session, pipeline_id: &str, query: &str) -> Value {
    let (status, b) = s
        .get(&format!(
            "/api/v1/orgs/acme/pipelines/{pipeline_id}/board{query}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b
}

fn column<'a>(b: &'a Value, stage: &str) -> &'a Value {
    b["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["stage"]["id"] == stage)
        .expect("column")
}

fn card_ids(col: &Value) -> Vec<String> {
    col["deals"]
        .as_array()
        .expect("deals")
        .iter()
        .map(id)
        .collect()
}

#[tokio::test]
async fn a_new_org_has_the_sales_pipeline_and_deals_start_in_its_first_stage() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    assert_eq!(p["name"], "Sales");
    let stages: Vec<(String, i64, String)> = p["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_string(),
                s["probability"].as_i64().expect("p"),
                s["kind"].as_str().expect("kind").to_string(),
            )
        })
        .collect();
    let expected = [
        ("Qualified", 10, "open"),
        ("Meeting", 25, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ];
    assert_eq!(stages.len(), expected.len());
    for ((n, pr, k), (en, ep, ek)) in stages.iter().zip(expected) {
        assert_eq!((n.as_str(), *pr, k.as_str()), (en, ep, ek));
    }

    // Currency from the organization's default; stage the first open one.
    let d = deal(&s, json!({"title": "Acme renewal", "amount": 100_000})).await;
    assert_eq!(d["currency"], "USD");
    assert_eq!(d["stage"]["name"], "Qualified");
    assert_eq!(d["weighted_amount"], 10_000);
    assert_eq!(d["status"], "open");
    assert_eq!(d["days_in_stage"], 0);
    assert_eq!(d["rotting"], false);
    let (status, org) = s
        .patch("/api/v1/orgs/acme", json!({"default_currency": "eur"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["default_currency"], "EUR");
    let d2 = deal(&s, json!({"title": "Euro deal", "amount": 5})).await;
    assert_eq!(d2["currency"], "EUR");
    let (status, bad) = s
        .patch("/api/v1/orgs/acme", json!({"default_currency": "ZZZ"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // Created in a stage: the first stage change says so.
    let (_, h) = s.get(&format!("{D}/{}/stage-history", id(&d))).await;
    assert_eq!(h["items"].as_array().map(Vec::len), Some(1), "{h}");
    assert_eq!(h["items"][0]["from_stage_id"], Value::Null);
    assert_eq!(h["items"][0]["to_stage_name"], "Qualified");
    assert_eq!(h["items"][0]["actor"], json!(s.user_id));
}

#[tokio::test]
async fn money_and_input_rules_answer_422_and_write_nothing() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let (_, other) = s
        .post(
            "/api/v1/orgs/acme/pipelines",
            json!({"name": "Partners", "stages": [{"name": "Intro", "probability": 20}]}),
        )
        .await;
    let cases = [
        (json!({"title": "x", "amount": 19.99}), "amount"),
        (
            json!({"title": "x", "amount": 9_007_199_254_740_992_i64}),
            "amount",
        ),
        (json!({"title": "x", "amount": 1e30}), "amount"),
        (json!({"title": "x", "amount": -1}), "amount"),
        (json!({"title": "x", "amount": "100"}), "amount"),
        (json!({"title": "x", "currency": "ZZZ"}), "currency"),
        (json!({"title": "x", "currency": "euro"}), "currency"),
        (
            json!({"title": "x", "close_date": "2026-13-01"}),
            "close_date",
        ),
        (
            json!({"title": "x", "close_date": "tomorrow"}),
            "close_date",
        ),
        (json!({"amount": 5}), "title"),
        (json!({"title": "  "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "x", "stage_id": "nope"}), "stage_id"),
        (json!({"title": "x", "pipeline_id": "nope"}), "pipeline_id"),
        (
            json!({"title": "x", "pipeline_id": id(&other), "stage_id": stage_id(&p, "Meeting")}),
            "stage_id",
        ),
        (
            json!({"title": "x", "stage_id": stage_id(&p, "Lost")}),
            "lost_reason",
        ),
        (json!({"title": "x", "company_id": "nope"}), "company_id"),
        (
            json!({"title": "x", "contacts": [{"contact_id": "nope", "role": "champion"}]}),
            "contacts[0].contact_id",
        ),
        (
            json!({"title": "x", "contacts": [{"contact_id": "a", "role": "boss"}]}),
            "contacts[0].role",
        ),
        (json!({"title": "x", "owner_id": "nobody"}), "owner_id"),
        (json!({"title": "x", "surprise": 1}), "surprise"),
    ];
    for (body, field) in cases {
        let (status, err) = s.post(D, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        assert!(
            err["error"]["fields"].get(field).is_some(),
            "{body}: expected {field} in {err}"
        );
    }
    let (_, count) = s.get(&format!("{D}/count")).await;
    assert_eq!(count["count"], 0);
    // The largest exact amount is accepted and comes back exactly.
    let d = deal(
        &s,
        json!({"title": "Max", "amount": 9_007_199_254_740_991_i64}),
    )
    .await;
    assert_eq!(d["amount"], 9_007_199_254_740_991_i64);
}

#[tokio::test]
async fn board_sums_per_currency_with_weighted_amounts() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let pid = id(&p);
    let proposal = stage_id(&p, "Proposal");
    let meeting = stage_id(&p, "Meeting");
    for (amount, currency) in [(1001, "USD"), (2003, "USD"), (500, "EUR")] {
        deal(
            &s,
            json!({"title": format!("{amount} {currency}"), "amount": amount,
                   "currency": currency, "stage_id": proposal}),
        )
        .await;
    }
    deal(&s, json!({"title": "No amount", "stage_id": proposal})).await;
    let big = deal(
        &s,
        json!({"title": "Big", "amount": 3, "currency": "JPY", "stage_id": meeting}),
    )
    .await;
    let b = board(&s, &pid, "").await;
    let col = column(&b, &proposal);
    assert_eq!(col["count"], 4);
    assert_eq!(
        col["totals"],
        json!([
            {"currency": "EUR", "amount": 500, "weighted": 250},
            {"currency": "USD", "amount": 3004, "weighted": 1502}
        ])
    );
    let m = column(&b, &meeting);
    assert_eq!(
        m["totals"],
        json!([{"currency": "JPY", "amount": 3, "weighted": 1}])
    );
    // A filter narrows cards and sums alike.
    let f = r#"{"field":"currency","op":"eq","value":"USD"}"#;
    let b = board(&s, &pid, &format!("?filter={}", urlencode(f))).await;
    assert_eq!(
        column(&b, &proposal)["count"],
        3,
        "two amounts and one without"
    );
    assert_eq!(column(&b, &meeting)["count"], 0);
    // Moving a card changes both columns' sums.
    let (status, moved) = s
        .post(
            &format!("{D}/{}/move", id(&big)),
            json!({"stage_id": proposal}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["weighted_amount"], 2);
    let b = board(&s, &pid, "").await;
    assert_eq!(column(&b, &meeting)["count"], 0);
    assert_eq!(column(&b, &proposal)["count"], 5);
    // A column pages with its own cursor, in column order.
    let first = board(&s, &pid, &format!("?limit=2&stage={proposal}")).await;
    assert_eq!(first["columns"].as_array().map(Vec::len), Some(1));
    let col = column(&first, &proposal);
    let cursor = col["next_cursor"].as_str().expect("cursor").to_string();
    let next = board(
        &s,
        &pid,
        &format!("?limit=2&stage={proposal}&cursor={}", urlencode(&cursor)),
    )
    .await;
    let mut seen = card_ids(col);
    seen.extend(card_ids(column(&next, &proposal)));
    let all = board(&s, &pid, "").await;
    assert_eq!(seen, card_ids(column(&all, &proposal))[..4].to_vec());
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn rotting_follows_the_stage_setting() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let d = deal(
        &s,
        json!({"title": "Idle", "stage_id": stage_id(&p, "Proposal")}),
    )
    .await;
    let fresh = deal(
        &s,
        json!({"title": "Fresh", "stage_id": stage_id(&p, "Proposal")}),
    )
    .await;
    let (_, org) = s.get("/api/v1/orgs/acme").await;
    let tenant = app
        .state
        .tenants
        .get(org["id"].as_str().expect("org id"))
        .await
        .expect("tenant");
    let idle = id(&d);
    tenant
        .write(move |tx| {
            tx.execute(
                "UPDATE deals SET updated_at = '2020-01-01T00:00:00.000000Z',
                   stage_entered_at = '2020-01-01T00:00:00.000000Z' WHERE id = ?1",
                [&idle],
            )?;
            Ok(())
        })
        .await
        .expect("age the deal");
    let (_, d) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(d["rotting"], true, "{d}");
    assert!(d["days_in_stage"].as_i64().expect("days") > 300);
    let (_, f) = s.get(&format!("{D}/{}", id(&fresh))).await;
    assert_eq!(f["rotting"], false);
    assert_eq!(f["last_activity_at"], Value::Null);

    // A call logged on the idle deal is attention: it no longer rots, and
    // says when it was last worked on. Trashing the call takes that back.
    let (status, call) = s
        .post(
            "/api/v1/orgs/acme/activities",
            json!({"type": "call", "outcome": "connected", "body": "<p>Talked terms</p>",
                   "links": [{"kind": "deal", "id": id(&d)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let (_, worked) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(worked["rotting"], false, "{worked}");
    assert_eq!(worked["last_activity_at"], call["occurred_at"], "{worked}");
    assert!(worked["days_in_stage"].as_i64().expect("days") > 300);
    let (status, _) = s
        .delete(&format!("/api/v1/orgs/acme/activities/{}", id(&call)))
        .await;
    assert!(status.is_success(), "{status}");
    let (_, d) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(d["rotting"], true, "{d}");
    assert_eq!(d["last_activity_at"], Value::Null);

    // Without rotting days on the stage, nothing rots.
    let mut stages = p["stages"].as_array().expect("stages").clone();
    for st in &mut stages {
        st.as_object_mut().expect("stage").remove("pipeline_id");
        st.as_object_mut().expect("stage").remove("position");
        st["rotting_days"] = Value::Null;
    }
    let (status, body) = s
        .patch(
            &format!("/api/v1/orgs/acme/pipelines/{}", id(&p)),
            json!({"stages": stages}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, d) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(d["rotting"], false);
}

#[tokio::test]
async fn a_lost_deal_needs_its_reason() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let lost = stage_id(&p, "Lost");
    let won = stage_id(&p, "Won");
    let d = deal(&s, json!({"title": "Maybe", "amount": 100})).await;
    let path = format!("{D}/{}", id(&d));
    let (status, err) = s
        .post(&format!("{path}/move"), json!({"stage_id": lost}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"]["fields"]["lost_reason"].is_string());
    let (status, err) = s.patch(&path, json!({"stage_id": lost})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, still) = s.get(&path).await;
    assert_eq!(still["status"], "open");
    let (status, d) = s
        .post(
            &format!("{path}/move"),
            json!({"stage_id": lost, "lost_reason": "Went with a competitor"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "lost");
    assert_eq!(d["lost_reason"], "Went with a competitor");
    assert!(d["closed_at"].is_string());
    assert_eq!(d["weighted_amount"], 0);
    // A PATCH cannot clear the reason of a lost deal.
    let (status, _) = s.patch(&path, json!({"lost_reason": null})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Won: the reason goes, the close time is new.
    let (status, d) = s.patch(&path, json!({"stage_id": won})).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "won");
    assert_eq!(d["lost_reason"], Value::Null);
    let (_, h) = s.get(&format!("{path}/stage-history")).await;
    let names: Vec<&str> = h["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["to_stage_name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Won", "Lost", "Qualified"]);
    let (_, changes) = s.get(&format!("{path}/history")).await;
    assert!(changes.to_string().contains("lost_reason"), "{changes}");
}

#[tokio::test]
async fn deleting_a_stage_or_pipeline_with_deals_needs_a_target() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let pid = id(&p);
    let proposal = stage_id(&p, "Proposal");
    let meeting = stage_id(&p, "Meeting");
    let d = deal(&s, json!({"title": "In proposal", "stage_id": proposal})).await;
    let trashed = deal(&s, json!({"title": "Trashed", "stage_id": proposal})).await;
    s.delete(&format!("{D}/{}", id(&trashed))).await;
    let keep: Vec<Value> = p["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter(|st| st["id"] != proposal.as_str())
        .map(|st| json!({"id": st["id"], "name": st["name"], "probability": st["probability"], "kind": st["kind"]}))
        .collect();
    let url = format!("/api/v1/orgs/acme/pipelines/{pid}");
    let (status, err) = s.patch(&url, json!({"stages": keep})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["fields"][format!("move_deals.{proposal}")].is_string(),
        "{err}"
    );
    let (_, same) = s.get(&url).await;
    assert_eq!(same["stages"].as_array().map(Vec::len), Some(6));
    let (status, err) = s
        .patch(
            &url,
            json!({"stages": keep, "move_deals": {proposal.clone(): stage_id(&p, "Lost")}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, body) = s
        .patch(
            &url,
            json!({"stages": keep, "move_deals": {proposal.clone(): meeting}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stages"].as_array().map(Vec::len), Some(5));
    let (_, moved) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(moved["stage_id"], json!(meeting));
    let (_, h) = s.get(&format!("{D}/{}/stage-history", id(&d))).await;
    assert_eq!(h["items"][0]["from_stage_name"], "Proposal");
    let (status, restored) = s
        .post(&format!("{D}/{}/restore", id(&trashed)), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["stage_id"], json!(meeting));

    // Reordering and renaming keep ids; a new stage gets one.
    let mut stages: Vec<Value> = body["stages"].as_array().expect("stages").clone();
    stages.swap(0, 1);
    stages[0]["name"] = json!("First call");
    stages.insert(2, json!({"name": "Demo", "probability": 40}));
    let stages: Vec<Value> = stages
        .into_iter()
        .map(|st| {
            let mut o = serde_json::Map::new();
            for k in ["id", "name", "probability", "kind", "rotting_days"] {
                if let Some(v) = st.get(k) {
                    o.insert(k.into(), v.clone());
                }
            }
            Value::Object(o)
        })
        .collect();
    let (status, body) = s.patch(&url, json!({"stages": stages})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "First call",
            "Qualified",
            "Demo",
            "Negotiation",
            "Won",
            "Lost"
        ]
    );
    assert_eq!(body["stages"][0]["id"], json!(meeting));

    // A pipeline with deals goes only with a target; the last one stays.
    let (_, other) = s
        .post(
            "/api/v1/orgs/acme/pipelines",
            json!({"name": "Renewals", "stages": [{"name": "Due"}, {"name": "Renewed", "kind": "won"}]}),
        )
        .await;
    let due = stage_id(&other, "Due");
    let (status, err) = s.delete(&url).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, _) = s.delete(&format!("{url}?move_to={due}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, moved) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(moved["stage_id"], json!(due));
    assert_eq!(moved["pipeline_id"], other["id"]);
    let (status, err) = s
        .delete(&format!("/api/v1/orgs/acme/pipelines/{}", id(&other)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_moves_in_one_column_keep_every_deal_once() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let pid = id(&p);
    let col = stage_id(&p, "Proposal");
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(id(&deal(
            &s,
            json!({"title": format!("D{i}"), "stage_id": col}),
        )
        .await));
    }
    let anchor = ids[0].clone();
    // Every other deal goes right before the same anchor (the gaps run out
    // and the column is renumbered), or to the end, all at once.
    let tasks: Vec<_> = ids
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, d)| {
            let s = s.clone();
            let body = if i % 2 == 0 {
                json!({"stage_id": col, "before_id": anchor})
            } else {
                json!({"stage_id": col})
            };
            let url = format!("{D}/{d}/move");
            tokio::spawn(async move { s.post(&url, body).await })
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let b = board(&s, &pid, &format!("?stage={col}&limit=200")).await;
    let column = column(&b, &col);
    assert_eq!(column["count"], 50);
    let order = card_ids(column);
    let mut sorted = order.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 50, "every deal exactly once");
    let positions: Vec<i64> = column["deals"]
        .as_array()
        .expect("deals")
        .iter()
        .map(|d| d["position"].as_i64().expect("position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    // Before the anchor: exactly the 24 deals moved before it.
    let at = order.iter().position(|d| d == &anchor).expect("anchor");
    assert_eq!(at, 24, "{order:?}");
    // The list sorted by board order agrees with the board.
    let (_, list) = s
        .get(&format!("{D}?stage={col}&sort=position&limit=200"))
        .await;
    assert_eq!(card_ids(&json!({"deals": list["items"]})), order);
}

#[tokio::test]
async fn moves_place_deals_and_refuse_bad_targets() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let col = stage_id(&p, "Meeting");
    let a = id(&deal(&s, json!({"title": "A", "stage_id": col})).await);
    let b = id(&deal(&s, json!({"title": "B", "stage_id": col})).await);
    let c = id(&deal(&s, json!({"title": "C", "stage_id": col})).await);
    // New deals go on top.
    let bd = board(&s, &id(&p), "").await;
    assert_eq!(
        card_ids(column(&bd, &col)),
        [c.clone(), b.clone(), a.clone()]
    );
    let (status, _) = s
        .post(
            &format!("{D}/{c}/move"),
            json!({"stage_id": col, "before_id": a}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let bd = board(&s, &id(&p), "").await;
    assert_eq!(
        card_ids(column(&bd, &col)),
        [b.clone(), c.clone(), a.clone()]
    );
    let bad = [
        (
            json!({"stage_id": col, "before_id": c}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"stage_id": col, "before_id": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"stage_id": stage_id(&p, "Won"), "before_id": a}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"stage_id": "nope"}), StatusCode::NOT_FOUND),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"stage_id": col, "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"stage_id": 5}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, want) in bad {
        let (status, err) = s.post(&format!("{D}/{c}/move"), body.clone()).await;
        assert_eq!(status, want, "{body} → {err}");
    }
    let (status, _) = s
        .post(&format!("{D}/nope/move"), json!({"stage_id": col}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bd = board(&s, &id(&p), "").await;
    assert_eq!(card_ids(column(&bd, &col)), [b, c, a]);
}

#[tokio::test]
async fn pipeline_input_is_checked() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let url = "/api/v1/orgs/acme/pipelines";
    let cases = [
        json!({"name": "", "stages": [{"name": "A"}]}),
        json!({"name": "P", "stages": []}),
        json!({"name": "P", "stages": [{"name": "A", "kind": "won"}]}),
        json!({"name": "P", "stages": [{"name": "A", "probability": 101}]}),
        json!({"name": "P", "stages": [{"name": "A", "probability": -1}]}),
        json!({"name": "P", "stages": [{"name": "A", "rotting_days": 0}]}),
        json!({"name": "P", "stages": [{"name": "A"}, {"name": "a"}]}),
        json!({"name": "P", "stages": [{"name": "A", "kind": "maybe"}]}),
        json!({"name": "P", "stages": [{"name": "A", "id": "x"}]}),
        json!({"name": "P", "stages": (0..31).map(|i| json!({"name": format!("S{i}")})).collect::<Vec<_>>()}),
    ];
    for body in cases {
        let (status, err) = s.post(url, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
    }
    let (_, list) = s.get(url).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let p = pipeline(&s, "acme").await;
    let purl = format!("{url}/{}", id(&p));
    let (status, _) = s
        .patch(&purl, json!({"stages": [{"id": "not-mine", "name": "X"}]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s.patch(&purl, json!({"move_deals": {"x": "y"}})).await;
    assert_eq!(status, StatusCode::OK, "nothing deleted, nothing to move");
    let d = deal(
        &s,
        json!({"title": "Open one", "stage_id": stage_id(&p, "Proposal")}),
    )
    .await;
    // A stage holding deals keeps its kind.
    let stages: Vec<Value> = p["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|st| {
            let kind = if st["name"] == "Proposal" { json!("won") } else { st["kind"].clone() };
            json!({"id": st["id"], "name": st["name"], "kind": kind, "probability": st["probability"]})
        })
        .collect();
    let (status, err) = s.patch(&purl, json!({"stages": stages})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, same) = s.get(&format!("{D}/{}", id(&d))).await;
    assert_eq!(same["status"], "open");
    for bad in ["nope", "../x"] {
        let (status, _) = s.get(&format!("{url}/{bad}/board")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = s.get(&format!("{purl}/board?filter=%7Bbad")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s.get(&format!("{purl}/board?cursor=abc")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s.get(&format!("{purl}/board?limit=0")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = s.get(&format!("{purl}/board?what=1")).await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn forecast_by_month_owner_and_stage() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let today = time::OffsetDateTime::now_utc().date();
    let this_month = format!("{:04}-{:02}", today.year(), today.month() as u8);
    let next = today + time::Duration::days(40);
    let next_month = format!("{:04}-{:02}", next.year(), next.month() as u8);
    let past = today - time::Duration::days(3);
    deal(
        &s,
        json!({"title": "Now", "amount": 1000, "close_date": today.to_string(),
        "stage_id": stage_id(&p, "Proposal"), "owner_id": s.user_id}),
    )
    .await;
    deal(
        &s,
        json!({"title": "Later", "amount": 400, "close_date": next.to_string(),
        "stage_id": stage_id(&p, "Negotiation")}),
    )
    .await;
    deal(
        &s,
        json!({"title": "Late", "amount": 7, "currency": "EUR",
        "close_date": past.to_string(), "stage_id": stage_id(&p, "Qualified")}),
    )
    .await;
    deal(
        &s,
        json!({"title": "Far", "amount": 9, "close_date": "2999-01-01"}),
    )
    .await;
    deal(
        &s,
        json!({"title": "Won it", "amount": 250, "stage_id": stage_id(&p, "Won")}),
    )
    .await;
    deal(
        &s,
        json!({"title": "Lost it", "amount": 1, "stage_id": stage_id(&p, "Lost"),
        "lost_reason": "Price"}),
    )
    .await;

    let (status, f) = s
        .get(&format!("{D}/forecast?pipeline={}&by=month", id(&p)))
        .await;
    assert_eq!(status, StatusCode::OK, "{f}");
    let rows = f["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["key"], "overdue");
    let row = |k: &str| rows.iter().find(|r| r["key"] == k).expect("row").clone();
    assert_eq!(
        row("overdue")["amounts"],
        json!([{"currency": "EUR", "open": 7, "weighted": 1, "won": 0}])
    );
    assert_eq!(
        row(&this_month)["amounts"],
        json!([{"currency": "USD", "open": 1000, "weighted": 500, "won": 250}])
    );
    assert_eq!(
        row(&next_month)["amounts"],
        json!([{"currency": "USD", "open": 400, "weighted": 300, "won": 0}])
    );
    assert_eq!(
        f["won_this_month"],
        json!([{"currency": "USD", "amount": 250}])
    );
    assert_eq!(f["won_last_month"], json!([]));
    assert_eq!(
        f["win_rate_90_days"],
        json!({"won": 1, "lost": 1, "percent": 50})
    );

    let (_, f) = s.get(&format!("{D}/forecast?by=owner")).await;
    let mine = f["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["key"] == json!(s.user_id))
        .expect("my row")
        .clone();
    assert_eq!(mine["deals"], 1);
    // The forecast is kept between writes: the next write shows at once.
    deal(
        &s,
        json!({"title": "Another", "amount": 5, "close_date": today.to_string(),
        "owner_id": s.user_id}),
    )
    .await;
    let (_, f) = s.get(&format!("{D}/forecast?by=owner")).await;
    let mine = f["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["key"] == json!(s.user_id))
        .expect("my row")
        .clone();
    assert_eq!(mine["deals"], 2, "{f}");
    let (_, f) = s
        .get(&format!("{D}/forecast?by=stage&pipeline={}", id(&p)))
        .await;
    let labels: Vec<&str> = f["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["label"].as_str().expect("label"))
        .collect();
    assert_eq!(
        labels,
        [
            "Qualified",
            "Meeting",
            "Proposal",
            "Negotiation",
            "Won",
            "Lost"
        ]
    );
    for bad in ["by=year", "pipeline=nope", "x=1"] {
        let (status, _) = s.get(&format!("{D}/forecast?{bad}")).await;
        assert!(status.is_client_error(), "{bad}: {status}");
    }
}

#[tokio::test]
async fn contacts_and_companies_list_their_deals_and_search_finds_them() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let (_, company) = s
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Quuxotic Ltd"}),
        )
        .await;
    let (_, contact) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Zebulon"))
        .await;
    let won = deal(
        &s,
        json!({"title": "Old win", "company_id": company["id"], "stage_id": stage_id(&p, "Won"),
               "contacts": [{"contact_id": contact["id"], "role": "decision_maker"}]}),
    )
    .await;
    let open = deal(
        &s,
        json!({"title": "Expansion", "company_id": company["id"], "close_date": "2030-01-01",
               "contacts": [{"contact_id": contact["id"], "role": "champion"}]}),
    )
    .await;
    assert_eq!(open["contacts"][0]["role"], "champion");
    assert_eq!(open["contacts"][0]["name"], json!(contact["name"]));
    assert_eq!(open["company"]["name"], "Quuxotic Ltd");
    for path in [
        format!("/api/v1/orgs/acme/companies/{}/deals", id(&company)),
        format!("/api/v1/orgs/acme/contacts/{}/deals", id(&contact)),
    ] {
        let (status, list) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(
            card_ids(&json!({"deals": list["items"]})),
            [id(&open), id(&won)],
            "open first"
        );
    }
    let (status, _) = s.get("/api/v1/orgs/acme/companies/nope/deals").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Search finds deals by title, company and contact.
    for q in ["Expansion", "Quuxotic", "Zebulon"] {
        let mut found = false;
        for _ in 0..100 {
            let (_, r) = s
                .get(&format!("/api/v1/orgs/acme/search?q={q}&types=deal"))
                .await;
            if r.to_string().contains(&id(&open)) {
                found = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(found, "search for {q} finds the deal");
    }
}

#[tokio::test]
async fn another_orgs_pipelines_stages_and_deals_are_404() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    let pa = pipeline(&a, "acme").await;
    let da = deal(&a, json!({"title": "A's deal"})).await;
    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = b.expect("session");
    let pb = pipeline(&b, "bobco").await;
    assert_ne!(pa["id"], pb["id"]);
    let (_, db) = b
        .post("/api/v1/orgs/bobco/deals", json!({"title": "B's deal"}))
        .await;
    let a_stage = stage_id(&pa, "Meeting");
    let o = "/api/v1/orgs/bobco";
    let calls = [
        (Method::GET, format!("{o}/pipelines/{}", id(&pa)), None),
        (
            Method::PATCH,
            format!("{o}/pipelines/{}", id(&pa)),
            Some(json!({"name": "X"})),
        ),
        (Method::DELETE, format!("{o}/pipelines/{}", id(&pa)), None),
        (
            Method::GET,
            format!("{o}/pipelines/{}/board", id(&pa)),
            None,
        ),
        (Method::GET, format!("{o}/deals/{}", id(&da)), None),
        (
            Method::POST,
            format!("{o}/deals/{}/move", id(&da)),
            Some(json!({"stage_id": stage_id(&pb, "Meeting")})),
        ),
        (
            Method::GET,
            format!("{o}/deals/{}/stage-history", id(&da)),
            None,
        ),
        (
            Method::POST,
            format!("{o}/deals/{}/move", id(&db)),
            Some(json!({"stage_id": a_stage})),
        ),
        (
            Method::GET,
            format!("{o}/deals/forecast?pipeline={}", id(&pa)),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/orgs/acme/pipelines/{}", id(&pa)),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/acme/deals/{}/move", id(&da)),
            Some(json!({"stage_id": a_stage})),
        ),
    ];
    for (method, path, body) in calls {
        let (status, resp) = b.send(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
        assert!(!resp.to_string().contains("A's deal"));
    }
    // A's stage in B's body is no stage at all.
    let (status, _) = b
        .post(
            &format!("{o}/deals"),
            json!({"title": "x", "stage_id": a_stage}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, still) = a.get(&format!("{D}/{}", id(&da))).await;
    assert_eq!(still["stage"]["name"], "Qualified");
}

#[tokio::test]
async fn roles_for_every_deal_route() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let p = pipeline(&owner, "acme").await;
    let d = deal(&owner, json!({"title": "Shared"})).await;
    let viewer = app
        .add_member(&owner, "acme", "v@example.com", "viewer")
        .await;
    let member = app
        .add_member(&owner, "acme", "m@example.com", "member")
        .await;
    let admin = app
        .add_member(&owner, "acme", "a@example.com", "admin")
        .await;
    let pid = id(&p);
    let purl = format!("/api/v1/orgs/acme/pipelines/{pid}");
    let new_pipeline = json!({"name": "Tmp", "stages": [{"name": "S"}]});
    // Reads: everyone.
    for s in [&viewer, &member, &admin] {
        for path in [
            "/api/v1/orgs/acme/pipelines".to_string(),
            purl.clone(),
            format!("{purl}/board"),
            format!("{D}/forecast"),
            format!("{D}/{}/stage-history", id(&d)),
        ] {
            assert_eq!(s.get(&path).await.0, StatusCode::OK, "{path}");
        }
    }
    // Deal writes: member+.
    let mv = json!({"stage_id": stage_id(&p, "Meeting")});
    let (status, _) = viewer
        .post(&format!("{D}/{}/move", id(&d)), mv.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = viewer.post(D, json!({"title": "v"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = member.post(&format!("{D}/{}/move", id(&d)), mv).await;
    assert_eq!(status, StatusCode::OK);
    // Pipeline writes: admin+.
    for s in [&viewer, &member] {
        assert_eq!(
            s.post("/api/v1/orgs/acme/pipelines", new_pipeline.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            s.patch(&purl, json!({"name": "X"})).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(s.delete(&purl).await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            s.patch("/api/v1/orgs/acme", json!({"default_currency": "EUR"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
    let (status, created) = admin
        .post("/api/v1/orgs/acme/pipelines", new_pipeline)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        admin.patch(&purl, json!({"name": "Sales team"})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .delete(&format!("/api/v1/orgs/acme/pipelines/{}", id(&created)))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // An API key acts with its role.
    let key = app.api_key(&owner, "acme", "viewer").await;
    assert_eq!(key.get(&format!("{purl}/board")).await.0, StatusCode::OK);
    assert_eq!(
        key.post(
            &format!("{D}/{}/move", id(&d)),
            json!({"stage_id": stage_id(&p, "Proposal")})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_deal_whose_company_is_in_the_trash_can_still_be_changed() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Gone Soon"}))
        .await;
    let d = deal(&s, json!({"title": "Linked", "company_id": co["id"]})).await;
    s.delete(&format!("/api/v1/orgs/acme/companies/{}", id(&co)))
        .await;
    let (status, body) = s
        .patch(&format!("{D}/{}", id(&d)), json!({"amount": 5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["company"], Value::Null);
    // Another trashed company cannot be linked anew.
    let (_, other) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Also gone"}))
        .await;
    s.delete(&format!("/api/v1/orgs/acme/companies/{}", id(&other)))
        .await;
    let (status, _) = s
        .patch(
            &format!("{D}/{}", id(&d)),
            json!({"company_id": other["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A PATCH without pipeline_id keeps the deal where it is.
    let (status, body) = s
        .patch(&format!("{D}/{}", id(&d)), json!({"pipeline_id": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stage_id"], d["stage_id"]);
}

/// A deal's stage moves are on its own timeline and on those of its
/// company and contacts; `types=deals` shows only them.
#[tokio::test]
async fn stage_moves_show_on_the_deal_its_company_and_contacts_timelines() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let p = pipeline(&s, "acme").await;
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Globex"}))
        .await;
    let (_, ada) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let d = deal(
        &s,
        json!({"title": "Globex renewal", "amount": 500000, "company_id": id(&co),
               "contacts": [{"contact_id": id(&ada), "role": "champion"}]}),
    )
    .await;
    let (status, body) = s
        .post(
            &format!("{D}/{}/move", id(&d)),
            json!({"stage_id": stage_id(&p, "Proposal")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in [
        format!("{D}/{}/timeline", id(&d)),
        format!("/api/v1/orgs/acme/companies/{}/timeline", id(&co)),
        format!("/api/v1/orgs/acme/contacts/{}/timeline", id(&ada)),
    ] {
        let (status, page) = s.get(&format!("{path}?types=deals")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let items = page["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{path}: {page}");
        assert_eq!(items[0]["type"], "deals");
        assert_eq!(items[0]["item"]["deal"]["name"], "Globex renewal");
        assert_eq!(items[0]["item"]["from"], "Qualified");
        assert_eq!(items[0]["item"]["to"], "Proposal");
        assert_eq!(items[0]["actor"], s.user_id.as_str());
        // In the whole timeline too, beside the record's own history.
        let (_, all) = s.get(&path).await;
        assert!(
            all["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|e| e["type"] == "deals"),
            "{path}: {all}"
        );
    }
    // Another contact's timeline has none of it.
    let (_, bob) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Bob"))
        .await;
    let (_, page) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{}/timeline?types=deals",
            id(&bob)
        ))
        .await;
    assert_eq!(page["items"], json!([]));
}
