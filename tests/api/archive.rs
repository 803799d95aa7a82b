//! The whole-organization export: owners ask for an archive, download it
//! when ready, and `import-org` loads it into a new organization that holds
//! the same records, relations and files.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files::upload;
use crate::helpers::*;

const O: &str = "/api/v1/orgs/acme";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn created(s: &Session, path: &str, body: Value) -> Value {
    let (status, v) = s.post(&format!("{O}/{path}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {v}");
    v
}

/// Asks for an archive and waits until it is ready.
async fn archive_ready(s: &Session, org: &str) -> Value {
    let (status, a) = s
        .post(&format!("/api/v1/orgs/{org}/archives"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{a}");
    assert_eq!(a["status"], "preparing");
    let path = format!("/api/v1/orgs/{org}/archives/{}", id(&a));
    let start = std::time::Instant::now();
    loop {
        let (status, a) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        assert_ne!(a["status"], "failed", "{a}");
        if a["status"] == "ready" {
            return a;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "not ready: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn download(s: &Session, org: &str, archive: &Value) -> Vec<u8> {
    let resp = s
        .http
        .get(format!(
            "{}/api/v1/orgs/{org}/archives/{}/download",
            s.base,
            id(archive)
        ))
        .header("cookie", &s.cookie)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().ok(),
        Some("application/zip")
    );
    let bytes = resp.bytes().await.expect("body").to_vec();
    assert_eq!(Some(bytes.len() as u64), archive["size"].as_u64());
    bytes
}

/// Everything the API shows of an organization's data, to compare two.
async fn everything(s: &Session, org: &str, contact: &str, file: &str) -> Value {
    let o = format!("/api/v1/orgs/{org}");
    let mut all = serde_json::Map::new();
    for path in [
        "contacts?limit=100",
        "companies?limit=100",
        "deals?limit=100",
        "notes?limit=100",
        "tasks?limit=100",
        "activities?limit=100",
        "pipelines",
        "fields",
        "tags",
        "trash",
        "files?limit=100",
    ] {
        let (status, v) = s.get(&format!("{o}/{path}")).await;
        assert_eq!(status, StatusCode::OK, "{org}/{path}: {v}");
        all.insert(path.to_string(), v);
    }
    let (status, v) = s.get(&format!("{o}/contacts/{contact}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{org} timeline: {v}");
    all.insert("timeline".into(), v);
    let (status, v) = s.get(&format!("{o}/contacts/{contact}/history")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    all.insert("history".into(), v);
    let (status, v) = s.get(&format!("{o}/files/{file}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    all.insert("file".into(), v);
    Value::Object(all)
}

#[tokio::test]
async fn an_archive_loads_into_a_new_org_with_every_record_relation_and_file() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let mia = app
        .add_member(&s, "acme", "mia@example.com", "member")
        .await;
    created(
        &s,
        "fields",
        json!({"kind": "contact", "key": "tier", "label": "Tier", "type": "text"}),
    )
    .await;
    let tag = created(&s, "tags", json!({"name": "VIP"})).await;
    let company = created(
        &s,
        "companies",
        json!({"name": "Initech", "domain": "initech.example"}),
    )
    .await;
    let ada = created(
        &s,
        "contacts",
        json!({"first_name": "Ada", "last_name": "Lovelace", "company_id": id(&company),
               "emails": [{"email": "ada@initech.example", "label": "work"}],
               "custom": {"tier": "gold"}}),
    )
    .await;
    s.post(
        &format!("{O}/contacts/{}/tags", id(&ada)),
        json!({"tag_ids": [tag["id"]]}),
    )
    .await;
    let (status, _) = s
        .patch(
            &format!("{O}/contacts/{}", id(&ada)),
            json!({"job_title": "Analyst"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let gone = created(&s, "contacts", sample_contact("Trashed")).await;
    assert!(
        s.delete(&format!("{O}/contacts/{}", id(&gone)))
            .await
            .0
            .is_success()
    );
    let deal = created(
        &s,
        "deals",
        json!({"title": "Initech renewal", "amount": 1250000, "company_id": id(&company),
               "owner_id": mia.user_id,
               "contacts": [{"contact_id": id(&ada), "role": "decision_maker"}]}),
    )
    .await;
    let links = json!([{"kind": "contact", "id": id(&ada)}, {"kind": "deal", "id": id(&deal)}]);
    created(
        &s,
        "notes",
        json!({"body": format!("<h2>Call notes</h2><p>Asked <b>@Mia</b> <span data-member=\"{}\">Mia</span> to follow up</p>", mia.user_id),
               "pinned": true, "links": links}),
    )
    .await;
    created(
        &s,
        "tasks",
        json!({"title": "Send the proposal", "due": "2026-12-20", "assignee_id": mia.user_id,
               "links": links}),
    )
    .await;
    created(
        &s,
        "activities",
        json!({"type": "call", "outcome": "connected", "body": "<p>Talked terms</p>", "links": links}),
    )
    .await;
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let (status, file) = upload(
        &s,
        "acme",
        "contract.pdf",
        pdf.clone(),
        &[format!("contact:{}", id(&ada))],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{file}");

    let archive = archive_ready(&s, "acme").await;
    let bytes = download(&s, "acme", &archive).await;

    // An open format: a ZIP with a manifest, NDJSON per table, the files.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).expect("a zip");
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .expect("manifest")
        .read_to_string(&mut manifest)
        .expect("read");
    let manifest: Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(manifest["format"], "harmonia-organization-export");
    assert_eq!(manifest["organization"]["slug"], "acme");
    let kinds: Vec<&str> = manifest["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(|k| k["kind"].as_str())
        .collect();
    for k in ["contact", "company", "deal", "note", "task", "activity"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let mut contacts = String::new();
    zip.by_name("tables/contacts.ndjson")
        .expect("contacts")
        .read_to_string(&mut contacts)
        .expect("read");
    assert_eq!(contacts.lines().count(), 2, "{contacts}");
    assert!(contacts.contains("Lovelace"));
    let mut notes = String::new();
    zip.by_name("tables/notes.ndjson")
        .expect("notes")
        .read_to_string(&mut notes)
        .expect("read");
    assert!(
        notes.contains("<h2>Call notes</h2>"),
        "the notes' HTML: {notes}"
    );
    let sha = file["sha256"].as_str().expect("sha");
    let mut blob = Vec::new();
    zip.by_name(&format!("files/{sha}"))
        .expect("the file")
        .read_to_end(&mut blob)
        .expect("read");
    assert_eq!(blob, pdf);
    for left_out in ["tables/search_outbox.ndjson", "tables/webhooks.ndjson"] {
        assert!(zip.by_name(left_out).is_err(), "{left_out} is left out");
    }

    // Loaded into a new organization while the server runs.
    let path = app.dir.path().join("acme.zip");
    std::fs::write(&path, &bytes).expect("write");
    let data_dir = app.dir.path().to_path_buf();
    let done = tokio::task::spawn_blocking(move || {
        harmonia::crm::archive::load::import_org(&data_dir, &path, "acme-copy", None)
    })
    .await
    .expect("joined")
    .expect("imported");
    assert_eq!(done.slug, "acme-copy");
    assert_eq!(done.files, 1);
    assert!(done.members.contains(&"mia@example.com".to_string()));

    let before = everything(&s, "acme", &id(&ada), &id(&file)).await;
    let after = everything(&s, "acme-copy", &id(&ada), &id(&file)).await;
    assert_eq!(before, after);
    // Members keep their roles: Mia reads the copy as a member.
    let (status, _) = mia.get("/api/v1/orgs/acme-copy/contacts").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = mia.post("/api/v1/orgs/acme-copy/archives", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The file's bytes, and search finds what was imported.
    let (status, got) = s
        .get(&format!(
            "/api/v1/orgs/acme-copy/files/{}/content",
            id(&file)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let found = get_until(&s, "/api/v1/orgs/acme-copy/search?q=lovelace", |v| {
        v["items"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(found["items"][0]["id"], ada["id"], "{found}");
    // The new organization's audit log starts with the import.
    let (_, log) = s.get("/api/v1/orgs/acme-copy/audit").await;
    assert!(
        log["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["action"] == "org.imported"),
        "{log}"
    );
    // And the copy is an organization like any other: it takes new records.
    created(&s, "contacts", sample_contact("After")).await;
    let (status, _) = s
        .post("/api/v1/orgs/acme-copy/contacts", sample_contact("Fresh"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn only_owners_export_and_another_orgs_archive_is_not_found() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let admin = app
        .add_member(&owner, "acme", "admin@example.com", "admin")
        .await;
    let key = app.api_key(&owner, "acme", "admin").await;
    assert_eq!(
        admin.post(&format!("{O}/archives"), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.get(&format!("{O}/archives")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        key.post(&format!("{O}/archives"), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let archive = archive_ready(&owner, "acme").await;
    // The owner who asked is told, wherever they are.
    let (_, notes) = owner.get("/api/v1/notifications").await;
    assert!(
        notes["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|n| n["event"] == "org_export_ready"),
        "{notes}"
    );
    let (status, list) = owner.get(&format!("{O}/archives")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], archive["id"]);
    assert!(archive["expires_at"].is_string(), "{archive}");
    assert_eq!(
        admin
            .get(&format!("{O}/archives/{}/download", id(&archive)))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // The owner of another organization: acme's archive is not there at all.
    let (status, _) = owner
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for path in [
        format!("/api/v1/orgs/other/archives/{}", id(&archive)),
        format!("/api/v1/orgs/other/archives/{}/download", id(&archive)),
        "/api/v1/orgs/other/archives/nope".to_string(),
    ] {
        assert_eq!(owner.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let outsider = app
        .add_member(&owner, "other", "outsider@example.com", "owner")
        .await;
    assert_eq!(
        outsider.get(&format!("{O}/archives")).await.0,
        StatusCode::NOT_FOUND
    );
    // The request and the download are in the audit log.
    download(&owner, "acme", &archive).await;
    let (_, log) = owner.get(&format!("{O}/audit")).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"org.exported"), "{actions:?}");
    assert!(actions.contains(&"org.export_downloaded"), "{actions:?}");
}

/// A damaged or hostile archive is refused whole: nothing of it is left.
#[tokio::test]
async fn a_damaged_archive_is_refused_and_leaves_nothing() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    created(&s, "contacts", sample_contact("Ada")).await;
    let archive = archive_ready(&s, "acme").await;
    let bytes = download(&s, "acme", &archive).await;
    let dir = app.dir.path().to_path_buf();

    // A row changed after the export: its table's checksum no longer holds.
    let tampered = rewrite(&bytes, |name, data| {
        if name == "tables/contacts.ndjson" {
            String::from_utf8(data)
                .expect("utf8")
                .replace("Ada", "Eve")
                .into_bytes()
        } else {
            data
        }
    });
    // An entry that tries to escape, and a manifest naming a hostile table.
    let hostile = rewrite(&bytes, |name, data| {
        if name == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&data).expect("json");
            m["tables"][0]["name"] = json!("contacts\"; DROP TABLE contacts; --");
            serde_json::to_vec(&m).expect("json")
        } else {
            data
        }
    });
    let not_zip = b"PK not really".to_vec();
    for (what, archive, slug) in [
        ("tampered", tampered, "copy-a"),
        ("hostile", hostile, "copy-b"),
        ("not a zip", not_zip, "copy-c"),
    ] {
        let path = dir.join(format!("{slug}.zip"));
        std::fs::write(&path, archive).expect("write");
        let d = dir.clone();
        let slug2 = slug.to_string();
        let err = tokio::task::spawn_blocking(move || {
            harmonia::crm::archive::load::import_org(&d, &path, &slug2, None)
        })
        .await
        .expect("joined")
        .err()
        .unwrap_or_else(|| panic!("{what}: imported"));
        assert!(!format!("{err:#}").is_empty());
        assert_eq!(
            s.get(&format!("/api/v1/orgs/{slug}/contacts")).await.0,
            StatusCode::NOT_FOUND,
            "{what}: {err:#}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.join("tenants"))
        .expect("tenants")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("importing"))
        .collect();
    assert!(left.is_empty(), "scratch folders left: {left:?}");

    // A slug that is taken is refused too.
    let path = dir.join("again.zip");
    std::fs::write(&path, &bytes).expect("write");
    let d = dir.clone();
    let err = tokio::task::spawn_blocking(move || {
        harmonia::crm::archive::load::import_org(&d, &path, "acme", None)
    })
    .await
    .expect("joined")
    .expect_err("taken");
    assert!(format!("{err:#}").contains("taken"), "{err:#}");
}

/// The same archive with each entry passed through `change`.
fn rewrite(bytes: &[u8], change: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().expect("name").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        std::io::Write::write_all(&mut out, &change(&name, data)).expect("write");
    }
    out.finish().expect("finish").into_inner()
}
