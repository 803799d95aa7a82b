use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    let s = app.setup_owner().await;
    let (_, c) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let (_, co) = s
        .post("/api/v1/orgs/acme/companies", json!({"name": "Globex"}))
        .await;
    let (dir, config) = app.stop().await;

    let app = start(dir, config).await;
    let s = app.login("owner@example.com", PASSWORD).await;
    let (status, again) = s
        .get(&format!(
            "/api/v1/orgs/acme/contacts/{}",
            c["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, c);
    let (status, _) = s
        .get(&format!(
            "/api/v1/orgs/acme/companies/{}",
            co["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The real binary, killed with SIGKILL right after answering: every write it
/// acknowledged is there when it starts again.
#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let data = setup_with_cli(dir.path());

    let spawn = || spawn_server(&data);

    let (mut child, base) = spawn();
    let anon = Anon {
        base: base.clone(),
        http: crate::helpers::http_client(),
    };
    let (_, _, s) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    let s = s.expect("session");
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, c) = s
            .post(
                "/api/v1/orgs/acme/contacts",
                sample_contact(&format!("K{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(c["id"].as_str().expect("id").to_string());
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");

    let (mut child, base) = spawn();
    let anon = Anon {
        base,
        http: crate::helpers::http_client(),
    };
    let (_, _, s) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    let s = s.expect("session");
    for id in &ids {
        assert_eq!(
            s.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(contact_count(&s, "acme").await, 20);
    // Whether or not the indexer had run before the kill, search finds them all.
    let start = std::time::Instant::now();
    loop {
        let (_, found) = s.get("/api/v1/orgs/acme/search?q=lovelace&limit=50").await;
        let n = found["items"].as_array().map(Vec::len).unwrap_or(0);
        if n == 20 {
            break;
        }
        assert!(start.elapsed().as_secs() < 10, "search found {n} of 20");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().expect("kill");
    let _ = child.wait();
}

/// Starts the real binary on `data` and returns it with its base URL.
fn spawn_server(data: &std::path::Path) -> (std::process::Child, String) {
    spawn_server_with(data, &[])
}

/// The same with more `serve` options.
pub(crate) fn spawn_server_with(
    data: &std::path::Path,
    options: &[&str],
) -> (std::process::Child, String) {
    let bin = env!("CARGO_BIN_EXE_harmonia");
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(options)
        .env("HARMONIA_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let mut addr = String::new();
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("address=").nth(1) {
            addr = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            break;
        }
    }
    assert!(!addr.is_empty(), "server did not report its address");
    // Keep reading its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

/// kill -9 in the middle of concurrent writes, ten times over: every write
/// that was answered 2xx is there after each restart, the databases pass
/// `integrity_check`, and the search index catches up with what survived.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_concurrent_writes_loses_no_acknowledged_write() {
    const TRIALS: usize = 10;
    const WRITERS: usize = 8;
    let dir = tempfile::tempdir().expect("dir");
    let data = setup_with_cli(dir.path());

    // One API key for every trial (signing in costs an argon2 hash each time).
    let (mut child, base) = spawn_server(&data);
    let anon = Anon {
        base: base.clone(),
        http: crate::helpers::http_client(),
    };
    let (_, _, s) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    let (status, key) = s
        .expect("session")
        .post(
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "crash test", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().expect("secret").to_string();
    child.kill().expect("kill");
    child.wait().expect("wait");

    let mut acknowledged: Vec<(String, String)> = Vec::new(); // (id, unique word)
    let mut ended_at = Vec::new();
    for trial in 0..TRIALS {
        let (mut child, base) = spawn_server(&data);
        let http = crate::helpers::http_client();
        let answered = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (http, base, secret) = (http.clone(), base.clone(), secret.clone());
                let answered = answered.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for n in 0.. {
                        let word = format!("crashword{trial}x{w}x{n}");
                        let sent = http
                            .post(format!("{base}/api/v1/orgs/acme/contacts"))
                            .bearer_auth(&secret)
                            .json(&json!({"first_name": word, "last_name": "Crash"}))
                            .send()
                            .await;
                        let Ok(resp) = sent else { break };
                        if !resp.status().is_success() {
                            assert!(
                                !resp.status().is_server_error(),
                                "a write answered {}",
                                resp.status()
                            );
                            continue;
                        }
                        let Ok(body) = resp.json::<serde_json::Value>().await else {
                            break;
                        };
                        mine.push((body["id"].as_str().expect("id").to_string(), word));
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    mine
                })
            })
            .collect();
        // Once writes flow (a busy machine may take a while to start the
        // server), kill at a different moment each trial, mid-stream.
        let start = std::time::Instant::now();
        while answered.load(Ordering::SeqCst) == 0 {
            assert!(
                start.elapsed().as_secs() < 60,
                "trial {trial}: no write answered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20 + 30 * trial as u64)).await;
        child.kill().expect("kill -9");
        child.wait().expect("wait");
        let before = acknowledged.len();
        for w in writers {
            acknowledged.extend(w.await.expect("writer"));
        }
        assert!(acknowledged.len() > before, "trial {trial} wrote nothing");
        ended_at.push(acknowledged.len());
    }

    // Everything acknowledged is there.
    let (mut child, base) = spawn_server(&data);
    let key = ApiKeyClient {
        base,
        http: crate::helpers::http_client(),
        secret,
        id: String::new(),
    };
    let mut present = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orgs/acme/contacts?limit=200&cursor={c}"),
            None => "/api/v1/orgs/acme/contacts?limit=200".to_string(),
        };
        let (status, page) = key.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["items"].as_array().expect("items") {
            present.insert(c["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|(id, _)| !present.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );

    // The index catches up: the last writes before each kill are found.
    for end in ended_at {
        for (id, word) in &acknowledged[end.saturating_sub(3)..end] {
            let start = std::time::Instant::now();
            loop {
                let (_, found) = key.get(&format!("/api/v1/orgs/acme/search?q={word}")).await;
                let hit = found["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["id"] == id.as_str()));
                if hit {
                    break;
                }
                assert!(start.elapsed().as_secs() < 20, "search never found {word}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let org = std::fs::read_dir(data.join("tenants"))
        .expect("tenants")
        .flatten()
        .next()
        .expect("org")
        .path();
    for db in [data.join("harmonia.db"), org.join("crm.db")] {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let verdict: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(verdict, "ok", "{}", db.display());
    }
}

/// Organization "Acme" and its owner, made by `harmonia setup` in `dir/data`.
pub(crate) fn setup_with_cli(dir: &std::path::Path) -> std::path::PathBuf {
    let pw = dir.join("pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let data = dir.join("data");
    let ok = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "setup",
            "--org-name",
            "Acme",
            "--email",
            "owner@example.com",
            "--password-file",
        ])
        .arg(&pw)
        .env("HARMONIA_LOG", "warn")
        .status()
        .expect("setup");
    assert!(ok.success());
    data
}

/// kill -9 in the middle of a large upload: after the restart every file
/// listed has its content (no row without a blob); the half-written upload
/// is left as a temporary file, which the files job removes together with
/// any blob no row names.
#[tokio::test]
async fn kill_9_mid_upload_leaves_no_row_without_a_blob() {
    use crate::files::{noise, upload};
    let dir = tempfile::tempdir().expect("dir");
    let data = setup_with_cli(dir.path());
    let (mut child, base) = spawn_server(&data);
    let anon = Anon {
        base: base.clone(),
        http: crate::helpers::http_client(),
    };
    let login = json!({"email": "owner@example.com", "password": PASSWORD});
    let (_, _, s) = anon.sign_in_via("/api/v1/auth/login", login.clone()).await;
    let s = s.expect("session");
    let (_, c) = s
        .post("/api/v1/orgs/acme/contacts", sample_contact("Kim"))
        .await;
    let rec = format!("contact:{}", c["id"].as_str().expect("id"));
    for i in 0..3 {
        let (status, f) = upload(
            &s,
            "acme",
            &format!("f{i}.bin"),
            noise(1 << 20, i),
            std::slice::from_ref(&rec),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{f}");
    }
    let org_id: String = rusqlite::Connection::open(data.join("harmonia.db"))
        .expect("control")
        .query_row("SELECT id FROM orgs WHERE slug = 'acme'", [], |r| r.get(0))
        .expect("org");
    let org_dir = data.join("tenants").join(&org_id);

    // A 40 MiB upload that never finishes: a hand-written multipart body
    // whose file part keeps coming, slowly.
    let boundary = "killboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"record\"\r\n\r\n{rec}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    );
    let chunks = futures_util::stream::unfold(0u32, |i| async move {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        (i < 160).then(|| {
            (
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![i as u8; 256 * 1024])),
                i + 1,
            )
        })
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(
            async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) },
        ),
        chunks,
    );
    let req = s
        .http
        .post(format!("{base}/api/v1/orgs/acme/files"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let pending = tokio::spawn(req);
    let tmp = org_dir.join("upload-tmp");
    let start = std::time::Instant::now();
    loop {
        let written: u64 = std::fs::read_dir(&tmp)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        if written > 4 << 20 {
            break;
        }
        assert!(start.elapsed().as_secs() < 30, "the upload never got going");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    pending.abort();

    let (mut child, base) = spawn_server(&data);
    let anon = Anon {
        base,
        http: crate::helpers::http_client(),
    };
    let (_, _, s) = anon.sign_in_via("/api/v1/auth/login", login).await;
    let s = s.expect("session");
    let (_, list) = s.get("/api/v1/orgs/acme/files").await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{list}");
    for f in items {
        let resp = s
            .http
            .get(format!(
                "{}/api/v1/orgs/acme/files/{}/content",
                s.base,
                f["id"].as_str().expect("id")
            ))
            .header("cookie", &s.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.bytes().await.expect("body").len(), 1 << 20);
    }
    child.kill().expect("kill");
    let _ = child.wait();

    // What the crash left: the half upload, and (as a crash between the
    // blob's move and the commit would leave) a blob no row names.
    let leftovers: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").flatten().collect();
    assert!(leftovers.len() <= 1);
    let stray = "ab".repeat(32);
    let stray_path = org_dir.join("files/blobs/ab").join(&stray);
    std::fs::create_dir_all(stray_path.parent().expect("dir")).expect("dir");
    std::fs::write(&stray_path, b"orphan").expect("stray");

    let db = harmonia::db::Db::open(
        &org_dir.join("crm.db"),
        harmonia::db::Schema::Tenant,
        &harmonia::db::DbOptions::new(false),
    )
    .expect("open");
    let store = harmonia::crm::files::blobs::Store::new(org_dir.clone(), false);
    let (removed, _) = harmonia::crm::files::upkeep(&std::sync::Arc::new(db), &store)
        .await
        .expect("upkeep");
    assert_eq!(removed, leftovers.len() + 1);
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 0);
    assert!(!stray_path.exists());
    let mut blobs = 0;
    for d in std::fs::read_dir(org_dir.join("files/blobs"))
        .expect("blobs")
        .flatten()
    {
        blobs += std::fs::read_dir(d.path()).expect("dir").count();
    }
    assert_eq!(blobs, 3, "every file's blob is still there");
}
