use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn titles(s: &Session, org: &str, q: &str) -> Vec<String> {
    let (status, body) = s
        .get(&format!("/api/v1/orgs/{org}/search?q={}", urlencode(q)))
        .await;
    assert_eq!(status, StatusCode::OK, "{q}: {body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn urlencode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// Polls until `check` holds (the index follows the database within a second
/// or so); returns how long it took.
async fn eventually(
    s: &Session,
    org: &str,
    q: &str,
    check: impl Fn(&[String]) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let found = titles(s, org, q).await;
        if check(&found) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{q}: still {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn seed(s: &Session) {
    let (_, globex) = s
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Globex", "domain": "globex.example", "industry": "Energy"}),
        )
        .await;
    let (_, initech) = s
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Initech", "domain": "initech.example", "phone": "+44 20 7946 0958"}),
        )
        .await;
    for c in [
        json!({"first_name": "Ada", "last_name": "Lovelace", "company_id": globex["id"],
               "emails": [{"email": "ada.lovelace@globex.example"}], "phones": [{"phone": "+1 415 555 0132"}]}),
        json!({"first_name": "Ada", "last_name": "Byron", "emails": [{"email": "byron@poets.example"}]}),
        json!({"first_name": "José", "last_name": "Álvarez", "company_id": initech["id"], "job_title": "Engineer"}),
        json!({"first_name": "Grace", "last_name": "Hopper", "phones": [{"phone": "+49 30 901820"}]}),
    ] {
        let (status, body) = s.post("/api/v1/orgs/acme/contacts", c).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn finds_records_the_way_people_type() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    seed(&s).await;
    eventually(&s, "acme", "grace", |f| f.len() == 1).await;
    let cases: &[(&str, &[&str])] = &[
        // prefixes, as you type
        ("l", &["Ada Lovelace"]),
        ("lov", &["Ada Lovelace"]),
        ("gl", &["Globex"]),
        ("glo", &["Globex", "Ada Lovelace"]),
        // several words narrow
        ("ada", &["Ada Byron", "Ada Lovelace"]),
        ("ada lov", &["Ada Lovelace"]),
        ("ada globex", &["Ada Lovelace"]),
        // one typo in words of four letters or more (after the exact matches)
        ("lovelase", &["Ada Lovelace"]),
        ("byrom", &["Ada Byron"]),
        ("hoper", &["Grace Hopper"]),
        ("lvoelace", &["Ada Lovelace"]),
        // accents, both ways
        ("jose", &["José Álvarez"]),
        ("ÁLVAR", &["José Álvarez"]),
        ("josé alvarez", &["José Álvarez"]),
        // phone numbers however written, with or without the country
        ("+1 (415) 555-0132", &["Ada Lovelace"]),
        ("415.555.0132", &["Ada Lovelace"]),
        ("4155550132", &["Ada Lovelace"]),
        ("555-0132", &["Ada Lovelace"]),
        ("030 901820", &["Grace Hopper"]),
        ("+49 30 90", &["Grace Hopper"]),
        ("020 7946 0958", &["Initech"]),
        // emails by local part and domain
        ("ada.lovelace@globex.example", &["Ada Lovelace"]),
        ("byron@", &["Ada Byron"]),
        ("poets", &["Ada Byron"]),
        // company domains and what a contact's company is called
        ("initech.example", &["Initech"]),
        ("initech", &["Initech", "José Álvarez"]),
        ("energy", &["Globex"]),
        // no match
        ("zzzz", &[]),
        ("lve", &[]),
    ];
    for (q, want) in cases {
        let mut got = titles(&s, "acme", q).await;
        got.sort();
        let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "query {q:?}");
    }
    let (_, typed) = s.get("/api/v1/orgs/acme/search?q=ini&types=company").await;
    assert_eq!(typed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(typed["items"][0]["type"], "company");
    let (_, first) = s.get("/api/v1/orgs/acme/search?q=lovel").await;
    let hit = &first["items"][0];
    assert_eq!(hit["subtitle"], "Globex");
    assert_eq!(
        hit["snippet"],
        json!({"text": "ada.lovelace@globex.example", "ranges": [[4, 9]]})
    );
}

#[tokio::test]
async fn changes_reach_search_promptly() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, c) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Quintessa", "last_name": "Marlowe"}),
        )
        .await;
    let path = format!(
        "/api/v1/orgs/acme/contacts/{}",
        c["id"].as_str().expect("id")
    );
    // Within a second in release builds (docs/benchmarks.md: 16 ms median at
    // 1M contacts); debug builds on a busy CI machine get some slack.
    let took = eventually(&s, "acme", "quintessa", |f| f == ["Quintessa Marlowe"]).await;
    assert!(took < Duration::from_secs(3), "took {took:?}");

    s.patch(&path, json!({"last_name": "Vance"})).await;
    eventually(&s, "acme", "quintessa", |f| f == ["Quintessa Vance"]).await;
    assert!(titles(&s, "acme", "marlowe").await.is_empty());

    assert_eq!(s.delete(&path).await.0, StatusCode::NO_CONTENT);
    let took = eventually(&s, "acme", "quintessa", |f| f.is_empty()).await;
    assert!(took < Duration::from_secs(3), "took {took:?}");
    s.post(&format!("{path}/restore"), json!({})).await;
    eventually(&s, "acme", "quintessa", |f| f.len() == 1).await;

    // Renaming a company changes what its contacts show.
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Umbrella"}))
        .await;
    s.patch(&path, json!({"company_id": co["id"]})).await;
    eventually(&s, "acme", "umbrella", |f| f.len() == 2).await;
    s.patch(
        &format!(
            "/api/v1/orgs/acme/companies/{}",
            co["id"].as_str().expect("id")
        ),
        json!({"name": "Aperture"}),
    )
    .await;
    let (_, hit) = s.get("/api/v1/orgs/acme/search?q=quintessa").await;
    let start = Instant::now();
    let mut subtitle = hit["items"][0]["subtitle"].clone();
    while subtitle != "Aperture" && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        subtitle =
            s.get("/api/v1/orgs/acme/search?q=quintessa").await.1["items"][0]["subtitle"].clone();
    }
    assert_eq!(subtitle, "Aperture");
}

#[tokio::test]
async fn one_orgs_words_never_reach_another() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    a.post("/api/v1/orgs/acme/contacts", json!({"first_name": "Xylophonist", "last_name": "Qwertyuiop", "emails": [{"email": "xylo@zzmarker.example"}], "phones": [{"phone": "+1 415 555 0199"}]})).await;
    eventually(&a, "acme", "xylophonist", |f| f.len() == 1).await;
    let (_, _, b) = app
        .anon()
        .sign_in_via("/api/v1/auth/signup", json!({"name": "B", "email": "b@example.com", "password": PASSWORD, "org_name": "Bobco"}))
        .await;
    let b = b.expect("session");
    b.post("/api/v1/orgs/bobco/contacts", json!({"first_name": "Bob"}))
        .await;
    for q in [
        "xylophonist",
        "xylophonis",
        "xylophonst",
        "xyl",
        "x",
        "qwerty",
        "qwertyuiop",
        "zzmarker",
        "xylo@",
        "415 555 0199",
        "0199",
    ] {
        let (status, body) = b
            .get(&format!("/api/v1/orgs/bobco/search?q={}", urlencode(q)))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !body.to_string().to_lowercase().contains("xylo"),
            "{q}: {body}"
        );
        let (status, _) = b
            .get(&format!("/api/v1/orgs/acme/search?q={}", urlencode(q)))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn any_input_is_a_valid_search() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    seed(&s).await;
    let long = "a".repeat(10_000);
    for q in [
        "",
        "   ",
        "a AND (b",
        "\"unclosed",
        "*:*",
        "title:x OR",
        "🙂",
        "🙂 ada",
        "\u{1}\u{7}ada",
        "'; DROP TABLE contacts; --",
        "%",
        "_",
        "\\",
        "ada~2",
        "ada*",
    ] {
        let (status, body) = s
            .get(&format!("/api/v1/orgs/acme/search?q={}", urlencode(q)))
            .await;
        assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
        assert!(body["items"].is_array());
    }
    for (query, field) in [
        (format!("q={long}"), "q"),
        ("q=a&limit=0".to_string(), "limit"),
        ("q=a&limit=51".to_string(), "limit"),
        ("q=a&types=widget".to_string(), "types"),
    ] {
        let (status, body) = s.get(&format!("/api/v1/orgs/acme/search?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(body["error"]["fields"].get(field).is_some(), "{body}");
    }
}

fn tenant_db(dir: &std::path::Path) -> std::path::PathBuf {
    let tenants = dir.join("tenants");
    let org = std::fs::read_dir(&tenants)
        .expect("tenants")
        .next()
        .expect("one org")
        .expect("entry");
    org.path()
}

/// A change committed with its outbox row but never indexed (the process died
/// first) is found once the server starts again.
#[tokio::test]
async fn a_write_the_indexer_never_saw_is_found_after_a_restart() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, c) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Beatrix", "last_name": "Kiddo"}),
        )
        .await;
    eventually(&s, "acme", "beatrix", |f| f.len() == 1).await;
    let (dir, config) = app.stop().await;

    // What a crash right after a commit leaves: the row and its outbox entry.
    let org_dir = tenant_db(dir.path());
    let conn = rusqlite::Connection::open(org_dir.join("crm.db")).expect("open");
    conn.execute_batch("BEGIN").expect("begin");
    conn.execute(
        "UPDATE contacts SET first_name = 'Elle', sort_name = 'elle kiddo' WHERE id = ?1",
        [c["id"].as_str().expect("id")],
    )
    .expect("update");
    conn.execute(
        "INSERT INTO search_outbox (kind, id) VALUES ('contact', ?1)",
        [c["id"].as_str().expect("id")],
    )
    .expect("outbox");
    conn.execute_batch("COMMIT").expect("commit");
    drop(conn);

    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    eventually(&s, "acme", "elle", |f| f == ["Elle Kiddo"]).await;
    assert!(titles(&s, "acme", "beatrix").await.is_empty());
}

#[tokio::test]
async fn a_deleted_or_corrupt_index_is_rebuilt_complete() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    for i in 0..30 {
        s.post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": format!("Rebuild{i}"), "last_name": "Person"}),
        )
        .await;
    }
    eventually(&s, "acme", "person", |f| f.len() == 20).await;
    let (dir, config) = app.stop().await;
    let index = tenant_db(dir.path()).join("index");
    std::fs::remove_dir_all(&index).expect("rm index");

    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    // Answers at once (maybe saying it is rebuilding), then completely.
    let (status, body) = s.get("/api/v1/orgs/acme/search?q=rebuild29").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for i in [0, 15, 29] {
        eventually(&s, "acme", &format!("rebuild{i}"), |f| f.len() == 1).await;
    }
    let (_, body) = s.get("/api/v1/orgs/acme/search?q=x").await;
    assert_eq!(body["rebuilding"], Value::Bool(false));

    // Garbage in the index folder: rebuilt as well.
    let (dir, config) = app.stop().await;
    let index = tenant_db(dir.path()).join("index");
    for f in std::fs::read_dir(&index).expect("index").flatten() {
        if f.path().extension().is_some_and(|e| e == "json") {
            std::fs::write(f.path(), b"{ not json").expect("corrupt");
        }
    }
    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    eventually(&s, "acme", "rebuild7", |f| f.len() == 1).await;

    // An index an older build wrote, with another schema (fewer fields):
    // searching it would name fields it does not have. Search and a list's
    // search box answer while it is rebuilt, then find everything.
    let (dir, config) = app.stop().await;
    let index = tenant_db(dir.path()).join("index");
    std::fs::remove_dir_all(&index).expect("rm index");
    std::fs::create_dir_all(&index).expect("index dir");
    let mut older = tantivy::schema::Schema::builder();
    let key = older.add_text_field("key", tantivy::schema::STRING);
    let old = tantivy::Index::create_in_dir(&index, older.build()).expect("older index");
    let mut w: tantivy::IndexWriter = old.writer_with_num_threads(1, 15_000_000).expect("writer");
    w.add_document(tantivy::doc!(key => "contact:older"))
        .expect("document");
    w.commit().expect("commit");
    drop(w);
    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    for path in [
        "/api/v1/orgs/acme/search?q=rebuild3",
        "/api/v1/orgs/acme/contacts?q=rebuild3",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    eventually(&s, "acme", "rebuild3", |f| f.len() == 1).await;
    let (status, body) = s.get("/api/v1/orgs/acme/contacts?q=rebuild3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");

    // An index an older build wrote with Tantivy's default settings (16 KB
    // blocks of stored documents): rebuilt with this build's, found meanwhile.
    let (dir, config) = app.stop().await;
    let meta_path = tenant_db(dir.path()).join("index").join("meta.json");
    // (Null while a rebuild swaps the folders.)
    let block_size = |path: &std::path::Path| -> Value {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .map_or(Value::Null, |meta| {
                meta["index_settings"]["docstore_blocksize"].clone()
            })
    };
    let ours = block_size(&meta_path);
    assert_ne!(ours, json!(16_384), "this build writes smaller blocks");
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).expect("meta")).expect("json");
    meta["index_settings"]["docstore_blocksize"] = json!(16_384);
    std::fs::write(&meta_path, meta.to_string()).expect("older settings");
    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    eventually(&s, "acme", "rebuild11", |f| f.len() == 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while block_size(&meta_path) != ours {
        assert!(
            Instant::now() < deadline,
            "an index with older settings was not rebuilt"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually(&s, "acme", "rebuild12", |f| f.len() == 1).await;
    let (_, body) = s.get("/api/v1/orgs/acme/search?q=x").await;
    assert_eq!(body["rebuilding"], Value::Bool(false));
}

/// Filtering by kind takes one of two paths (the unfiltered query widened, or
/// the filtered one); whichever runs, only the kinds asked for come back, and
/// none is missed when the other kind outranks it.
#[tokio::test]
async fn kind_filters_find_a_record_outranked_by_the_other_kind() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    // Contacts are the majority of the records; the word "quasar" is in 25
    // company names and 1 contact's.
    for i in 0..40 {
        let (status, body) = s
            .post(
                "/api/v1/orgs/acme/contacts",
                json!({"first_name": format!("Other{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for i in 0..25 {
        let (status, body) = s
            .post(
                "/api/v1/orgs/acme/companies",
                json!({"name": format!("Quasar Quasar {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    s.post(
        "/api/v1/orgs/acme/contacts",
        json!({"first_name": "Ann", "last_name": "Quasar"}),
    )
    .await;
    eventually(&s, "acme", "quasar", |t| t.len() == 20).await;
    // Twenty companies can be searchable before the contact written after
    // them is: wait for the contact too.
    eventually(&s, "acme", "ann quasar", |t| {
        t.iter().any(|x| x == "Ann Quasar")
    })
    .await;
    let kinds = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (_, contacts) = s
        .get("/api/v1/orgs/acme/search?q=quasar&types=contact&limit=2")
        .await;
    assert_eq!(kinds(&contacts), ["contact"], "{contacts}");
    assert_eq!(contacts["items"][0]["title"], "Ann Quasar");
    let (_, companies) = s
        .get("/api/v1/orgs/acme/search?q=quasar&types=company&limit=5")
        .await;
    assert_eq!(kinds(&companies), vec!["company"; 5], "{companies}");
    let (_, both) = s
        .get("/api/v1/orgs/acme/search?q=quasar&types=company,contact&limit=30")
        .await;
    assert_eq!(both["items"].as_array().map(Vec::len), Some(26), "{both}");
}

/// Every search-outbox row ever written (the table is `AUTOINCREMENT`, so
/// rows the indexer has drained still count).
fn outboxed(db: &rusqlite::Connection) -> i64 {
    db.query_row(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'), 0)",
        [],
        |r| r.get(0),
    )
    .expect("sequence")
}

/// The search document the index would build for record `id` now.
fn doc<K: harmonia::record::RecordKind>(db: &rusqlite::Connection, id: &str) -> String {
    let docs = harmonia::record::store::search_docs::<K>(db, "t.id = ?1", [id]).expect("docs");
    assert_eq!(docs.len(), 1, "{id}");
    format!("{:?}", docs[0])
}

/// An update of what search never shows — a contact's stage, owner,
/// birthday and custom values, a company's size and owner, a deal's amount,
/// a task's due date — gives the same
/// search document, so it is not written to the index again (most of such
/// an update's cost); any other change still reaches search.
#[tokio::test]
async fn an_update_search_cannot_see_leaves_the_index_alone() {
    use harmonia::crm::companies::Companies;
    use harmonia::crm::contacts::Contacts;
    use harmonia::crm::deals::Deals;
    use harmonia::crm::tasks::Tasks;

    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let o = "/api/v1/orgs/acme";
    let (status, f) = s
        .post(
            &format!("{o}/fields"),
            json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{f}");
    let (status, company) = s
        .post(
            &format!("{o}/companies"),
            json!({"name": "Umbrella", "domain": "umbrella.example", "industry": "Pharma",
                   "size": "11-50"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{company}");
    let company_id = company["id"].as_str().expect("id").to_string();
    let (status, contact) = s
        .post(
            &format!("{o}/contacts"),
            json!({"first_name": "Alice", "last_name": "Abernathy", "company_id": company_id,
                   "emails": [{"email": "alice@umbrella.example"}],
                   "phones": [{"phone": "+1 415 555 0199"}], "job_title": "Analyst",
                   "address": {"city": "Raccoon City", "country": "US"}, "source": "referral",
                   "stage": "lead", "custom": {"tier": "silver"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let contact_id = contact["id"].as_str().expect("id").to_string();
    eventually(&s, "acme", "abernathy", |f| f == ["Alice Abernathy"]).await;

    let (_, org) = s.get(o).await;
    let org_id = org["id"].as_str().expect("id");
    let path = app.dir.path().join("tenants").join(org_id).join("crm.db");
    let db = rusqlite::Connection::open(&path).expect("open");

    let before = (outboxed(&db), doc::<Contacts>(&db, &contact_id));
    let (status, changed) = s
        .patch(
            &format!("{o}/contacts/{contact_id}"),
            json!({"stage": "customer", "owner_id": s.user_id, "birthday": "1990-04-01",
                   "custom": {"tier": "gold"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["stage"], "customer", "{changed}");
    assert_eq!(changed["custom"]["tier"], "gold", "{changed}");
    let after = (outboxed(&db), doc::<Contacts>(&db, &contact_id));
    assert_eq!(after, before, "the contact's document and the outbox");

    let before = (outboxed(&db), doc::<Companies>(&db, &company_id));
    let (status, changed) = s
        .patch(
            &format!("{o}/companies/{company_id}"),
            json!({"size": "51-200", "owner_id": s.user_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let after = (outboxed(&db), doc::<Companies>(&db, &company_id));
    assert_eq!(after, before, "the company's document and the outbox");

    // What search shows still reaches it.
    let outbox = outboxed(&db);
    let (status, _) = s
        .patch(
            &format!("{o}/contacts/{contact_id}"),
            json!({"job_title": "Virologist"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outboxed(&db), outbox + 1);
    eventually(&s, "acme", "virologist", |f| f == ["Alice Abernathy"]).await;
    let (status, _) = s
        .patch(
            &format!("{o}/companies/{company_id}"),
            json!({"industry": "Biotech"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually(&s, "acme", "biotech", |f| f == ["Umbrella"]).await;

    // A deal: its amount, close date and owner are not searched; its
    // contacts are, though they are not columns of its row.
    let (status, deal) = s
        .post(
            &format!("{o}/deals"),
            json!({"title": "Hive contract", "company_id": company_id, "amount": 1000,
                   "contacts": [{"contact_id": contact_id, "role": "champion"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deal}");
    let deal_id = deal["id"].as_str().expect("id").to_string();
    eventually(&s, "acme", "hive", |f| f == ["Hive contract"]).await;
    let before = (outboxed(&db), doc::<Deals>(&db, &deal_id));
    let (status, changed) = s
        .patch(
            &format!("{o}/deals/{deal_id}"),
            json!({"amount": 2500, "close_date": "2031-06-30", "owner_id": s.user_id,
                   "contacts": [{"contact_id": contact_id, "role": "champion"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["close_date"], "2031-06-30", "{changed}");
    assert_eq!(changed["contacts"][0]["role"], "champion", "{changed}");
    let after = (outboxed(&db), doc::<Deals>(&db, &deal_id));
    assert_eq!(after, before, "the deal's document and the outbox");
    let (status, other) = s
        .post(
            &format!("{o}/contacts"),
            json!({"first_name": "Albert", "last_name": "Wesker"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let (status, changed) = s
        .patch(
            &format!("{o}/deals/{deal_id}"),
            json!({"contacts": [{"contact_id": contact_id, "role": "champion"},
                                {"contact_id": other["id"], "role": "user"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["contacts"][1]["role"], "user", "{changed}");
    eventually(&s, "acme", "wesker", |f| {
        f.contains(&"Hive contract".to_string())
    })
    .await;

    // A task: its due date, priority and assignee are not searched; its
    // links' names are.
    let contact_link = json!([{"kind": "contact", "id": contact_id}]);
    let (status, task) = s
        .post(
            &format!("{o}/tasks"),
            json!({"title": "Quarantine review", "description": "T-virus samples",
                   "due": "2027-01-31", "priority": "high", "links": contact_link}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id = task["id"].as_str().expect("id").to_string();
    eventually(&s, "acme", "quarantine", |f| f == ["Quarantine review"]).await;
    let before = (outboxed(&db), doc::<Tasks>(&db, &task_id));
    let (status, changed) = s
        .patch(
            &format!("{o}/tasks/{task_id}"),
            json!({"due": "2027-03-01", "priority": "low", "assignee_id": s.user_id,
                   "links": contact_link}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["priority"], "low", "{changed}");
    assert_eq!(changed["links"][0]["id"], json!(contact_id), "{changed}");
    let after = (outboxed(&db), doc::<Tasks>(&db, &task_id));
    assert_eq!(after, before, "the task's document and the outbox");
    let outbox = outboxed(&db);
    let (status, changed) = s
        .patch(
            &format!("{o}/tasks/{task_id}"),
            json!({"links": [{"kind": "contact", "id": contact_id},
                             {"kind": "company", "id": company_id}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["links"].as_array().map(Vec::len),
        Some(2),
        "{changed}"
    );
    assert_eq!(outboxed(&db), outbox + 1);
    assert_ne!(doc::<Tasks>(&db, &task_id), before.1);
}
