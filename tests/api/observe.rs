//! `/readyz` names the check that fails (read-only data dir, low free space,
//! missing backup key); `/metrics` needs its token (or its own address) and
//! its text parses as OpenMetrics with Python's prometheus_client.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let resp = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("readyz");
    let status = resp.status();
    (status, resp.json().await.expect("json"))
}

fn names(body: &Value, key: &str) -> Vec<String> {
    match key {
        "failing" => body["failing"]
            .as_array()
            .expect("failing")
            .iter()
            .map(|v| v.as_str().expect("name").to_string())
            .collect(),
        _ => body["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_string())
            .collect(),
    }
}

#[tokio::test]
async fn readyz_runs_every_check_and_passes_on_a_healthy_instance() {
    let app = spawn_app().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(
        names(&body, "checks"),
        [
            "control_db",
            "data_dir_writable",
            "free_space",
            "master_key",
            "jobs"
        ]
    );
    assert!(names(&body, "failing").is_empty());
}

#[tokio::test]
async fn readyz_names_a_data_dir_that_refuses_writes() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let dir = app.dir.path().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    // root writes through permission bits; then the file the check creates is
    // made impossible instead (a directory stands where it would go).
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        std::fs::create_dir(dir.join(".readyz-probe")).expect("mkdir");
    }
    let (status, body) = readyz(&app).await;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(names(&body, "failing"), ["data_dir_writable"]);
    let check = &body["checks"][1];
    assert!(
        check["detail"]
            .as_str()
            .expect("detail")
            .starts_with("cannot write in the data directory"),
        "{check}"
    );
    if as_root {
        std::fs::remove_dir(dir.join(".readyz-probe")).expect("rmdir");
    }
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_names_low_free_space() {
    let app = spawn_app_with(|c| c.min_free_bytes = u64::MAX).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(names(&body, "failing"), ["free_space"]);
    let detail = body["checks"][2]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("MiB free in the data directory"),
        "{detail}"
    );
}

#[tokio::test]
async fn readyz_names_a_missing_backup_key_when_backups_are_on() {
    let backups = tempfile::tempdir().expect("dir");
    let keys = tempfile::tempdir().expect("dir");
    let key: PathBuf = keys.path().join("backup.key");
    let (dir, key_file) = (backups.path().to_path_buf(), key.clone());
    let app = spawn_app_with(move |c| {
        c.backup.backup_dir = Some(dir);
        c.backup.backup_key_file = Some(key_file);
    })
    .await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(names(&body, "failing"), ["backup_key"]);
    harmonia::backup::BackupKey::load(&key, true).expect("make key");
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(names(&body, "checks").contains(&"backup_key".to_string()));
}

const TOKEN: &str = "metrics-token-7f3a9c1e5b";

async fn metrics(base: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = crate::helpers::http_client().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("metrics");
    let status = resp.status();
    (status, resp.text().await.expect("text"))
}

#[tokio::test]
async fn metrics_are_not_served_without_a_configured_token() {
    let app = spawn_app().await;
    let (status, _) = metrics(&app.base, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = metrics(&app.base, Some("anything")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A Python with prometheus_client (a venv under target/, made on first use).
fn python_with_prometheus_client() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/prom-venv");
    let python = root.join("bin/python");
    let ready = |p: &Path| {
        std::process::Command::new(p)
            .args(["-c", "import prometheus_client"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&root)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv failed");
        let pip = std::process::Command::new(root.join("bin/pip"))
            .args(["install", "-q", "prometheus_client==0.26.0"])
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install prometheus_client failed");
    }
    assert!(ready(&python), "prometheus_client does not import");
    python
}

/// Parses `text` strictly as OpenMetrics; returns the metric family names.
fn parse_with_prometheus_client(text: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new(python_with_prometheus_client())
        .args([
            "-c",
            "import sys\n\
             from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
             for f in text_string_to_metric_families(sys.stdin.read()):\n    print(f.name)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "prometheus_client refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn metrics_need_the_token_and_parse_as_openmetrics() {
    harmonia::metrics::enable();
    let app = spawn_app_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let (status, _) = metrics(&app.base, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = metrics(&app.base, Some("metrics-token-7f3a9c1e5c")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The token in a query string or a cookie is not the bearer token.
    let resp = reqwest::get(format!("{}/metrics?token={TOKEN}", app.base))
        .await
        .expect("metrics");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let owner = app.setup_owner().await;
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/contacts",
            serde_json::json!({"first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_string();
    let (status, _) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, text) = metrics(&app.base, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let families = parse_with_prometheus_client(&text);
    for family in [
        "harmonia_http_requests",
        "harmonia_http_request_duration_seconds",
        "harmonia_writer_commit_duration_seconds",
        "harmonia_open_organizations",
        "harmonia_writer_queue_depth",
        "harmonia_read_queue_depth",
        "harmonia_indexer_lag_records",
        "harmonia_database_size_bytes",
        "harmonia_search_index_size_bytes",
    ] {
        assert!(
            families.iter().any(|f| f == family),
            "{family} missing: {families:?}"
        );
    }
    // Requests are counted by route template, never by id or slug.
    assert!(
        text.contains(r#"route="/api/v1/orgs/{org}/contacts/{id}",status="200""#),
        "{text}"
    );
    assert!(!text.contains(&id) && !text.contains("acme"), "{text}");
    // Gauges are process-wide (the last scrape sets them): only their presence is checked.
    assert!(text.contains("\nharmonia_open_organizations "), "{text}");
}

#[tokio::test]
async fn the_metrics_address_serves_metrics_alone_without_a_token() {
    let app = spawn_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = harmonia::http::metrics_route::listener_app(app.state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let base = format!("http://{addr}");
    let (status, text) = metrics(&base, None).await;
    assert_eq!(status, StatusCode::OK);
    parse_with_prometheus_client(&text);
    // Nothing else of the application is reachable there.
    let resp = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
