//! The real `harmonia` binary on port 0 with a fresh data directory, driven by
//! Debian's Chromium through chromedriver (headless).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(15);

/// Browser tests share two cores: run them one at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An HTTP client for the tests. The tests' reqwest brings no crypto
/// provider (Cargo.toml says why): ring is installed first, as the server does.
pub fn http_client() -> reqwest::Client {
    http_builder().build().expect("http client")
}

/// A client builder with ring installed as the crypto provider.
pub fn http_builder() -> reqwest::ClientBuilder {
    harmonia::crypto::install_default_provider();
    reqwest::Client::builder()
}

pub struct Server {
    child: Child,
    pub base: String,
    pub setup_link: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary. With `first_org`, the CLI creates org "Acme" and its
/// owner owner@example.com first; without, the server logs a setup link.
pub fn server(first_org: bool) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    if first_org {
        let pw = dir.path().join("pw");
        std::fs::write(&pw, PASSWORD).expect("pw");
        let ok = Command::new(env!("CARGO_BIN_EXE_harmonia"))
            .arg("--data-dir")
            .arg(&data)
            .args([
                "setup",
                "--org-name",
                "Acme",
                "--email",
                "owner@example.com",
                "--name",
                "Olivia Owner",
                "--password-file",
            ])
            .arg(&pw)
            .env("HARMONIA_LOG", "warn")
            .status()
            .expect("setup");
        assert!(ok.success());
    }
    let mut s = server_on(&data);
    s._dir = Some(dir);
    s
}

/// A server on an existing data directory (for measurements on big data).
pub fn server_on(data: &std::path::Path) -> Server {
    serve(data, &["--listen", "127.0.0.1:0"])
}

/// Like `server(true)`, but reached as http://localhost:<port>: WebAuthn
/// refuses IP addresses, so passkeys need a name (its --public-url).
pub fn server_at_localhost() -> Server {
    let mut s = server(true);
    let data = s._dir.as_ref().expect("dir").path().join("data");
    let _ = s.child.kill();
    let _ = s.child.wait();
    let port = free_port();
    let mut named = serve(
        &data,
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &format!("http://localhost:{port}"),
        ],
    );
    named.base = format!("http://localhost:{port}");
    named._dir = s._dir.take();
    named
}

/// Like `server(true)`, started with more `serve` options (e.g. letting
/// webhooks reach a receiver on 127.0.0.1).
pub fn server_with(options: &[&str]) -> Server {
    let mut s = server(true);
    let data = s._dir.as_ref().expect("dir").path().join("data");
    let _ = s.child.kill();
    let _ = s.child.wait();
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(options);
    let mut again = serve(&data, &args);
    again._dir = s._dir.take();
    again
}

fn serve(data: &std::path::Path, args: &[&str]) -> Server {
    // A test may talk to the server with `reqwest::get`, whose client
    // needs the process's crypto provider (see `http_client`).
    harmonia::crypto::install_default_provider();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .args(args)
        // The tests seed data through the API faster than anyone clicks:
        // limits far above the defaults (tests/api/rate_limits.rs tests them).
        .env("HARMONIA_RATE_LIMIT_PER_MINUTE", "60000")
        .env("HARMONIA_RATE_LIMIT_BURST", "10000")
        .env("HARMONIA_RATE_LIMIT_ANONYMOUS_PER_MINUTE", "60000")
        .env("HARMONIA_RATE_LIMIT_ANONYMOUS_BURST", "10000")
        .env("HARMONIA_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn harmonia");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let mut setup_link = None;
    let mut addr = String::new();
    for line in lines.by_ref() {
        let line = line.expect("log line");
        if let Some(i) = line.find("http://")
            && line.contains("/setup?token=")
        {
            setup_link = line[i..].split_whitespace().next().map(str::to_string);
        }
        if let Some(rest) = line.split("address=").nth(1) {
            addr = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            break;
        }
    }
    assert!(!addr.is_empty(), "server did not start");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://{addr}"),
        setup_link,
        _dir: None,
    }
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn close(self) {
        let _ = self.client.close().await;
        let mut driver = self.driver;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub async fn browser() -> Browser {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium chromium-driver)");
    let profile = tempfile::tempdir().expect("profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-quic",
                     // No fade-ins: WebDriver reads an element at opacity 0
                     // as having no visible text, which made reads racy.
                     "--force-prefers-reduced-motion",
                     "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let url = format!("http://127.0.0.1:{port}");
    let mut last_err = None;
    for _ in 0..50 {
        // Plain HTTP to the local driver: no TLS in the tests' dependencies
        // (Cargo.toml says why).
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Browser {
                    client,
                    driver,
                    _profile: profile,
                };
            }
            Err(e) => {
                last_err = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("could not start a browser session: {last_err:?}");
}

pub async fn wait_for(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for {xpath}: {e}"))
}

pub async fn wait_for_css(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

pub async fn wait_for_url(c: &Client, fragment: &str) {
    let start = std::time::Instant::now();
    loop {
        let url = c.current_url().await.expect("url");
        if url.as_str().contains(fragment) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "still at {url}, expected {fragment}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `js` (an expression) is truthy in the page.
pub async fn wait_until(c: &Client, js: &str) {
    let start = std::time::Instant::now();
    loop {
        let v = c
            .execute(&format!("return !!({js});"), vec![])
            .await
            .expect("script");
        if v == Value::Bool(true) {
            return;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for: {js}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn type_into(c: &Client, css: &str, text: &str) {
    let el = wait_for_css(c, css).await;
    el.clear().await.expect("clear");
    el.send_keys(text).await.expect("type");
}

pub async fn click(c: &Client, xpath: &str) {
    wait_for(c, xpath)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {xpath}: {e}"));
}

pub async fn sign_in(c: &Client, base: &str, email: &str) {
    sign_in_with(c, base, email, PASSWORD).await
}

pub async fn sign_in_with(c: &Client, base: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.expect("goto login");
    type_into(c, "input[name=email]", email).await;
    type_into(c, "input[name=password]", password).await;
    click(
        c,
        "//button[@type='submit' and normalize-space()='Sign in']",
    )
    .await;
    wait_for_url(c, "/o/").await;
}

/// Calls the API from inside the page (same origin, the page's cookie), like
/// the UI does; returns (status, body).
pub async fn page_fetch(
    c: &Client,
    method: &str,
    path: &str,
    body: Option<Value>,
    csrf: bool,
) -> (u16, Value) {
    let script = r#"
        const [method, path, body, withCsrf, done] = arguments;
        (async () => {
          const headers = {'content-type': 'application/json'};
          if (withCsrf) {
            const me = await (await fetch('/api/v1/me')).json();
            headers['x-csrf-token'] = me.csrf_token;
          }
          const r = await fetch(path, {method, headers, body: body == null ? undefined : JSON.stringify(body)});
          const text = await r.text();
          done([r.status, text ? JSON.parse(text) : null]);
        })().catch((e) => done([0, String(e)]));
    "#;
    let v = c
        .execute_async(
            script,
            vec![
                json!(method),
                json!(path),
                body.unwrap_or(Value::Null),
                json!(csrf),
            ],
        )
        .await
        .expect("fetch in page");
    (v[0].as_u64().unwrap_or(0) as u16, v[1].clone())
}

/// The browser's console log (chromedriver's legacy log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

pub async fn console_messages(c: &Client) -> Vec<String> {
    let v = c.issue_cmd(BrowserLog).await.expect("browser log");
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Signs in through the API (no browser) and returns (cookie, csrf).
pub async fn api_session(base: &str, email: &str) -> (String, String) {
    let resp = http_client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("harmonia_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let body: Value = resp.json().await.expect("json");
    (
        cookie,
        body["csrf_token"].as_str().expect("csrf").to_string(),
    )
}

pub async fn api(
    base: &str,
    session: &(String, String),
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let resp = http_client()
        .request(method, format!("{base}/api/v1{path}"))
        .header("cookie", &session.0)
        .header("x-csrf-token", &session.1)
        .json(&body)
        .send()
        .await
        .expect("api call");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

/// A Chrome DevTools Protocol command through chromedriver
/// (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
pub struct Cdp(pub &'static str, pub Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}

/// Light or dark, as `prefers-color-scheme` tells the page.
pub async fn color_scheme(c: &Client, dark: bool) {
    let value = if dark { "dark" } else { "light" };
    c.issue_cmd(Cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
    ))
    .await
    .expect("color scheme");
}

/// Saves a PNG of the page to `$HARMONIA_SCREENSHOTS/<name>-desktop-<light|dark>.png` when that
/// variable names a directory (how docs/screenshots are made); does nothing otherwise.
pub async fn screenshots_desktop(c: &Client, name: &str) {
    let Ok(dir) = std::env::var("HARMONIA_SCREENSHOTS") else {
        return;
    };
    for dark in [false, true] {
        color_scheme(c, dark).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = c.screenshot().await.expect("screenshot");
        let file = format!("{name}-desktop-{}.png", if dark { "dark" } else { "light" });
        std::fs::write(std::path::Path::new(&dir).join(file), png).expect("write screenshot");
    }
    color_scheme(c, false).await;
}

/// One DevTools command; its answer.
pub async fn cdp(c: &Client, cmd: &'static str, params: Value) -> Value {
    c.issue_cmd(Cdp(cmd, params))
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// With HARMONIA_SCREENSHOTS set, saves the page as
/// docs/screenshots/<name>-{desktop,phone}-{light,dark}.png (the page is
/// reloaded at each size and scheme, so it must be reachable by its URL).
pub async fn screenshots(c: &Client, name: &str, ready_css: &str) {
    if std::env::var_os("HARMONIA_SCREENSHOTS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    for (size, w, h) in [("desktop", 1280u32, 900u32), ("phone", 390, 844)] {
        for scheme in ["light", "dark"] {
            cdp(
                c,
                "Emulation.setEmulatedMedia",
                json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
            )
            .await;
            c.set_window_size(w, h).await.expect("size");
            c.refresh().await.expect("reload");
            wait_for_css(c, ready_css).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let png = c.screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}-{size}-{scheme}.png")), png)
                .expect("write screenshot");
        }
    }
    cdp(c, "Emulation.setEmulatedMedia", json!({"features": []})).await;
    c.set_window_size(1280, 900).await.expect("size");
}

/// With HARMONIA_SCREENSHOTS set, saves what is on screen now (a dialog, a
/// step that a reload would lose) as docs/screenshots/<name>.png.
pub async fn screenshot_here(c: &Client, name: &str) {
    if std::env::var_os("HARMONIA_SCREENSHOTS").is_none() {
        return;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

/// A W3C WebDriver extension command: POST /session/{id}/<path>.
#[derive(Debug)]
pub struct WdPost(pub String, pub Value);

impl WebDriverCompatibleCommand for WdPost {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.0
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.1.to_string()))
    }
}

/// A virtual platform authenticator (WebAuthn's WebDriver extension) that
/// keeps discoverable credentials and verifies the user by itself; returns its id.
pub async fn virtual_authenticator(c: &Client) -> String {
    let v = c
        .issue_cmd(WdPost(
            "webauthn/authenticator".into(),
            json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                   "hasUserVerification": true, "isUserVerified": true,
                   "automaticPresenceSimulation": true}),
        ))
        .await
        .expect("virtual authenticator");
    v.as_str().expect("authenticator id").to_string()
}
