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
    let http = crate::helpers::http_client();
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
    // Tokens that travel in paths and query strings: an invitation and a
    // password reset link, each opened through the API and the UI.
    let resp = http
        .post(format!("{base}/api/v1/orgs/acme/members"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"email": "invitee@acme.example", "role": "member"}))
        .send()
        .await
        .expect("invite");
    assert_eq!(resp.status(), StatusCode::CREATED);
    id_of(&resp);
    let invited: Value = resp.json().await.expect("json");
    let invite_token = token_of(invited["invite_url"].as_str().expect("invite url"));
    let resp = http
        .get(format!("{base}/api/v1/orgs/acme/members"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("members");
    id_of(&resp);
    let members: Value = resp.json().await.expect("json");
    let owner_id = members["items"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "owner@acme.example")
        .and_then(|m| m["user_id"].as_str())
        .expect("owner")
        .to_string();
    let resp = http
        .post(format!(
            "{base}/api/v1/orgs/acme/members/{owner_id}/reset-link"
        ))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("reset link");
    assert_eq!(resp.status(), StatusCode::CREATED);
    id_of(&resp);
    let reset: Value = resp.json().await.expect("json");
    let reset_token = token_of(reset["reset_url"].as_str().expect("reset url"));
    for path in [
        format!("/api/v1/invites/{invite_token}"),
        format!("/invite?token={invite_token}"),
        format!("/api/v1/password-resets/{reset_token}"),
        format!("/reset-password?token={reset_token}"),
    ] {
        let resp = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        id_of(&resp);
    }
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
        ("invitation token", invite_token.as_str()),
        ("password reset token", reset_token.as_str()),
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
    // A line the handler logs (not only the request line) carries the id
    // of its request: the failed sign-in is the first request.
    let failed = logs
        .lines()
        .find(|l| l.contains("failed sign-in"))
        .unwrap_or_else(|| panic!("no failed sign-in line:\n{logs}"));
    let v: Value = serde_json::from_str(failed).expect("json");
    assert_eq!(v["span"]["id"].as_str(), Some(ids[0].as_str()), "{failed}");
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

/// The token of a one-time link (`…?token=…`).
fn token_of(url: &str) -> String {
    let token = url.split("token=").nth(1).expect("token=");
    assert!(token.len() >= 16, "{url}");
    token.to_string()
}

async fn request_id(app: &TestApp, given: &str) -> String {
    let resp = crate::helpers::http_client()
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

/// The default text format carries the request id too: on the request's own
/// line and on a line the handler logs (`request{id=…}`), the id answered in
/// X-Request-Id.
#[tokio::test]
async fn text_logs_carry_the_request_id() {
    let data = tempfile::tempdir().expect("dir");
    let work = tempfile::tempdir().expect("dir");
    let port = free_port();
    let log_path = work.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["--log-format", "text", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("HARMONIA_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let http = crate::helpers::http_client();
    let mut answer = None;
    for _ in 0..200 {
        if let Ok(resp) = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "nobody@acme.example", "password": "not-it-7f3a"}))
            .send()
            .await
        {
            answer = Some(resp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = answer.expect("the server did not start");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string();
    // SAFETY: kill sends a signal to the child we started.
    unsafe {
        libc::kill(server.id() as libc::pid_t, libc::SIGTERM);
    }
    assert!(server.wait().expect("wait").success());
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    let tagged = format!("request{{id={id}}}");
    for text in ["failed sign-in", "route=/api/v1/auth/login"] {
        let line = logs
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text}:\n{logs}"));
        assert!(line.contains(&tagged), "{line}");
    }
    assert!(!logs.contains("not-it-7f3a"), "{logs}");
}
