//! Files attached to records: storage (content-addressed, per organization,
//! nothing left behind on refusal), safe serving of hostile content,
//! ranges and ETags, thumbnails without metadata, isolation, roles, the
//! trash, timelines and search, and a crash in the middle of an upload.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;

const MIB: usize = 1024 * 1024;

/// Uploads `bytes` named `name` to `org`, attached to `records` (`kind:id`).
pub async fn upload(
    s: &Session,
    org: &str,
    name: &str,
    bytes: Vec<u8>,
    records: &[String],
) -> (StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new();
    for r in records {
        form = form.text("record", r.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let resp = s
        .http
        .post(format!("{}/api/v1/orgs/{org}/files", s.base))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    json_of(resp).await
}

/// An upload whose multipart body is written by hand: the file name is
/// sent byte for byte as given (clients would escape it).
async fn raw_upload(
    s: &Session,
    org: &str,
    filename: &[u8],
    content: &[u8],
    record: &str,
) -> (StatusCode, Value) {
    let boundary = "XyZzYboundary0123";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n{record}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")
            .as_bytes(),
    );
    body.extend_from_slice(filename);
    body.extend_from_slice(b"\"\r\nContent-Type: image/png\r\n\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = s
        .http
        .post(format!("{}/api/v1/orgs/{org}/files", s.base))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    json_of(resp).await
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET with the session's cookie and extra headers; the raw response.
async fn fetch(s: &Session, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s
        .http
        .get(format!("{}{path}", s.base))
        .header("cookie", &s.cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("get")
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that compress badly (so sizes are real) and differ by `seed`.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn new_contact(s: &Session, org: &str, first: &str) -> String {
    let (status, c) = s
        .post(
            &format!("/api/v1/orgs/{org}/contacts"),
            sample_contact(first),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    format!("contact:{}", c["id"].as_str().expect("id"))
}

async fn org_id(s: &Session, slug: &str) -> String {
    let (_, org) = s.get(&format!("/api/v1/orgs/{slug}")).await;
    org["id"].as_str().expect("org id").to_string()
}

/// Every regular file under `dir` (none when it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn blobs_of(app: &TestApp, org_id: &str) -> Vec<std::path::PathBuf> {
    files_under(
        &app.dir
            .path()
            .join("tenants")
            .join(org_id)
            .join("files")
            .join("blobs"),
    )
}

fn temps_of(app: &TestApp, org_id: &str) -> Vec<std::path::PathBuf> {
    files_under(
        &app.dir
            .path()
            .join("tenants")
            .join(org_id)
            .join("upload-tmp"),
    )
}

async fn upkeep(app: &TestApp, org_id: &str) {
    let tenant = app.state.tenants.get(org_id).await.expect("tenant");
    let store = harmonia::crm::files::routes::store(&app.state, org_id);
    harmonia::crm::files::upkeep(&tenant.db, &store)
        .await
        .expect("upkeep");
}

#[tokio::test]
async fn round_trips_are_byte_identical_and_oversized_uploads_leave_nothing() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let org = org_id(&s, "acme").await;
    for (name, bytes) in [
        ("empty.bin", Vec::new()),
        ("one-kib.bin", noise(1024, 1)),
        ("forty-mib.bin", noise(40 * MIB, 2)),
    ] {
        let (status, f) = upload(&s, "acme", name, bytes.clone(), std::slice::from_ref(&rec)).await;
        assert_eq!(status, StatusCode::CREATED, "{f}");
        assert_eq!(f["size"], json!(bytes.len()));
        assert_eq!(f["sha256"], json!(sha(&bytes)));
        assert_eq!(f["name"], json!(name));
        assert_eq!(f["links"][0]["kind"], json!("contact"));
        let id = f["id"].as_str().expect("id");
        let resp = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/content"), &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let got = resp.bytes().await.expect("body");
        assert_eq!(got.len(), bytes.len());
        assert!(got[..] == bytes[..], "{name} came back different");
    }
    let (_, usage) = s.get("/api/v1/orgs/acme/files/usage").await;
    let used = usage["used_bytes"].as_i64().expect("used");
    assert_eq!(used, (1024 + 40 * MIB) as i64);
    assert_eq!(usage["max_upload_bytes"], json!(50 * MIB));

    // Over the per-file limit: 413 in the error shape, no row, no blob, no temp file.
    let (status, body) = upload(
        &s,
        "acme",
        "huge.bin",
        noise(60 * MIB, 3),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], json!("payload_too_large"));
    let (_, list) = s.get("/api/v1/orgs/acme/files").await;
    assert_eq!(list["items"].as_array().expect("items").len(), 3);
    assert!(!list.to_string().contains("huge.bin"));
    assert_eq!(blobs_of(&app, &org).len(), 3);
    assert!(temps_of(&app, &org).is_empty());
    let (_, usage) = s.get("/api/v1/orgs/acme/files/usage").await;
    assert_eq!(usage["used_bytes"].as_i64(), Some(used));
}

#[tokio::test]
async fn the_org_quota_refuses_what_does_not_fit_and_only_platform_admins_set_it() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let org = org_id(&s, "acme").await;
    let admin_member = app.add_member(&s, "acme", "adm@example.com", "admin").await;
    let (status, _) = admin_member
        .send(
            reqwest::Method::PUT,
            "/api/v1/admin/orgs/acme/file-quota",
            Some(json!({"bytes": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, q) = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/admin/orgs/acme/file-quota",
            Some(json!({"bytes": 3 * MIB})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(q["quota_bytes"], json!(3 * MIB));
    let (status, _) = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/admin/orgs/nope/file-quota",
            Some(json!({"bytes": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let first = noise(2 * MIB, 10);
    let (status, _) = upload(
        &s,
        "acme",
        "a.bin",
        first.clone(),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // The same content again costs nothing.
    let (status, _) = upload(&s, "acme", "a-again.bin", first, std::slice::from_ref(&rec)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = upload(
        &s,
        "acme",
        "b.bin",
        noise(2 * MIB, 11),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("storage")
    );
    assert_eq!(blobs_of(&app, &org).len(), 1);
    assert!(temps_of(&app, &org).is_empty());
    // Back to the default: it fits.
    let (status, q) = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/admin/orgs/acme/file-quota",
            Some(json!({"bytes": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(q["quota_bytes"], json!(5u64 * 1024 * 1024 * 1024));
    let (status, _) = upload(
        &s,
        "acme",
        "b.bin",
        noise(2 * MIB, 11),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn content_is_stored_once_per_org_and_never_shared_between_orgs() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    let (status, body, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let b = b.expect("session");
    let (ra, rb) = (
        new_contact(&a, "acme", "Ada").await,
        new_contact(&b, "bobco", "Bob").await,
    );
    let (oa, ob) = (org_id(&a, "acme").await, org_id(&b, "bobco").await);
    let bytes = noise(100_000, 7);
    let (_, f1) = upload(
        &a,
        "acme",
        "x.bin",
        bytes.clone(),
        std::slice::from_ref(&ra),
    )
    .await;
    let (_, f2) = upload(
        &a,
        "acme",
        "y.bin",
        bytes.clone(),
        std::slice::from_ref(&ra),
    )
    .await;
    let (_, fb) = upload(
        &b,
        "bobco",
        "x.bin",
        bytes.clone(),
        std::slice::from_ref(&rb),
    )
    .await;
    assert_ne!(f1["id"], f2["id"]);
    assert_eq!(
        blobs_of(&app, &oa).len(),
        1,
        "twice in one org is stored once"
    );
    assert_eq!(blobs_of(&app, &ob).len(), 1, "each org has its own copy");

    // Deleting in one org (through the trash and its purge) leaves the other's intact.
    for f in [&f1, &f2] {
        let (status, _) = a
            .delete(&format!(
                "/api/v1/orgs/acme/files/{}",
                f["id"].as_str().expect("id")
            ))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let tenant = app.state.tenants.get(&oa).await.expect("tenant");
    tenant
        .db
        .write(|tx| {
            tx.execute(
                "UPDATE files SET deleted_at = '2000-01-01T00:00:00.000000Z'",
                [],
            )?;
            Ok(())
        })
        .await
        .expect("age the trash");
    app.state.tenants.purge_trash(&tenant).await.expect("purge");
    upkeep(&app, &oa).await;
    assert!(
        blobs_of(&app, &oa).is_empty(),
        "erased content is collected"
    );
    assert_eq!(blobs_of(&app, &ob).len(), 1);
    let resp = fetch(
        &b,
        &format!(
            "/api/v1/orgs/bobco/files/{}/content",
            fb["id"].as_str().expect("id")
        ),
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.expect("body")[..] == bytes[..]);
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn check_safe(h: &HeaderMap, what: &str) {
    let get = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert!(
        get("content-security-policy").starts_with("sandbox"),
        "{what}: {}",
        get("content-security-policy")
    );
    let ct = get("content-type");
    assert!(
        !ct.contains("html") && !ct.contains("svg") && !ct.contains("xml"),
        "{what}: {ct}"
    );
}

#[tokio::test]
async fn hostile_files_are_served_as_downloads_that_cannot_run() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let html = b"<!DOCTYPE html><html><body><script>document.title='pwned'</script></body></html>"
        .to_vec();
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("page.html", html.clone(), "text/html"),
        ("drawing.svg", svg, "image/svg+xml"),
        ("photo.png", html, "text/html"),
        ("setup.exe", png(4, 4), "image/png"),
    ];
    for (name, bytes, sniffed) in cases {
        let (status, f) = upload(&s, "acme", name, bytes, std::slice::from_ref(&rec)).await;
        assert_eq!(status, StatusCode::CREATED, "{f}");
        assert_eq!(
            f["content_type"],
            json!(sniffed),
            "{name}: the type comes from the bytes"
        );
        let id = f["id"].as_str().expect("id");
        for q in ["", "?inline=true"] {
            let resp = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/content{q}"), &[]).await;
            assert_eq!(resp.status(), StatusCode::OK);
            check_safe(resp.headers(), name);
            let cd = resp.headers()["content-disposition"]
                .to_str()
                .expect("cd")
                .to_string();
            let inline = q.contains("inline") && sniffed == "image/png";
            assert!(
                cd.starts_with(if inline { "inline;" } else { "attachment;" }),
                "{name}{q}: {cd}"
            );
        }
    }
    // Hostile names, sent byte for byte in the part's header.
    let long = "a".repeat(1000) + ".pdf";
    let names: Vec<(Vec<u8>, &str)> = vec![
        (b"../../etc/passwd".to_vec(), "passwd"),
        (b"..\\..\\windows\\win.ini".to_vec(), "win.ini"),
        (b"a\0b.txt".to_vec(), "ab.txt"),
        (
            "invoice\u{202E}fdp.exe".as_bytes().to_vec(),
            "invoicefdp.exe",
        ),
        (b"quote\\\"d; x=1.txt".to_vec(), ""),
        (long.as_bytes().to_vec(), ""),
    ];
    let mut stored = Vec::new();
    for (raw, expect) in names {
        // In the part's header, byte for byte: a header the multipart parser
        // cannot read (a NUL) is a 400 in the error shape; anything else is stored.
        let (status, f) = raw_upload(&s, "acme", &raw, b"hello", &rec).await;
        match status {
            StatusCode::CREATED => stored.push((f, expect)),
            StatusCode::BAD_REQUEST => assert!(raw.contains(&0), "{f}"),
            other => panic!("{other}: {f}"),
        }
        // As the `name` part, in the body: always stored, cleaned.
        let form = reqwest::multipart::Form::new()
            .text("record", rec.clone())
            .text("name", String::from_utf8_lossy(&raw).into_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("x"),
            );
        let resp = s
            .http
            .post(format!("{}/api/v1/orgs/acme/files", s.base))
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let (status, f) = json_of(resp).await;
        assert_eq!(status, StatusCode::CREATED, "{f}");
        stored.push((f, expect));
    }
    assert!(stored.len() >= 11);
    for (f, expect) in stored {
        let name = f["name"].as_str().expect("name").to_string();
        if !expect.is_empty() {
            assert_eq!(name, expect);
        }
        assert!(
            name.len() <= 255
                && !name.contains('/')
                && !name.contains('\\')
                && !name.contains('\0')
        );
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c))
        );
        let id = f["id"].as_str().expect("id");
        let resp = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/content"), &[]).await;
        check_safe(resp.headers(), &name);
        let cd = resp.headers()["content-disposition"]
            .to_str()
            .expect("ascii header")
            .to_string();
        assert!(cd.starts_with("attachment; filename=\""), "{cd}");
        assert!(cd.contains("filename*=UTF-8''"), "{cd}");
        // One quoted ASCII name, then the encoded one: nothing breaks out.
        let ascii = cd
            .split("filename=\"")
            .nth(1)
            .expect("name")
            .split('"')
            .next()
            .expect("end");
        assert!(!ascii.contains(';') && !ascii.contains('\\'), "{cd}");
        assert_eq!(cd.matches('"').count(), 2, "{cd}");
    }
    // Renames are cleaned the same way.
    let (_, f) = upload(
        &s,
        "acme",
        "ok.txt",
        b"x".to_vec(),
        std::slice::from_ref(&rec),
    )
    .await;
    let id = f["id"].as_str().expect("id");
    let (status, r) = s
        .patch(
            &format!("/api/v1/orgs/acme/files/{id}"),
            json!({"name": "../x\u{202E}y.txt"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["name"], json!("xy.txt"));
    let (status, _) = s
        .patch(
            &format!("/api/v1/orgs/acme/files/{id}"),
            json!({"name": "\u{202E}/"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn ranges_etags_and_the_api_shape() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let bytes = noise(10_000, 5);
    let (_, f) = upload(
        &s,
        "acme",
        "r.bin",
        bytes.clone(),
        std::slice::from_ref(&rec),
    )
    .await;
    let url = format!(
        "/api/v1/orgs/acme/files/{}/content",
        f["id"].as_str().expect("id")
    );
    let resp = fetch(&s, &url, &[]).await;
    let etag = resp.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(etag, format!("\"{}\"", sha(&bytes)));
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert!(resp.headers().get("content-encoding").is_none());
    let resp = fetch(&s, &url, &[("range", "bytes=100-199")]).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.headers()["content-range"], "bytes 100-199/10000");
    assert!(resp.bytes().await.expect("body")[..] == bytes[100..200]);
    let resp = fetch(&s, &url, &[("range", "bytes=-10")]).await;
    assert!(resp.bytes().await.expect("body")[..] == bytes[9990..]);
    let resp = fetch(&s, &url, &[("range", "bytes=20000-")]).await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()["content-range"], "bytes */10000");
    let resp = fetch(
        &s,
        &url,
        &[("range", "bytes=0-9"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "a stale If-Range gets everything"
    );
    let resp = fetch(&s, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // The list by record, the metadata, attach and detach, rename.
    let other = new_contact(&s, "acme", "Grace").await;
    let id = f["id"].as_str().expect("id");
    let (status, g) = s.get(&format!("/api/v1/orgs/acme/files/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["created_by"], json!(s.user_id));
    assert_eq!(g["links"][0]["name"], json!("Ada Lovelace"));
    let (kind, oid) = other.split_once(':').expect("ref");
    let (status, g) = s
        .post(
            &format!("/api/v1/orgs/acme/files/{id}/links"),
            json!({"kind": kind, "id": oid}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["links"].as_array().expect("links").len(), 2);
    let (_, list) = s
        .get_query("/api/v1/orgs/acme/files", &[("record", &other)])
        .await;
    assert_eq!(list["items"][0]["id"], json!(id));
    let (status, g) = s
        .delete(&format!("/api/v1/orgs/acme/files/{id}/links/{kind}/{oid}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["links"].as_array().expect("links").len(), 1);
    let (_, list) = s
        .get_query("/api/v1/orgs/acme/files", &[("record", &other)])
        .await;
    assert_eq!(list["items"].as_array().expect("items").len(), 0);
    let (status, _) = s
        .delete(&format!("/api/v1/orgs/acme/files/{id}/links/{kind}/{oid}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = s
        .post(
            &format!("/api/v1/orgs/acme/files/{id}/links"),
            json!({"kind": "contact", "id": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, e) = s
        .get_query("/api/v1/orgs/acme/files", &[("record", "planet:1")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Uploading to a record that does not exist keeps nothing.
    let (status, _) = upload(
        &s,
        "acme",
        "z.bin",
        noise(1000, 99),
        &["contact:nope".to_string()],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Not multipart, no file part, two file parts: 4xx in the error shape.
    let (status, e) = s
        .post("/api/v1/orgs/acme/files", json!({"name": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{e}");
    assert!(e["error"]["code"].is_string());
    let form = reqwest::multipart::Form::new().text("record", rec.clone());
    let resp = s
        .http
        .post(format!("{}/api/v1/orgs/acme/files", s.base))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"1".to_vec()).file_name("1"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"2".to_vec()).file_name("2"),
        );
    let resp = s
        .http
        .post(format!("{}/api/v1/orgs/acme/files", s.base))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let org = org_id(&s, "acme").await;
    assert!(temps_of(&app, &org).is_empty());
}

#[tokio::test]
async fn the_trash_the_timeline_and_search() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let (_, f) = upload(
        &s,
        "acme",
        "Quarterly-Proposal_v2.pdf",
        b"%PDF-1.4\n%%EOF\n".to_vec(),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(f["content_type"], json!("application/pdf"));
    let id = f["id"].as_str().expect("id").to_string();
    let cid = rec.split_once(':').expect("ref").1;
    let (_, tl) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{cid}/timeline?types=files"
        ))
        .await;
    let items = tl["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{tl}");
    assert_eq!(items[0]["event"], json!("added"));
    assert_eq!(items[0]["item"]["name"], json!("Quarterly-Proposal_v2.pdf"));
    assert_eq!(items[0]["actor"], json!(s.user_id));
    // Found by a word of its name.
    let start = std::time::Instant::now();
    loop {
        let (_, found) = s
            .get("/api/v1/orgs/acme/search?q=proposal&types=file")
            .await;
        if found["items"][0]["id"] == json!(id) {
            assert_eq!(found["items"][0]["subtitle"], json!("Ada Lovelace"));
            break;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "search never found the file: {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Trash: gone from everything, restorable.
    assert_eq!(
        s.delete(&format!("/api/v1/orgs/acme/files/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get(&format!("/api/v1/orgs/acme/files/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/content"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (_, tl) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{cid}/timeline?types=files"
        ))
        .await;
    assert_eq!(tl["items"].as_array().expect("items").len(), 0);
    let (_, list) = s.get("/api/v1/orgs/acme/files").await;
    assert_eq!(list["items"].as_array().expect("items").len(), 0);
    assert_eq!(
        s.delete(&format!("/api/v1/orgs/acme/files/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, back) = s
        .post(&format!("/api/v1/orgs/acme/files/{id}/restore"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["name"], json!("Quarterly-Proposal_v2.pdf"));
    assert_eq!(
        s.post(&format!("/api/v1/orgs/acme/files/{id}/restore"), json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let resp = fetch(
        &s,
        &format!("/api/v1/orgs/acme/files/{id}/content?inline=true"),
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("inline;")
    );
    assert_eq!(resp.headers()["content-type"], "application/pdf");
}

#[tokio::test]
async fn deleted_files_wait_in_the_trash_beside_records() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let (_, f) = upload(
        &s,
        "acme",
        "contract.pdf",
        b"%PDF-1.4\n%%EOF\n".to_vec(),
        std::slice::from_ref(&rec),
    )
    .await;
    let id = f["id"].as_str().expect("id").to_string();
    let file = format!("/api/v1/orgs/acme/files/{id}");
    assert_eq!(s.delete(&file).await.0, StatusCode::NO_CONTENT);
    let cid = rec.split_once(':').expect("ref").1;
    assert_eq!(
        s.delete(&format!("/api/v1/orgs/acme/contacts/{cid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, trash) = s.get("/api/v1/orgs/acme/trash").await;
    let kinds: Vec<&str> = trash["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["contact", "file"], "newest deletion first: {trash}");
    let (_, only) = s.get("/api/v1/orgs/acme/trash?kind=file").await;
    let items = only["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{only}");
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["name"], json!("contract.pdf"));
    assert_eq!(items[0]["deleted_by"], json!(s.user_id));
    // Restored through the trash as through the file's own route.
    let (status, body) = s
        .post(
            "/api/v1/orgs/acme/trash/restore",
            json!({"items": [{"kind": "file", "id": id}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.get(&file).await.0, StatusCode::OK);
    assert_eq!(s.delete(&file).await.0, StatusCode::NO_CONTENT);
    // Erasing is for admins of this organization only.
    let member = app
        .add_member(&s, "acme", "member@example.com", "member")
        .await;
    let erase = format!("/api/v1/orgs/acme/trash/file/{id}");
    assert_eq!(member.delete(&erase).await.0, StatusCode::FORBIDDEN);
    let (status, _) = s
        .post("/api/v1/orgs", json!({"name": "Other", "slug": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        s.delete(&format!("/api/v1/orgs/other/trash/file/{id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.post(
            "/api/v1/orgs/other/trash/restore",
            json!({"items": [{"kind": "file", "id": id}]}),
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.delete(&erase).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&file).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        s.post(&format!("{file}/restore"), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.delete(&erase).await.0, StatusCode::NOT_FOUND);
    let (_, only) = s.get("/api/v1/orgs/acme/trash?kind=file").await;
    assert_eq!(only["items"], json!([]));
}

/// A JPEG carrying an EXIF block with GPS coordinates.
fn jpeg_with_gps() -> Vec<u8> {
    let img = image::RgbImage::from_fn(400, 300, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 50])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .expect("jpeg");
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x88\x25\0\x04\0\0\0\x01\0\0\0\x1a\0\0\0\0GPSLatitude=48.8584N".to_vec();
    let len = (exif.len() + 2) as u16;
    let mut app1 = vec![0xFF, 0xE1, (len >> 8) as u8, len as u8];
    app1.append(&mut exif);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG that claims to be 100,000 × 100,000 pixels (a decompression bomb's header).
fn png_bomb() -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

#[tokio::test]
async fn thumbnails_are_made_without_metadata_and_bombs_are_refused() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let org = org_id(&s, "acme").await;
    let (_, jpg) = upload(
        &s,
        "acme",
        "holiday.jpg",
        jpeg_with_gps(),
        std::slice::from_ref(&rec),
    )
    .await;
    let (_, bomb) = upload(
        &s,
        "acme",
        "bomb.png",
        png_bomb(),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(bomb["content_type"], json!("image/png"));
    let (_, txt) = upload(
        &s,
        "acme",
        "notes.txt",
        b"plain".to_vec(),
        std::slice::from_ref(&rec),
    )
    .await;
    // The job makes whatever the upload's own task has not made yet.
    upkeep(&app, &org).await;
    let id = jpg["id"].as_str().expect("id");
    let (_, meta) = s.get(&format!("/api/v1/orgs/acme/files/{id}")).await;
    assert_eq!(meta["has_thumbnail"], json!(true), "{meta}");
    assert_eq!(
        (meta["width"].clone(), meta["height"].clone()),
        (json!(400), json!(300))
    );
    let resp = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/thumbnail"), &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    check_safe(resp.headers(), "thumbnail");
    let thumb = resp.bytes().await.expect("thumb");
    assert!(thumb.len() > 100);
    let original = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/content"), &[])
        .await
        .bytes()
        .await
        .expect("o");
    assert!(
        original.windows(11).any(|w| w == b"GPSLatitude"),
        "the original is kept as uploaded"
    );
    assert!(!thumb.windows(4).any(|w| w == b"Exif"), "EXIF is stripped");
    assert!(!thumb.windows(11).any(|w| w == b"GPSLatitude"));
    let t = image::load_from_memory(&thumb).expect("a real image");
    assert_eq!((t.width(), t.height()), (320, 240));
    for f in [&bomb, &txt] {
        let id = f["id"].as_str().expect("id");
        let (_, meta) = s.get(&format!("/api/v1/orgs/acme/files/{id}")).await;
        assert_eq!(meta["has_thumbnail"], json!(false), "{meta}");
        let resp = fetch(&s, &format!("/api/v1/orgs/acme/files/{id}/thumbnail"), &[]).await;
        assert_eq!(resp.status(), StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn another_orgs_files_are_404_and_viewers_only_read() {
    let app = spawn_app_with(|c| c.allow_signup = true).await;
    let a = app.setup_owner().await;
    let (_, _, b) = app
        .anon()
        .sign_in_via(
            "/api/v1/auth/signup",
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "org_name": "Bobco"}),
        )
        .await;
    let b = b.expect("session");
    let ra = new_contact(&a, "acme", "Ada").await;
    let rb = new_contact(&b, "bobco", "Bob").await;
    let (_, f) = upload(
        &a,
        "acme",
        "secret.png",
        png(8, 8),
        std::slice::from_ref(&ra),
    )
    .await;
    let id = f["id"].as_str().expect("id");
    let org = org_id(&a, "acme").await;
    upkeep(&app, &org).await;
    let (rk, rid) = rb.split_once(':').expect("ref");
    // B's session, B's slug, A's file id: exactly like a missing file.
    for path in [
        format!("/api/v1/orgs/bobco/files/{id}"),
        format!("/api/v1/orgs/bobco/files/{id}/content"),
        format!("/api/v1/orgs/bobco/files/{id}/thumbnail"),
    ] {
        let resp = fetch(&b, &path, &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = b
        .post(
            &format!("/api/v1/orgs/bobco/files/{id}/links"),
            json!({"kind": rk, "id": rid}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.patch(
            &format!("/api/v1/orgs/bobco/files/{id}"),
            json!({"name": "x"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.delete(&format!("/api/v1/orgs/bobco/files/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post(&format!("/api/v1/orgs/bobco/files/{id}/restore"), json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (ak, aid) = ra.split_once(':').expect("ref");
    assert_eq!(
        b.delete(&format!("/api/v1/orgs/bobco/files/{id}/links/{ak}/{aid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // B's session on A's slug: not a member, 404 before anything.
    assert_eq!(
        fetch(&b, &format!("/api/v1/orgs/acme/files/{id}/content"), &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // B cannot attach its own file to A's record either.
    let (_, fb) = upload(
        &b,
        "bobco",
        "mine.txt",
        b"b".to_vec(),
        std::slice::from_ref(&rb),
    )
    .await;
    let (status, _) = b
        .post(
            &format!(
                "/api/v1/orgs/bobco/files/{}/links",
                fb["id"].as_str().expect("id")
            ),
            json!({"kind": ak, "id": aid}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = b.get("/api/v1/orgs/bobco/files").await;
    assert!(!list.to_string().contains("secret.png"));

    // Roles: a viewer downloads and lists, but cannot upload, rename, attach or delete.
    let viewer = app
        .add_member(&a, "acme", "vera@example.com", "viewer")
        .await;
    let resp = fetch(
        &viewer,
        &format!("/api/v1/orgs/acme/files/{id}/content"),
        &[],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        viewer
            .get(&format!("/api/v1/orgs/acme/files?record={ra}"))
            .await
            .0,
        StatusCode::OK
    );
    let (status, e) = upload(
        &viewer,
        "acme",
        "v.txt",
        b"v".to_vec(),
        std::slice::from_ref(&ra),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(
        viewer
            .delete(&format!("/api/v1/orgs/acme/files/{id}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .patch(
                &format!("/api/v1/orgs/acme/files/{id}"),
                json!({"name": "v"})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let member = app.add_member(&a, "acme", "mo@example.com", "member").await;
    let (status, _) = upload(
        &member,
        "acme",
        "m.txt",
        b"m".to_vec(),
        std::slice::from_ref(&ra),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        member
            .delete(&format!("/api/v1/orgs/acme/files/{id}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn backups_carry_the_files_but_not_uploads_in_progress() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let rec = new_contact(&s, "acme", "Ada").await;
    let org = org_id(&s, "acme").await;
    let bytes = noise(300_000, 42);
    let (status, _) = upload(
        &s,
        "acme",
        "contract.pdf",
        bytes.clone(),
        std::slice::from_ref(&rec),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // A half-written upload of another process must not be copied.
    let tmp = app.dir.path().join("tenants").join(&org).join("upload-tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    std::fs::write(tmp.join("someone-else"), b"partial").expect("partial");
    let out = tempfile::tempdir().expect("out");
    let key = harmonia::backup::BackupKey::load(&out.path().join("key"), true).expect("key");
    let summary = harmonia::backup::create(
        app.dir.path(),
        &out.path().join("b.backup"),
        &key,
        Some("acme"),
    )
    .expect("backup");
    let blob = format!(
        "tenants/{org}/files/blobs/{}/{}",
        &sha(&bytes)[..2],
        sha(&bytes)
    );
    let part = summary
        .manifest
        .parts
        .iter()
        .find(|p| p.path == blob)
        .unwrap_or_else(|| panic!("no {blob} in the backup"));
    assert_eq!(part.size, bytes.len() as u64);
    assert_eq!(part.sha256, sha(&bytes));
    assert!(
        !summary
            .manifest
            .parts
            .iter()
            .any(|p| p.path.contains("upload-tmp"))
    );
}
