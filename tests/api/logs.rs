//! Logs: a whole server run (the real binary, JSON lines, debug level) never
//! writes a password, token, API key, cookie or request body; every request
//! line carries the id answered in X-Request-Id, which is taken from the
//! client only behind a trusted proxy.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn a_full_server_run_logs_no_secret_and_an_id_on_every_request() {
    let data = tempfile::tempdir().expect("dir");
    let work = tempfile::tempdir().expect("dir");
    let bin = env!("CARGO_BIN_EXE_harmonia");
    let password = "log-test passphrase 93e1c";
    let wrong = "wrong-passphrase-55a1f";
    let metrics_token = "metrics-secret-0c4d9b7e";
    let body_text = "Quartermaine";
    let pw = work.path().join("pw");
    std::fs::write(&pw, format!("{password}\n")).expect("pw");
    let setup = Command::new(bin)
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "setup",
            "--org-name",
            "Acme",
            "--email",
            "owner@acme.example",
        ])
        .arg("--password-file")
        .arg(&pw)
        .env("HARMONIA_LOG", "debug")
        .output()
        .expect("setup");
    assert!(setup.status.success(), "{setup:?}");

    let port = free_port();
    let log_path = work.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut server = Command::new(bin)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--metrics-token", metrics_token])
        .env("HARMONIA_LOG", "debug")
        .env_remove("HARMONIA_METRICS_TOKEN")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");

    let mut ids = Vec::new();
    let mut id_of = |resp: &reqwest::Response| {
        let id = resp
            .headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .expect("ascii")
            .to_string();
        ids.push(id.clone());
        id
    };
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "owner@acme.example", "password": wrong}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    id_of(&resp);
    let resp = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "owner@acme.example", "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::OK);
    id_of(&resp);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(harmonia::auth::session::COOKIE_NAME))
        .expect("session cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let session_value = cookie.split_once('=').expect("=").1.to_string();
    let body: Value = resp.json().await.expect("json");
    let csrf = body["csrf_token"].as_str().expect("csrf").to_string();
    let resp = http
        .post(format!("{base}/api/v1/orgs/acme/api-keys"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "logs", "role": "owner"}))
        .send()
        .await
        .expect("api key");
    assert_eq!(resp.status(), StatusCode::CREATED);
    id_of(&resp);
    let key: Value = resp.json().await.expect("json");
    let secret = key["secret"].as_str().expect("secret").to_string();
    let resp = http
        .post(format!("{base}/api/v1/orgs/acme/contacts"))
        .bearer_auth(&secret)
        .json(&json!({"first_name": "Zebulon", "last_name": body_text}))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), StatusCode::CREATED);
    id_of(&resp);
    // A client's own X-Request-Id is not taken without a trusted proxy.
    let resp = http
        .get(format!("{base}/api/v1/orgs/acme/contacts?q=Zebulon"))
        .bearer_auth(&secret)
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .expect("list");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_ne!(id_of(&resp), "client-chosen-id");
    let resp = http
        .get(format!("{base}/metrics"))
        .bearer_auth(metrics_token)
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    id_of(&resp);

    // SAFETY: kill sends a signal to the child we started.
    unsafe {
        libc::kill(server.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = server.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(&log_path).expect("logs");

    for (what, secret) in [
        ("password", password),
        ("wrong password", wrong),
        ("API key", secret.as_str()),
        ("session cookie", session_value.as_str()),
        ("CSRF token", csrf.as_str()),
        ("metrics token", metrics_token),
        ("request body", body_text),
    ] {
        assert!(!logs.contains(secret), "the {what} is in the logs:\n{logs}");
    }
    // Every line is JSON; every request line carries its request's id.
    let mut request_lines = 0;
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["fields"]["route"].is_string() {
            request_lines += 1;
            let id = v["span"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id: {line}"));
            assert!(!id.is_empty(), "{line}");
        }
    }
    for id in &ids {
        assert!(
            logs.contains(id.as_str()),
            "request {id} not in the logs:\n{logs}"
        );
    }
    assert!(
        request_lines >= ids.len(),
        "{request_lines} request lines:\n{logs}"
    );
}

async fn request_id(app: &TestApp, given: &str) -> String {
    let resp = reqwest::Client::new()
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", given)
        .send()
        .await
        .expect("get");
    resp.headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .expect("ascii")
        .to_string()
}

#[tokio::test]
async fn a_trusted_proxy_hands_on_its_request_id_but_not_a_hostile_one() {
    let app = spawn_app_with(|c| c.trust_forwarded_for = true).await;
    assert_eq!(request_id(&app, "proxy-req-42").await, "proxy-req-42");
    for hostile in [
        "x".repeat(65),
        "id with spaces".into(),
        "id\"},{\"level\":\"ERROR".into(),
        "<script>".into(),
    ] {
        let got = request_id(&app, &hostile).await;
        assert_ne!(got, hostile);
        assert_eq!(got.len(), 32, "{got}");
    }

    let untrusting = spawn_app().await;
    let got = request_id(&untrusting, "proxy-req-42").await;
    assert_ne!(got, "proxy-req-42");
    assert!(got.bytes().all(|b| b.is_ascii_hexdigit()), "{got}");
}
