use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    let bin = env!("CARGO_BIN_EXE_harmonia");
    let data = dir.path().join("data");
    let ok = Command::new(bin)
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

    let spawn = || {
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("HARMONIA_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let mut addr = String::new();
        for line in BufReader::new(out).lines() {
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
        (child, format!("http://{addr}"))
    };

    let (mut child, base) = spawn();
    let anon = Anon {
        base: base.clone(),
        http: reqwest::Client::new(),
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
        http: reqwest::Client::new(),
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
