//! CSV imports through the API: a corpus of messy files (BOM, UTF-16,
//! Windows-1252, semicolons, quoted newlines, ragged rows, a large file),
//! mapping suggestions, preview with the records layer's own errors, every
//! dedupe rule, the job with its progress and report, failed rows as CSV,
//! undo back to the exact previous state, cancel mid-way, the size limit,
//! roles and isolation.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub async fn upload(
    s: &Session,
    org: &str,
    kind: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .text("kind", kind.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
    let resp = s
        .http
        .post(format!("{}/api/v1/orgs/{org}/imports", s.base))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn uploaded(s: &Session, kind: &str, bytes: Vec<u8>) -> Value {
    let (st, body) = upload(s, "acme", kind, "people.csv", bytes).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    body
}

/// Runs the jobs due (the import's) once, as the server's runner would.
pub async fn run_jobs(app: &TestApp) {
    let runner =
        harmonia::housekeeping::runner(&app.state, Arc::new(harmonia::clock::SystemClock), |b| b)
            .expect("runner");
    runner.run_due().await;
}

/// Sets the mapping/dedupe, runs the import to its end, answers it.
pub async fn import(app: &TestApp, s: &Session, id: &str, settings: Value) -> Value {
    if !settings.is_null() {
        let (st, body) = s
            .patch(&format!("/api/v1/orgs/acme/imports/{id}"), settings)
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    let (st, body) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/run"), json!({}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "queued");
    run_jobs(app).await;
    let (st, body) = s.get(&format!("/api/v1/orgs/acme/imports/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["state"], "done", "{body}");
    body
}

pub async fn contacts(s: &Session) -> Vec<Value> {
    let (_, page) = s
        .get("/api/v1/orgs/acme/contacts?limit=200&sort=created_at")
        .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

pub fn by_email<'a>(list: &'a [Value], email: &str) -> Option<&'a Value> {
    list.iter().find(|c| {
        c["emails"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["email"] == email))
    })
}

pub fn mapping(import: &Value) -> Vec<Value> {
    import["mapping"].as_array().cloned().unwrap_or_default()
}

/// A Google Contacts export in Windows-1252 with semicolons, a quoted
/// newline, a ragged row, a bad email and a blank line.
fn messy_csv() -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(
        b"First Name;Last Name;E-mail 1 - Value;Phone 1 - Value;Organization 1 - Name;Notes\r\n",
    );
    b.extend_from_slice(
        b"Jos\xE9;Garc\xEDa;jose@example.com;+34 912 345 678;Caf\xE9 Uno;\"two\r\nlines\"\r\n",
    );
    b.extend_from_slice(b"Ana;Lopez;ana@example.com;;Caf\xE9 Uno\r\n");
    b.extend_from_slice(b"Bad;Email;not-an-email;;;\r\n");
    b.extend_from_slice(b";;;;;\r\n");
    b.extend_from_slice(b"Zo\xEB;;zoe@example.com;+44 20 7946 0958;Other Ltd;x;extra;cells\r\n");
    b
}

#[tokio::test]
async fn a_messy_csv_is_read_mapped_previewed_run_and_reported() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let imp = uploaded(&s, "contact", messy_csv()).await;
    assert_eq!(imp["state"], "uploaded");
    assert_eq!(imp["encoding"], "windows-1252");
    assert_eq!(imp["delimiter"], ";");
    assert_eq!(imp["row_count"], 4, "the blank line is no row");
    assert_eq!(imp["headers"][0], "First Name");
    assert_eq!(imp["columns"][0]["samples"][0], "José");
    assert_eq!(imp["columns"][4]["samples"][0], "Café Uno");
    assert_eq!(
        mapping(&imp),
        vec![
            json!("first_name"),
            json!("last_name"),
            json!("email"),
            json!("phone"),
            json!("company_name"),
            Value::Null
        ]
    );
    assert_eq!(
        imp["dedupe"]["match"], "email",
        "a file with emails dedupes on them"
    );
    let id = imp["id"].as_str().expect("id").to_string();

    // The preview goes through the API's own validation and keeps nothing.
    let (st, pv) = s
        .get(&format!("/api/v1/orgs/acme/imports/{id}/preview"))
        .await;
    assert_eq!(st, StatusCode::OK, "{pv}");
    let rows = pv["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["action"], "create");
    assert_eq!(rows[0]["values"]["first_name"], "José");
    assert!(
        rows[0]["note"].as_str().unwrap_or("").contains("Café Uno"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[2]["action"], "fail");
    assert!(
        rows[2]["errors"]["emails[0].email"].is_string()
            || rows[2]["errors"].to_string().contains("email"),
        "{}",
        rows[2]
    );
    assert_eq!(
        rows[3]["action"], "create",
        "extra cells of a ragged row are ignored"
    );
    assert!(contacts(&s).await.is_empty(), "a preview writes nothing");
    let (_, cos) = s.get("/api/v1/orgs/acme/companies").await;
    assert_eq!(cos["items"].as_array().map(Vec::len), Some(0));

    let done = import(&app, &s, &id, Value::Null).await;
    assert_eq!(
        done["report"],
        json!({"rows_done": 4, "created": 3, "updated": 0, "skipped": 0, "failed": 1})
    );
    assert_eq!(done["progress"]["rows_done"], 4);
    assert_eq!(done["progress"]["rows_total"], 4);
    assert_eq!(done["failures"][0]["row"], 3);
    assert!(done["undo_until"].is_string());

    let list = contacts(&s).await;
    assert_eq!(list.len(), 3);
    let jose = by_email(&list, "jose@example.com").expect("José");
    assert_eq!(jose["first_name"], "José");
    assert_eq!(jose["last_name"], "García");
    assert_eq!(jose["phones"][0]["phone"], "+34912345678");
    assert_eq!(jose["company"]["name"], "Café Uno");
    let ana = by_email(&list, "ana@example.com").expect("Ana");
    assert_eq!(
        ana["company_id"], jose["company_id"],
        "one company per name"
    );
    let (_, cos) = s.get("/api/v1/orgs/acme/companies").await;
    assert_eq!(cos["items"].as_array().map(Vec::len), Some(2));

    // The failed rows, in the file's columns plus the reason, ready to fix.
    let resp = s
        .http
        .get(format!(
            "{}/api/v1/orgs/acme/imports/{id}/failed.csv",
            s.base
        ))
        .header("cookie", &s.cookie)
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let text = resp.text().await.expect("text");
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next(),
        Some(
            "First Name,Last Name,E-mail 1 - Value,Phone 1 - Value,Organization 1 - Name,Notes,error"
        )
    );
    let bad = lines.next().expect("the failed row");
    assert!(bad.starts_with("Bad,Email,not-an-email,,,,"), "{bad}");
    assert!(bad.contains("email"), "{bad}");
    assert_eq!(lines.next(), None);

    // Listed among past imports.
    let (_, page) = s.get("/api/v1/orgs/acme/imports").await;
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["items"][0]["report"]["created"], 3);
}

#[tokio::test]
async fn encodings_and_delimiters_of_other_tools_are_detected() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let text = "Name\tEmail Address\r\nRenée Dupont\trenee@example.com\r\n";
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let bom8: Vec<u8> = b"\xEF\xBB\xBF"
        .iter()
        .copied()
        .chain("Name|Email Address\nRenée Dupont|renee@example.com\n".bytes())
        .collect();
    let plain = "Name,Email Address\n\"Dupont, Renée\",renee@example.com\n"
        .as_bytes()
        .to_vec();
    for (bytes, enc, delim, name) in [
        (utf16le, "UTF-16LE", "\t", "Renée Dupont"),
        (utf16be, "UTF-16BE", "\t", "Renée Dupont"),
        (bom8, "UTF-8", "|", "Renée Dupont"),
        (plain, "UTF-8", ",", "Dupont, Renée"),
    ] {
        let imp = uploaded(&s, "contact", bytes).await;
        assert_eq!(imp["encoding"], enc, "{imp}");
        assert_eq!(imp["delimiter"], delim, "{imp}");
        assert_eq!(imp["headers"][0], "Name", "no BOM left in the first header");
        assert_eq!(imp["columns"][0]["samples"][0], name);
        assert_eq!(mapping(&imp), vec![json!("full_name"), json!("email")]);
    }
}

#[tokio::test]
async fn a_large_file_is_streamed_and_counted() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut big = String::with_capacity(51 * 1024 * 1024);
    big.push_str("First Name,Last Name,Email,Phone,Company,City,Country,Title,Source,Notes\n");
    let mut n = 0;
    while big.len() < 50 * 1024 * 1024 {
        n += 1;
        big.push_str(&format!(
            "Person{n},Family{n},person{n}@example.com,+1 415 555 {:04},Company {},Springfield,US,Engineer,web,\"a note, with a comma\"\n",
            n % 10000,
            n % 500
        ));
    }
    let imp = uploaded(&s, "contact", big.into_bytes()).await;
    assert_eq!(imp["row_count"], n);
    assert_eq!(imp["columns"][2]["samples"][0], "person1@example.com");
}

#[tokio::test]
async fn over_100_mib_is_refused_and_nothing_is_left_behind() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let big = vec![b'a'; 100 * 1024 * 1024 + 1];
    let (st, body) = upload(&s, "acme", "contact", "huge.csv", big).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (_, page) = s.get("/api/v1/orgs/acme/imports").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    let org_id = {
        let (_, org) = s.get("/api/v1/orgs/acme").await;
        org["id"].as_str().expect("id").to_string()
    };
    let dir = app.state.tenants.dir(&org_id).join("imports");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    // Bad forms are 4xx too.
    let (st, _) = upload(&s, "acme", "invoice", "x.csv", b"a,b\n1,2\n".to_vec()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, _) = upload(&s, "acme", "contact", "x.csv", Vec::new()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn seed(s: &Session) -> (String, String) {
    let (st, kim) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Kim", "last_name": "Old", "emails": [{"email": "kim@example.com"}],
                   "job_title": null, "source": "fair"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{kim}");
    let (_, lee) = s
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Lee", "last_name": "Keep", "emails": [{"email": "lee@example.com"}],
                   "phones": [{"phone": "+44 20 7946 0000"}], "job_title": "CTO"}),
        )
        .await;
    (
        kim["id"].as_str().expect("id").to_string(),
        lee["id"].as_str().expect("id").to_string(),
    )
}

const DEDUPE_CSV: &str = "Email,First Name,Job Title,Phone\n\
KIM@example.com,Kimberly,CEO,\n\
lee@example.com,Leo,Founder,+1 415 555 0100\n\
new@example.com,Nia,Analyst,\n\
new@example.com,Nia again,Intern,\n";

#[tokio::test]
async fn every_dedupe_rule_on_email() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (kim, lee) = seed(&s).await;

    // Skip: matches (case aside) stay as they were; a repeat within the file matches too.
    let imp = uploaded(&s, "contact", DEDUPE_CSV.as_bytes().to_vec()).await;
    let id = imp["id"].as_str().expect("id");
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "email", "action": "skip"}}),
    )
    .await;
    assert_eq!(done["report"]["created"], 1);
    assert_eq!(done["report"]["skipped"], 3);
    let (_, k) = s.get(&format!("/api/v1/orgs/acme/contacts/{kim}")).await;
    assert_eq!(k["first_name"], "Kim");

    // Update empty fields: only what the record lacks.
    let imp = uploaded(&s, "contact", DEDUPE_CSV.as_bytes().to_vec()).await;
    let id = imp["id"].as_str().expect("id");
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "email", "action": "update_empty"}}),
    )
    .await;
    assert_eq!(done["report"]["created"], 0);
    let (_, k) = s.get(&format!("/api/v1/orgs/acme/contacts/{kim}")).await;
    assert_eq!(k["first_name"], "Kim", "a name it has is kept");
    assert_eq!(k["job_title"], "CEO", "an empty job title is filled");
    let (_, l) = s.get(&format!("/api/v1/orgs/acme/contacts/{lee}")).await;
    assert_eq!(l["job_title"], "CTO");
    assert_eq!(l["phones"].as_array().map(Vec::len), Some(1));
    assert_eq!(l["phones"][0]["phone"], "+442079460000");

    // Overwrite: every mapped value.
    let imp = uploaded(&s, "contact", DEDUPE_CSV.as_bytes().to_vec()).await;
    let id = imp["id"].as_str().expect("id");
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "email", "action": "overwrite"}}),
    )
    .await;
    assert_eq!(done["report"]["updated"], 4, "{done}");
    let (_, l) = s.get(&format!("/api/v1/orgs/acme/contacts/{lee}")).await;
    assert_eq!(l["first_name"], "Leo");
    assert_eq!(l["job_title"], "Founder");
    assert_eq!(l["phones"][0]["phone"], "+14155550100");
    assert_eq!(
        l["last_name"], "Keep",
        "fields the file does not map are kept"
    );
    let list = contacts(&s).await;
    assert_eq!(list.len(), 3, "no duplicates were made");
    assert_eq!(
        by_email(&list, "new@example.com").expect("Nia")["first_name"],
        "Nia again"
    );

    // None: every row is new.
    let imp = uploaded(&s, "contact", DEDUPE_CSV.as_bytes().to_vec()).await;
    let id = imp["id"].as_str().expect("id");
    let done = import(&app, &s, id, json!({"dedupe": {"match": "none"}})).await;
    assert_eq!(done["report"]["created"], 4);
}

#[tokio::test]
async fn dedupe_on_phone_domain_and_an_external_id() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, lee) = seed(&s).await;
    // Phone, written differently than stored.
    let imp = uploaded(
        &s,
        "contact",
        b"Phone,Job Title\n+44 (20) 7946-0000,Chair\n".to_vec(),
    )
    .await;
    assert_eq!(mapping(&imp), vec![json!("phone"), json!("job_title")]);
    let id = imp["id"].as_str().expect("id");
    let (st, body) = s
        .patch(
            &format!("/api/v1/orgs/acme/imports/{id}"),
            json!({"dedupe": {"match": "domain", "action": "skip"}}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::UNPROCESSABLE_ENTITY,
        "contacts have no domain: {body}"
    );
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "phone", "action": "overwrite"}}),
    )
    .await;
    assert_eq!(done["report"]["updated"], 1, "{done}");
    assert_eq!(done["report"]["created"], 0);
    let (_, l) = s.get(&format!("/api/v1/orgs/acme/contacts/{lee}")).await;
    assert_eq!(l["job_title"], "Chair");

    // Companies by domain (a URL in the file matches a bare domain).
    let (_, acme) = s
        .post(
            "/api/v1/orgs/acme/companies",
            json!({"name": "Acme", "domain": "acme.com"}),
        )
        .await;
    let imp = uploaded(&s, "company", b"Company,Website,Industry\nAcme Inc,https://www.acme.com/about,Anvils\nGlobex,globex.com,\n".to_vec()).await;
    assert_eq!(
        mapping(&imp),
        vec![json!("name"), json!("domain"), json!("industry")]
    );
    assert_eq!(imp["dedupe"]["match"], "domain");
    let id = imp["id"].as_str().expect("id");
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "domain", "action": "update_empty"}}),
    )
    .await;
    assert_eq!(done["report"]["updated"], 1);
    assert_eq!(done["report"]["created"], 1);
    let (_, a) = s
        .get(&format!(
            "/api/v1/orgs/acme/companies/{}",
            acme["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(a["name"], "Acme");
    assert_eq!(a["industry"], "Anvils");

    // An external id kept in a custom field.
    let (st, f) = s
        .post(
            "/api/v1/orgs/acme/fields",
            json!({"kind": "contact", "key": "crm_id", "label": "Old CRM id", "type": "text"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{f}");
    let first = uploaded(
        &s,
        "contact",
        b"Old CRM id,Name\nA-1,Pat One\nA-2,Sam Two\n".to_vec(),
    )
    .await;
    assert_eq!(
        mapping(&first),
        vec![json!("custom.crm_id"), json!("full_name")]
    );
    let id = first["id"].as_str().expect("id");
    import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "custom.crm_id", "action": "overwrite"}}),
    )
    .await;
    let again = uploaded(
        &s,
        "contact",
        b"Old CRM id,Name\nA-1,Pat Renamed\nA-3,New Three\n".to_vec(),
    )
    .await;
    let id = again["id"].as_str().expect("id");
    // The saved mapping and rule of the last file with these columns come back.
    assert_eq!(again["mapping"], first["mapping"]);
    let done = import(
        &app,
        &s,
        id,
        json!({"dedupe": {"match": "custom.crm_id", "action": "overwrite"}}),
    )
    .await;
    assert_eq!(done["report"]["updated"], 1);
    assert_eq!(done["report"]["created"], 1);
    let list = contacts(&s).await;
    assert!(list.iter().any(|c| c["first_name"] == "Pat"
        && c["last_name"] == "Renamed"
        && c["custom"]["crm_id"] == "A-1"));
    assert!(!list.iter().any(|c| c["last_name"] == "One"));
}

/// Everything the API shows of the organization's contacts and companies,
/// without the times and authors a restore stamps anew.
async fn snapshot(s: &Session) -> Value {
    let strip = |mut v: Value| {
        for item in v["items"].as_array_mut().into_iter().flatten() {
            if let Some(o) = item.as_object_mut() {
                o.remove("updated_at");
                o.remove("updated_by");
            }
        }
        v["items"].take()
    };
    let (_, c) = s
        .get("/api/v1/orgs/acme/contacts?limit=200&sort=created_at")
        .await;
    let (_, co) = s
        .get("/api/v1/orgs/acme/companies?limit=200&sort=created_at")
        .await;
    json!({"contacts": strip(c), "companies": strip(co)})
}

#[tokio::test]
async fn undo_restores_the_exact_previous_state() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (kim, _) = seed(&s).await;
    let (_, f) = s
        .post(
            "/api/v1/orgs/acme/fields",
            json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
        )
        .await;
    assert!(f["key"].is_string(), "{f}");
    let before = snapshot(&s).await;
    let csv = "Email,First Name,Last Name,Tier,Company,Phone\n\
kim@example.com,Kimmy,New,gold,Initech,+1 415 555 0199\n\
lee@example.com,Leon,,silver,,\n\
fresh@example.com,Fresh,Person,,Initech,\n";
    let imp = uploaded(&s, "contact", csv.as_bytes().to_vec()).await;
    let id = imp["id"].as_str().expect("id").to_string();
    let done = import(
        &app,
        &s,
        &id,
        json!({"dedupe": {"match": "email", "action": "overwrite"}}),
    )
    .await;
    assert_eq!(done["report"]["updated"], 2, "{done}");
    assert_eq!(done["report"]["created"], 1);
    let (_, k) = s.get(&format!("/api/v1/orgs/acme/contacts/{kim}")).await;
    assert_eq!(k["custom"]["tier"], "gold");
    assert_eq!(k["company"]["name"], "Initech");
    assert_ne!(snapshot(&s).await, before);

    let (st, undone) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{undone}");
    assert_eq!(undone["state"], "undone");
    assert_eq!(
        undone["undo"]["trashed"], 2,
        "the new contact and the company made by name"
    );
    assert_eq!(undone["undo"]["restored"], 2);
    assert_eq!(undone["undo"]["noted"], json!([]));
    assert_eq!(snapshot(&s).await, before);
    let (st, _) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "once");
}

#[tokio::test]
async fn undo_leaves_records_changed_since_and_says_so() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (kim, _) = seed(&s).await;
    let imp = uploaded(
        &s,
        "contact",
        b"Email,Job Title\nkim@example.com,CEO\nnew@example.com,Analyst\n".to_vec(),
    )
    .await;
    let id = imp["id"].as_str().expect("id").to_string();
    import(
        &app,
        &s,
        &id,
        json!({"dedupe": {"match": "email", "action": "overwrite"}}),
    )
    .await;
    let (st, _) = s
        .patch(
            &format!("/api/v1/orgs/acme/contacts/{kim}"),
            json!({"last_name": "Edited"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, undone) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(undone["undo"]["restored"], 0);
    assert_eq!(undone["undo"]["trashed"], 1);
    assert_eq!(undone["undo"]["noted"][0]["id"], kim.as_str());
    assert!(
        undone["undo"]["noted"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("changed")
    );
    let (_, k) = s.get(&format!("/api/v1/orgs/acme/contacts/{kim}")).await;
    assert_eq!(k["last_name"], "Edited");
    assert_eq!(k["job_title"], "CEO");
}

#[tokio::test]
async fn deals_find_their_pipeline_stage_and_company_by_name() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, pipelines) = s.get("/api/v1/orgs/acme/pipelines").await;
    let p = &pipelines["items"][0];
    let stage = p["stages"][1]["name"]
        .as_str()
        .expect("a stage")
        .to_string();
    let csv = format!(
        "Deal Name,Amount,Close Date,Stage,Pipeline,Organization\n\
Big one,\"$12,500.50\",2026-03-31,{stage},{},Initech\n\
Odd one,lots,31/03/2026,Nowhere,,\n",
        p["name"].as_str().expect("name")
    );
    let imp = uploaded(&s, "deal", csv.into_bytes()).await;
    assert_eq!(
        mapping(&imp),
        vec![
            json!("title"),
            json!("amount"),
            json!("close_date"),
            json!("stage"),
            json!("pipeline"),
            json!("company_name")
        ]
    );
    let id = imp["id"].as_str().expect("id");
    let done = import(&app, &s, id, Value::Null).await;
    assert_eq!(done["report"]["created"], 1, "{done}");
    assert_eq!(done["report"]["failed"], 1);
    let err = done["failures"][0]["error"].as_str().unwrap_or("");
    assert!(err.contains("amount"), "{err}");
    let (_, deals) = s.get("/api/v1/orgs/acme/deals").await;
    let d = &deals["items"][0];
    assert_eq!(d["title"], "Big one");
    assert_eq!(d["amount"], 1250050);
    assert_eq!(d["close_date"], "2026-03-31");
    assert_eq!(d["stage_id"], p["stages"][1]["id"]);
    assert!(d["company_id"].is_string());
}

#[tokio::test]
async fn cancel_stops_a_running_import_between_batches() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mut csv = String::from("First Name,Email\n");
    for n in 0..12_000 {
        csv.push_str(&format!("P{n},p{n}@example.com\n"));
    }
    let imp = uploaded(&s, "contact", csv.into_bytes()).await;
    let id = imp["id"].as_str().expect("id").to_string();
    let (st, _) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/run"), json!({}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let runner =
        harmonia::housekeeping::runner(&app.state, Arc::new(harmonia::clock::SystemClock), |b| b)
            .expect("runner");
    let running = tokio::spawn(async move { runner.run_due().await });
    // Once the first batch is in, ask it to stop.
    let seen = get_until(&s, &format!("/api/v1/orgs/acme/imports/{id}"), |b| {
        b["progress"]["rows_done"].as_i64().unwrap_or(0) > 0 || b["state"] == "done"
    })
    .await;
    assert_eq!(seen["state"], "running", "{seen}");
    let (st, c) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/cancel"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    running.await.expect("runner");
    let (_, end) = s.get(&format!("/api/v1/orgs/acme/imports/{id}")).await;
    assert_eq!(end["state"], "cancelled", "{end}");
    let done = end["progress"]["rows_done"].as_i64().unwrap_or(0);
    assert!(done > 0 && done < 12_000, "{done}");
    assert!(end["progress"]["rows_per_second"].as_f64().unwrap_or(0.0) > 0.0);
    let (_, count) = s.get("/api/v1/orgs/acme/contacts/count").await;
    assert_eq!(count["count"], done, "what was written stays, and no more");
    // And it can be undone like any other.
    let (st, u) = s
        .post(&format!("/api/v1/orgs/acme/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    let (_, count) = s.get("/api/v1/orgs/acme/contacts/count").await;
    assert_eq!(count["count"], 0);
}

#[tokio::test]
async fn imports_are_for_admins_and_stay_in_their_organization() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let imp = uploaded(&owner, "contact", b"Email\na@example.com\n".to_vec()).await;
    let id = imp["id"].as_str().expect("id").to_string();
    let admin = app
        .add_member(&owner, "acme", "adm@example.com", "admin")
        .await;
    let (st, _) = admin.get(&format!("/api/v1/orgs/acme/imports/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    for role in ["member", "viewer"] {
        let who = app
            .add_member(&owner, "acme", &format!("{role}@example.com"), role)
            .await;
        let (st, _) = upload(
            &who,
            "acme",
            "contact",
            "x.csv",
            b"Email\nb@example.com\n".to_vec(),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{role} uploads");
        for path in ["", "/preview", "/failed.csv"] {
            let (st, _) = who
                .get(&format!("/api/v1/orgs/acme/imports/{id}{path}"))
                .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{role} GET {path}");
        }
        let (st, _) = who.get("/api/v1/orgs/acme/imports").await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        for action in ["run", "cancel", "undo"] {
            let (st, _) = who
                .post(
                    &format!("/api/v1/orgs/acme/imports/{id}/{action}"),
                    json!({}),
                )
                .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{role} {action}");
        }
        let (st, _) = who
            .patch(
                &format!("/api/v1/orgs/acme/imports/{id}"),
                json!({"mapping": [null]}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
    // Another organization's import is as missing as one that never was.
    let (st, _) = owner
        .post("/api/v1/orgs", json!({"name": "Beta", "slug": "beta"}))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    for id in [id.as_str(), "nope"] {
        for path in ["", "/preview", "/failed.csv"] {
            let (st, _) = owner
                .get(&format!("/api/v1/orgs/beta/imports/{id}{path}"))
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "GET {path}");
        }
        for action in ["run", "cancel", "undo"] {
            let (st, _) = owner
                .post(
                    &format!("/api/v1/orgs/beta/imports/{id}/{action}"),
                    json!({}),
                )
                .await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{action}");
        }
        let (st, _) = owner
            .patch(
                &format!("/api/v1/orgs/beta/imports/{id}"),
                json!({"mapping": [null]}),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    let (_, page) = owner.get("/api/v1/orgs/beta/imports").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_mapping_must_fit_the_file_and_the_kind() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let imp = uploaded(&s, "contact", b"A,B\n1,2\n".to_vec()).await;
    let id = imp["id"].as_str().expect("id");
    let path = format!("/api/v1/orgs/acme/imports/{id}");
    for bad in [
        json!({"mapping": ["first_name"]}),
        json!({"mapping": ["first_name", "first_name"]}),
        json!({"mapping": ["domain", null]}),
        json!({"mapping": ["custom.nope", null]}),
        json!({"dedupe": {"match": "custom.nope"}}),
        json!({"dedupe": {"match": "email", "action": "merge"}}),
    ] {
        let (st, body) = s.patch(&path, bad.clone()).await;
        assert!(
            st == StatusCode::UNPROCESSABLE_ENTITY || st == StatusCode::BAD_REQUEST,
            "{bad}: {st} {body}"
        );
    }
    let (st, ok) = s.patch(&path, json!({"mapping": ["email", "email"]})).await;
    assert_eq!(st, StatusCode::OK, "emails take several columns: {ok}");
    assert_eq!(ok["mapping_saved"], true);
}
