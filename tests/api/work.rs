//! Notes, tasks, activities and the record timeline at the HTTP boundary:
//! sanitizing against an XSS corpus, links to records of any kind, mentions,
//! task shortcuts and repeats, timeline order, paging, grouping and names.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::xss_corpus::{PAYLOADS, unsafe_parts};

const O: &str = "/api/v1/orgs/acme";

async fn contact(s: &Session, first: &str) -> String {
    let (status, c) = s
        .post(&format!("{O}/contacts"), sample_contact(first))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_str().expect("id").to_string()
}

async fn company(s: &Session, name: &str) -> String {
    let (status, c) = s
        .post(&format!("{O}/companies"), json!({"name": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c["id"].as_str().expect("id").to_string()
}

fn link(kind: &str, id: &str) -> Value {
    json!([{"kind": kind, "id": id}])
}

#[tokio::test]
async fn note_bodies_keep_nothing_of_the_xss_corpus() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let c = contact(&s, "Target").await;
    assert!(PAYLOADS.len() >= 40);
    let mut stored = 0;
    for p in PAYLOADS {
        let body = format!("<p>before</p>{p}<p>after</p>");
        let (status, note) = s
            .post(
                &format!("{O}/notes"),
                json!({"body": body, "links": link("contact", &c)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{p}: {note}");
        stored += 1;
        let html = note["body"].as_str().expect("body");
        let bad = unsafe_parts(html);
        assert!(bad.is_empty(), "{p} → {html}: {bad:?}");
        // What is stored is what is read back.
        let (_, again) = s
            .get(&format!("{O}/notes/{}", note["id"].as_str().expect("id")))
            .await;
        assert_eq!(again["body"], note["body"]);
        assert!(
            !note["text"].as_str().expect("text").contains("__xss=1;"),
            "{note}"
        );
    }
    assert_eq!(stored, PAYLOADS.len());
    // A body past what is validated where the request is served (8 KiB of
    // text) is sanitized on the blocking pool: the same answer, as a create
    // and as a PATCH that names another field (the whole note is checked).
    let long: String = PAYLOADS
        .iter()
        .map(|p| format!("<p>before</p>{p}"))
        .collect::<String>()
        .repeat(8);
    assert!(long.len() > 8 << 10, "{}", long.len());
    let (status, note) = s.post(&format!("{O}/notes"), json!({"body": long})).await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let html = note["body"].as_str().expect("body").to_string();
    assert!(unsafe_parts(&html).is_empty(), "{html}");
    let id = note["id"].as_str().expect("id");
    let (status, pinned) = s
        .patch(&format!("{O}/notes/{id}"), json!({"pinned": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{pinned}");
    assert_eq!(pinned["pinned"], true);
    assert_eq!(pinned["body"], html.as_str());
    // The checker itself catches what it must.
    assert!(!unsafe_parts("<img src=x onerror=y>").is_empty());
    assert!(!unsafe_parts("<a href=\"javascript:x\">").is_empty());
    assert!(!unsafe_parts("<p style=\"x\">").is_empty());
    assert!(
        unsafe_parts("<p><a href=\"https://x\" rel=\"noopener noreferrer\">x</a></p>").is_empty()
    );
    // Formatting survives; links get rel.
    let (_, n) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<h2>Call</h2><p><strong>b</strong> <em>i</em> <a href=\"https://example.com\">x</a></p><ul><li>one</li></ul>"}),
        )
        .await;
    assert_eq!(
        n["body"],
        "<h2>Call</h2><p><strong>b</strong> <em>i</em> <a href=\"https://example.com\" rel=\"noopener noreferrer\">x</a></p><ul><li>one</li></ul>"
    );
    assert_eq!(n["text"], "Call\nb i x\none");
}

#[tokio::test]
async fn notes_link_to_records_mention_members_and_keep_their_editor() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    let viewer = app
        .add_member(&s, "acme", "vic@example.com", "viewer")
        .await;
    let c = contact(&s, "Ann").await;
    let co = company(&s, "Globex").await;
    let body = format!(
        "<p>Ask <span data-member=\"{}\">@Mia</span> about it</p>",
        mia.user_id
    );
    let (status, note) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": body, "links": [{"kind": "contact", "id": c}, {"kind": "company", "id": co}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["mentions"], json!([mia.user_id]));
    let names: std::collections::BTreeSet<&str> = note["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(names, ["Ann Lovelace", "Globex"].into_iter().collect());
    let id = note["id"].as_str().expect("id").to_string();
    // Mentioning someone who is not a member is refused, nothing written.
    let (status, err) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<p><span data-member=\"01900000-0000-7000-8000-000000000000\">@X</span></p>"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"]["fields"]["body"].is_string(), "{err}");
    // Links to a missing record, an unknown kind, or another org's record: 422.
    for links in [
        link("contact", "01900000-0000-7000-8000-000000000000"),
        link("spaceship", &c),
        link("company", &c),
    ] {
        let (status, err) = s
            .post(
                &format!("{O}/notes"),
                json!({"body": "<p>x</p>", "links": links}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{links}: {err}");
        assert!(err["error"]["fields"]["links"].is_string(), "{err}");
    }
    // Edited by another member: who and when are kept, and the history has it.
    let (status, edited) = mia
        .patch(
            &format!("{O}/notes/{id}"),
            json!({"body": "<p>Edited</p>", "pinned": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["updated_by"], json!(mia.user_id));
    assert_eq!(edited["pinned"], true);
    assert_eq!(
        edited["links"].as_array().map(Vec::len),
        Some(2),
        "links kept"
    );
    // Listed by record; viewers read, do not write.
    let (_, page) = viewer.get(&format!("{O}/notes?record={c}")).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(
        viewer
            .post(&format!("{O}/notes"), json!({"body": "<p>x</p>"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Found by search (the indexer runs after the write).
    let mut found = false;
    for _ in 0..50 {
        let (_, hits) = s.get(&format!("{O}/search?q=edited")).await;
        if hits.to_string().contains(&id) {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "a note is found by its text");
}

#[tokio::test]
async fn tasks_filter_by_assignee_and_due_and_complete_with_repeats() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    let viewer = app
        .add_member(&s, "acme", "vic@example.com", "viewer")
        .await;
    let c = contact(&s, "Ann").await;
    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| (today + time::Duration::days(n)).to_string();
    let mut ids = std::collections::HashMap::new();
    for (name, due, who) in [
        ("overdue", Some(day(-2)), &s),
        ("today", Some(day(0)), &s),
        ("later", Some(day(30)), &s),
        ("none", None, &s),
        ("mias", Some(day(0)), &mia),
    ] {
        let (status, t) = s
            .post(
                &format!("{O}/tasks"),
                json!({"title": name, "due": due, "assignee_id": who.user_id,
                       "priority": "high", "links": link("contact", &c)}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        ids.insert(name, t["id"].as_str().expect("id").to_string());
    }
    let titles = |page: &Value| -> Vec<String> {
        let mut t: Vec<String> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["title"].as_str().expect("title").to_string())
            .collect();
        t.sort();
        t
    };
    let (_, mine) = s.get(&format!("{O}/tasks?assignee=me&status=open")).await;
    assert_eq!(titles(&mine), ["later", "none", "overdue", "today"]);
    let (_, theirs) = mia.get(&format!("{O}/tasks?assignee=me")).await;
    assert_eq!(titles(&theirs), ["mias"]);
    for (due, want) in [
        ("overdue", vec!["overdue"]),
        ("today", vec!["today"]),
        ("later", vec!["later"]),
        ("none", vec!["none"]),
    ] {
        let (status, page) = s
            .get(&format!("{O}/tasks?assignee=me&due={due}&tz=UTC"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(titles(&page), want, "due={due}");
    }
    let (status, err) = s.get(&format!("{O}/tasks?due=yesterday")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = s.get(&format!("{O}/tasks?due=today&tz=Mars/Olympus")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // An assignee who is not a member is refused.
    let (status, err) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "x", "assignee_id": "nobody"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // Complete and reopen; viewers may not.
    let t = &ids["today"];
    assert_eq!(
        viewer
            .post(&format!("{O}/tasks/{t}/complete"), json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, done) = s.post(&format!("{O}/tasks/{t}/complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "done");
    assert_eq!(done["done_by"], json!(s.user_id));
    let (_, open_today) = s
        .get(&format!("{O}/tasks?assignee=me&due=today&status=open"))
        .await;
    assert!(titles(&open_today).is_empty());
    let (_, reopened) = s.post(&format!("{O}/tasks/{t}/reopen"), json!({})).await;
    assert_eq!(reopened["status"], "open");
    assert_eq!(reopened["done_at"], Value::Null);
    // A monthly task on the 31st: completing it creates the next, once.
    let (status, r) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Invoice", "due": "2027-01-31", "repeat": {"every": "monthly"},
                   "links": link("contact", &c)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["repeat"]["day_of_month"], 31);
    let rid = r["id"].as_str().expect("id");
    s.post(&format!("{O}/tasks/{rid}/complete"), json!({}))
        .await;
    s.post(&format!("{O}/tasks/{rid}/reopen"), json!({})).await;
    s.post(&format!("{O}/tasks/{rid}/complete"), json!({}))
        .await;
    let next = get_until(&s, &format!("{O}/tasks?q=invoice&status=open"), |p| {
        p["items"].as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let items = next["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "one next occurrence: {next}");
    assert_eq!(items[0]["due"], "2027-02-28");
    assert_eq!(items[0]["repeat_of"], json!(rid));
    assert_eq!(items[0]["links"][0]["id"], json!(c));
    // A repeat without a due date, a bad due: 422.
    for body in [
        json!({"title": "x", "repeat": {"every": "daily"}}),
        json!({"title": "x", "due": "tomorrow"}),
        json!({"title": "x", "due": "2027-01-01", "repeat": {"every": "daily", "days": ["mon"]}}),
    ] {
        let (status, err) = s.post(&format!("{O}/tasks"), body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
    }
    // Another organization's task is 404.
    let (_, _, bob) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    let bob = bob.expect("bob");
    for path in [
        format!("{O}/tasks/{t}/complete"),
        format!("/api/v1/orgs/bobco/tasks/{t}/complete"),
    ] {
        assert_eq!(
            bob.post(&path, json!({})).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

async fn timeline(s: &Session, path: &str) -> Value {
    let (status, t) = s.get(path).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    t
}

fn events(t: &Value) -> Vec<String> {
    t["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap_or(""),
                e["event"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn the_timeline_merges_groups_and_names_references() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let s = app.setup_owner().await;
    let globex = company(&s, "Globex").await;
    let initech = company(&s, "Initech").await;
    let c = contact(&s, "Ann").await;
    let one = format!("{O}/contacts/{c}");
    // Three quick edits by one person are one entry; the company by name.
    s.patch(&one, json!({"company_id": globex})).await;
    s.patch(&one, json!({"job_title": "CTO"})).await;
    s.patch(&one, json!({"company_id": initech})).await;
    let (_, note) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<p>Met <b>Ann</b></p>", "links": link("contact", &c)}),
        )
        .await;
    let (_, call) = s
        .post(
            &format!("{O}/activities"),
            json!({"type": "call", "outcome": "connected", "duration_min": 5,
                   "body": "<p>Good call</p>", "links": link("contact", &c)}),
        )
        .await;
    assert_eq!(call["type"], "call", "{call}");
    let (_, task) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Send offer", "links": link("contact", &c)}),
        )
        .await;
    let tid = task["id"].as_str().expect("id");
    s.post(&format!("{O}/tasks/{tid}/complete"), json!({}))
        .await;
    let t = timeline(&s, &format!("{one}/timeline")).await;
    assert_eq!(
        events(&t),
        [
            "tasks:completed",
            "tasks:created",
            "activities:logged",
            "notes:created",
            "changes:updated",
            "changes:created"
        ],
        "{t}"
    );
    let edits = &t["items"][4]["item"];
    assert_eq!(edits["edits"], 3, "{edits}");
    assert_eq!(edits["changes"]["company_id"]["before"], Value::Null);
    assert_eq!(edits["changes"]["company_id"]["after"]["name"], "Initech");
    assert_eq!(edits["changes"]["company_id"]["label"], "Company");
    assert_eq!(edits["changes"]["job_title"]["after"], "CTO");
    assert_eq!(t["items"][3]["item"]["id"], note["id"]);
    // Filters by type.
    let t = timeline(&s, &format!("{one}/timeline?types=notes,activities")).await;
    assert_eq!(events(&t), ["activities:logged", "notes:created"]);
    let (status, err) = s.get(&format!("{one}/timeline?types=gossip")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // A pinned note stays on top, out of the stream.
    let nid = note["id"].as_str().expect("id");
    s.patch(&format!("{O}/notes/{nid}"), json!({"pinned": true}))
        .await;
    let t = timeline(&s, &format!("{one}/timeline?types=notes")).await;
    assert_eq!(t["pinned"][0]["item"]["id"], note["id"], "{t}");
    assert!(t["items"].as_array().expect("items").is_empty(), "{t}");
    // A deleted linked record does not break the page; it is marked.
    let (_, n2) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<p>Both</p>", "links": [{"kind": "contact", "id": c}, {"kind": "company", "id": globex}]}),
        )
        .await;
    assert_eq!(
        s.delete(&format!("{O}/companies/{globex}")).await.0,
        StatusCode::NO_CONTENT
    );
    let t = timeline(&s, &format!("{one}/timeline?types=notes")).await;
    let shown = &t["items"][0]["item"];
    assert_eq!(shown["id"], n2["id"], "{t}");
    let gone = shown["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["kind"] == "company")
        .expect("company link");
    assert_eq!(gone["deleted"], true, "{shown}");
    assert_eq!(gone["name"], "Globex");
    // A company's timeline with its contacts' entries.
    let t = timeline(
        &s,
        &format!("{O}/companies/{initech}/timeline?include=related&types=notes"),
    )
    .await;
    assert_eq!(t["items"][0]["item"]["id"], n2["id"], "{t}");
    let t = timeline(&s, &format!("{O}/companies/{initech}/timeline?types=notes")).await;
    assert!(t["items"].as_array().expect("items").is_empty(), "{t}");
    // Another org's record: 404; a deleted note leaves the timeline.
    assert_eq!(
        s.delete(&format!("{O}/notes/{}", n2["id"].as_str().expect("id")))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let t = timeline(&s, &format!("{one}/timeline?types=notes")).await;
    assert!(t["items"].as_array().expect("items").is_empty(), "{t}");
    let (_, _, bob) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    let bob = bob.expect("bob");
    assert_eq!(
        bob.get(&format!("{one}/timeline")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.get(&format!("/api/v1/orgs/bobco/contacts/{c}/timeline"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn timeline_pages_are_stable_with_equal_times() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let c = contact(&s, "Ann").await;
    let mut want = std::collections::BTreeSet::new();
    for n in 0..23 {
        let (_, note) = s
            .post(
                &format!("{O}/notes"),
                json!({"body": format!("<p>n{n}</p>"), "links": link("contact", &c)}),
            )
            .await;
        want.insert(note["id"].as_str().expect("id").to_string());
    }
    // Every note and history row at one instant: only keys order them.
    let org_id: String = app
        .state
        .control
        .read(|c| Ok(c.query_row("SELECT id FROM orgs WHERE slug = 'acme'", [], |r| r.get(0))?))
        .await
        .expect("org");
    let tenant = app.state.tenants.get(&org_id).await.expect("tenant");
    tenant
        .write(|tx| {
            tx.execute(
                "UPDATE notes SET created_at = '2026-01-01T00:00:00.000000Z'",
                [],
            )?;
            tx.execute(
                "UPDATE record_history SET at = '2026-01-01T00:00:00.000000Z'",
                [],
            )?;
            Ok(())
        })
        .await
        .expect("same time");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c2) => format!("{O}/contacts/{c}/timeline?limit=4&cursor={c2}"),
            None => format!("{O}/contacts/{c}/timeline?limit=4"),
        };
        let t = timeline(&s, &path).await;
        for e in t["items"].as_array().expect("items") {
            seen.push(e["key"].as_str().expect("key").to_string());
        }
        match t["next_cursor"].as_str() {
            Some(c2) => cursor = Some(c2.to_string()),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice: {seen:?}");
    assert_eq!(
        seen.len(),
        24,
        "23 notes and the contact's creation: {seen:?}"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first by key at equal times");
    let (status, _) = s
        .get(&format!("{O}/contacts/{c}/timeline?cursor=nonsense!"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn set_zone(s: &Session, zone: &str) {
    let (status, body) = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/account/notifications",
            Some(json!({"time_zone": zone, "events": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `due=` groups days where the caller lives: their account's time zone
/// (an API key's: its owner's), `tz=` overriding it. Kiritimati (UTC+14)
/// and UTC-12 are always on different dates, whatever the time of day.
#[tokio::test]
async fn task_days_begin_in_the_callers_time_zone() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    set_zone(&s, "Pacific/Kiritimati").await;
    set_zone(&mia, "Etc/GMT+12").await;
    // Not within moments of a midnight of either zone (10:00 and 12:00 UTC).
    loop {
        let t = time::OffsetDateTime::now_utc();
        let secs = i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second());
        if [36_000, 43_200].iter().all(|m| (secs - m).abs() > 20) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
    let now = time::OffsetDateTime::now_utc();
    let kiritimati = (now + time::Duration::hours(14)).date().to_string();
    let minus12 = (now - time::Duration::hours(12)).date().to_string();
    for (title, due, who) in [
        ("owner-k", &kiritimati, &s),
        ("owner-m", &minus12, &s),
        ("mia-k", &kiritimati, &mia),
        ("mia-m", &minus12, &mia),
    ] {
        let (status, t) = s
            .post(
                &format!("{O}/tasks"),
                json!({"title": title, "due": due, "assignee_id": who.user_id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
    }
    let titles = |page: &Value| -> Vec<String> {
        let mut t: Vec<String> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["title"].as_str().expect("title").to_string())
            .collect();
        t.sort();
        t
    };
    let list = |who: &Session, due: &str, tz: Option<&str>| {
        let mut q = vec![("assignee", "me".to_string()), ("due", due.to_string())];
        if let Some(z) = tz {
            q.push(("tz", z.to_string()));
        }
        let who = who.clone();
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, page) = who.get_query(&format!("{O}/tasks"), &q).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            page
        }
    };
    // The owner's today is Kiritimati's; Mia's date is already past there.
    assert_eq!(titles(&list(&s, "today", None).await), ["owner-k"]);
    assert_eq!(titles(&list(&s, "overdue", None).await), ["owner-m"]);
    // Mia's today is UTC-12's; Kiritimati's date is still ahead of her.
    assert_eq!(titles(&list(&mia, "today", None).await), ["mia-m"]);
    assert!(titles(&list(&mia, "overdue", None).await).is_empty());
    let ahead = [
        titles(&list(&mia, "this_week", None).await),
        titles(&list(&mia, "later", None).await),
    ]
    .concat();
    assert_eq!(ahead, ["mia-k"]);
    // `tz=` overrides the account's zone.
    assert_eq!(
        titles(&list(&mia, "today", Some("Pacific/Kiritimati")).await),
        ["mia-k"]
    );
    assert_eq!(
        titles(&list(&mia, "overdue", Some("Pacific/Kiritimati")).await),
        ["mia-m"]
    );
    // An API key lists by its owner's zone.
    let key = app.api_key(&s, "acme", "member").await;
    let (status, page) = key.get(&format!("{O}/tasks?assignee=me&due=today")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(titles(&page), ["owner-k"]);
    // Counting agrees with listing.
    let (_, n) = mia
        .get(&format!("{O}/tasks/count?assignee=me&due=today"))
        .await;
    assert_eq!(n["count"], 1, "{n}");
}

/// A timed weekly task at 09:00 in Berlin comes back at 09:00 in Berlin
/// after the clocks change (08:00 UTC in winter, 07:00 UTC in summer); an
/// assignee without a zone keeps the UTC time of day.
#[tokio::test]
async fn timed_repeats_keep_the_assignees_local_time_across_daylight_saving() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    let vic = app
        .add_member(&s, "acme", "vic@example.com", "member")
        .await;
    set_zone(&mia, "Europe/Berlin").await;
    let mut next_of = std::collections::HashMap::new();
    for (title, who, due) in [
        ("berlin spring", &mia, "2026-03-23T09:00:00+01:00"),
        ("berlin autumn", &mia, "2026-10-19T09:00:00+02:00"),
        ("utc standup", &vic, "2026-03-23T08:00:00Z"),
    ] {
        let (status, t) = s
            .post(
                &format!("{O}/tasks"),
                json!({"title": title, "due": due,
                       "assignee_id": who.user_id, "repeat": {"every": "weekly"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        let id = t["id"].as_str().expect("id").to_string();
        let (status, _) = s.post(&format!("{O}/tasks/{id}/complete"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        // The next one, found by what it repeats (a search would wait for
        // the index to catch up).
        let (_, page) = s
            .get_query(&format!("{O}/tasks"), &[("status", "open")])
            .await;
        let next: Vec<&Value> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|t| t["repeat_of"] == json!(id))
            .collect();
        assert_eq!(next.len(), 1, "{page}");
        assert_eq!(next[0]["title"], title);
        next_of.insert(title, next[0]["due"].clone());
    }
    assert_eq!(next_of["berlin spring"], "2026-03-30T07:00:00.000000Z");
    assert_eq!(next_of["berlin autumn"], "2026-10-26T08:00:00.000000Z");
    assert_eq!(next_of["utc standup"], "2026-03-30T08:00:00.000000Z");
}

/// The timeline reads times copied onto the link rows: moving an activity's
/// time moves its entry, reopening a task takes its "completed" entry away,
/// and a trashed note leaves the page.
#[tokio::test]
async fn timeline_entries_follow_their_items_times() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let c = contact(&s, "Ann").await;
    let one = format!("{O}/contacts/{c}");
    let (_, call) = s
        .post(
            &format!("{O}/activities"),
            json!({"type": "call", "occurred_at": "2020-01-01T10:00:00Z",
                   "links": link("contact", &c)}),
        )
        .await;
    let aid = call["id"].as_str().expect("id").to_string();
    let (_, note) = s
        .post(
            &format!("{O}/notes"),
            json!({"body": "<p>Hi</p>", "links": link("contact", &c)}),
        )
        .await;
    let (_, task) = s
        .post(
            &format!("{O}/tasks"),
            json!({"title": "Follow up", "links": link("contact", &c)}),
        )
        .await;
    let tid = task["id"].as_str().expect("id").to_string();
    let types = "types=notes,tasks,activities";
    let t = timeline(&s, &format!("{one}/timeline?{types}")).await;
    assert_eq!(
        events(&t),
        ["tasks:created", "notes:created", "activities:logged"],
        "{t}"
    );
    // The call moved to the future is the newest entry.
    let (status, _) = s
        .patch(
            &format!("{O}/activities/{aid}"),
            json!({"occurred_at": "2099-01-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.post(&format!("{O}/tasks/{tid}/complete"), json!({}))
        .await;
    let t = timeline(&s, &format!("{one}/timeline?{types}")).await;
    assert_eq!(
        events(&t),
        [
            "activities:logged",
            "tasks:completed",
            "tasks:created",
            "notes:created"
        ],
        "{t}"
    );
    assert_eq!(t["items"][0]["at"], "2099-01-01T10:00:00.000000Z");
    // Reopened: no longer completed. Trashed: gone; restored: back.
    s.post(&format!("{O}/tasks/{tid}/reopen"), json!({})).await;
    let nid = note["id"].as_str().expect("id");
    assert_eq!(
        s.delete(&format!("{O}/notes/{nid}")).await.0,
        StatusCode::NO_CONTENT
    );
    let t = timeline(&s, &format!("{one}/timeline?{types}")).await;
    assert_eq!(events(&t), ["activities:logged", "tasks:created"], "{t}");
    s.post(&format!("{O}/notes/{nid}/restore"), json!({})).await;
    let t = timeline(&s, &format!("{one}/timeline?{types}&limit=1")).await;
    assert_eq!(events(&t), ["activities:logged"], "{t}");
    let cursor = t["next_cursor"].as_str().expect("cursor").to_string();
    let (_, rest) = s
        .get_query(
            &format!("{one}/timeline"),
            &[("types", "notes,tasks,activities"), ("cursor", &cursor)],
        )
        .await;
    assert_eq!(events(&rest), ["tasks:created", "notes:created"], "{rest}");
}
