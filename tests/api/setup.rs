use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn setup_works_once_then_answers_404() {
    let app = spawn_app().await;
    let anon = app.anon();
    let (status, body) = anon.send(reqwest::Method::GET, "/api/v1/setup", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["setup_required"], true);

    let token = app.state.issue_setup_token().expect("ok").expect("token");
    let form = |t: &str| {
        json!({"token": t, "org_name": "Acme", "name": "Olivia", "email": "owner@example.com",
               "password": PASSWORD})
    };
    let (status, body) = anon.post("/api/v1/setup", form("wrong-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let (status, body, session) = anon.sign_in_via("/api/v1/setup", form(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["is_platform_admin"], true);
    assert_eq!(body["organizations"][0]["role"], "owner");
    let session = session.expect("signed in");
    let (status, me) = session.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "owner@example.com");

    // Done: the same token, or any other, gets 404; so does the status probe.
    let (status, body) = anon.post("/api/v1/setup", form(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = anon.send(reqwest::Method::GET, "/api/v1/setup", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.state.issue_setup_token().expect("ok").is_none());
}

#[tokio::test]
async fn setup_validates_and_creates_nothing_on_bad_input() {
    let app = spawn_app().await;
    let token = app.state.issue_setup_token().expect("ok").expect("token");
    let (status, body) = app
        .anon()
        .post(
            "/api/v1/setup",
            json!({"token": token, "org_name": "", "name": "O", "email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = &body["error"]["fields"];
    for f in ["org_name", "email", "password"] {
        assert!(fields.get(f).is_some(), "{f} should be named in {body}");
    }
    // Nothing was created: setup is still open and the token still works.
    let (status, _) = app
        .anon()
        .send(reqwest::Method::GET, "/api/v1/setup", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.setup_owner().await;
}

#[tokio::test]
async fn cli_setup_creates_the_first_org_once() {
    let dir = tempfile::tempdir().expect("dir");
    let pw = tempfile::NamedTempFile::new().expect("pw file");
    std::fs::write(pw.path(), format!("{PASSWORD}\n")).expect("write");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_harmonia"))
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "setup",
                "--org-name",
                "Acme CLI",
                "--email",
                "cli@example.com",
                "--password-file",
            ])
            .arg(pw.path())
            .env("HARMONIA_LOG", "warn")
            .output()
            .expect("run harmonia")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("acme-cli"));
    let second = run();
    assert!(!second.status.success(), "a second setup must fail");

    // A server on that directory: the owner signs in (the trailing newline of
    // the password file was not part of the password), and setup is closed.
    let config = harmonia::Config::for_data_dir(dir.path().to_path_buf());
    let app = start(dir, config).await;
    let s = app.login("cli@example.com", PASSWORD).await;
    let (status, me) = s.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["organizations"][0]["slug"], "acme-cli");
    let (status, _) = app
        .anon()
        .send(reqwest::Method::GET, "/api/v1/setup", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
