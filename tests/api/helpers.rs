//! A real Harmonia server on port 0 with its own temporary data directory,
//! and small clients that speak to it the way the UI and API users do.

use std::net::{IpAddr, SocketAddr};

use harmonia::{AppState, Config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";

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

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(dir.path().to_path_buf());
    // Tests send requests faster than any client should: limits far above
    // the defaults, so only tests/api/rate_limits.rs (which sets its own)
    // meets them.
    config.rate_limits = harmonia::auth::rate_limit::Limits {
        caller: harmonia::auth::rate_limit::Rate::new(600_000, 100_000),
        address: harmonia::auth::rate_limit::Rate::new(600_000, 100_000),
    };
    tweak(&mut config);
    start(dir, config).await
}

/// Starts a server on an existing data directory (used to restart).
pub async fn start(dir: tempfile::TempDir, mut config: Config) -> TestApp {
    // A test may talk to the server with `reqwest::get`, whose client
    // needs the process's crypto provider (see `http_client`).
    harmonia::crypto::install_default_provider();
    config.data_dir = dir.path().to_path_buf();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // A test may name the server `localhost` (passkeys refuse IP addresses):
    // it keeps that name on the real port.
    if config.public_url.host_str() == Some("localhost") {
        let _ = config.public_url.set_port(Some(addr.port()));
    } else {
        config.public_url = url::Url::parse(&format!("http://{addr}")).expect("url");
    }
    let state = harmonia::open_state(config).expect("open state");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = harmonia::app(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    TestApp {
        base: format!("http://{addr}"),
        state,
        dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// The folder of the one organization this app holds (its `crm.db`).
    pub fn only_org_dir(&self) -> std::path::PathBuf {
        std::fs::read_dir(self.dir.path().join("tenants"))
            .expect("tenants")
            .next()
            .expect("one organization")
            .expect("entry")
            .path()
    }

    /// Stops the server gracefully and hands back the data directory.
    pub async fn stop(mut self) -> (tempfile::TempDir, Config) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        self.state
            .tenants
            .close_all_and_wait(std::time::Duration::from_secs(30))
            .await;
        let config = self.state.config.clone();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp"));
        (dir, config)
    }

    pub fn anon(&self) -> Anon {
        Anon {
            base: self.base.clone(),
            http: http_client(),
        }
    }

    pub fn anon_from(&self, ip: IpAddr) -> Anon {
        Anon {
            base: self.base.clone(),
            http: http_builder().local_address(ip).build().expect("client"),
        }
    }

    /// Runs first-run setup: org "Acme" and its owner owner@example.com.
    pub async fn setup_owner(&self) -> Session {
        let token = self
            .state
            .issue_setup_token()
            .expect("token")
            .expect("no users yet");
        let (status, body, session) = self
            .anon()
            .sign_in_via(
                "/api/v1/setup",
                json!({"token": token, "org_name": "Acme", "name": "Olivia Owner",
                       "email": "owner@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        session.expect("setup signs in")
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let (status, body, session) = self
            .anon()
            .sign_in_via(
                "/api/v1/auth/login",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session.expect("session")
    }

    /// Adds a member with `role` to `org` through `admin` and returns their
    /// signed-in session (accepting the invite).
    pub async fn add_member(&self, admin: &Session, org: &str, email: &str, role: &str) -> Session {
        let (status, body) = admin
            .post(
                &format!("/api/v1/orgs/{org}/members"),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let url = body["invite_url"].as_str().expect("invite url").to_string();
        let token = url.split("token=").nth(1).expect("token").to_string();
        let (status, body, session) = self
            .anon()
            .sign_in_via(
                "/api/v1/invites/accept",
                json!({"token": token, "name": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        session.expect("invite signs in")
    }

    pub async fn api_key(&self, admin: &Session, org: &str, role: &str) -> ApiKeyClient {
        let (status, body) = admin
            .post(
                &format!("/api/v1/orgs/{org}/api-keys"),
                json!({"name": role, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ApiKeyClient {
            base: self.base.clone(),
            http: http_client(),
            secret: body["secret"].as_str().expect("secret").to_string(),
            id: body["id"].as_str().expect("id").to_string(),
        }
    }
}

async fn to_json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// No credentials at all.
pub struct Anon {
    pub base: String,
    pub http: reqwest::Client,
}

impl Anon {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        to_json(req.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// POSTs to a sign-in endpoint and, on success, returns the session.
    pub async fn sign_in_via(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value, Option<Session>) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        let (status, json) = to_json(resp).await;
        let session = cookies
            .iter()
            .find(|c| c.starts_with("harmonia_session="))
            .map(|c| Session {
                base: self.base.clone(),
                http: self.http.clone(),
                cookie: c.split(';').next().unwrap_or_default().to_string(),
                device: cookies
                    .iter()
                    .find(|c| c.starts_with("harmonia_device="))
                    .map(|c| c.split(';').next().unwrap_or_default().to_string()),
                csrf: json["csrf_token"].as_str().unwrap_or_default().to_string(),
                user_id: json["user"]["id"].as_str().unwrap_or_default().to_string(),
                set_cookie: cookies.clone(),
            });
        (status, json, session)
    }
}

/// A signed-in browser: session cookie plus the CSRF token.
#[derive(Clone)]
pub struct Session {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
    pub device: Option<String>,
    pub csrf: String,
    pub user_id: String,
    pub set_cookie: Vec<String>,
}

impl Session {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let csrf = self.csrf.clone();
        self.send_with_csrf(method, path, body, Some(&csrf)).await
    }

    pub async fn send_with_csrf(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie);
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        to_json(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }
    /// GET with query parameters, URL-encoded by the client.
    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header("cookie", &self.cookie);
        to_json(req.send().await.expect("request")).await
    }
}

/// A program using an API key.
#[derive(Clone)]
pub struct ApiKeyClient {
    pub base: String,
    pub http: reqwest::Client,
    pub secret: String,
    pub id: String,
}

impl ApiKeyClient {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.secret);
        if let Some(b) = body {
            req = req.json(&b);
        }
        to_json(req.send().await.expect("request")).await
    }
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
}

/// How many live contacts an org has, read through the API.
pub async fn contact_count(s: &Session, org: &str) -> i64 {
    let (status, body) = s.get(&format!("/api/v1/orgs/{org}/contacts/count")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["count"].as_i64().expect("count")
}

pub fn sample_contact(first: &str) -> Value {
    json!({
        "first_name": first,
        "last_name": "Lovelace",
        "emails": [{"label": "work", "email": format!("{}@example.com", first.to_lowercase())}],
        "phones": [{"label": "mobile", "phone": "+1 415 555 0132"}],
        "job_title": "Analyst",
        "address": {"city": "London", "country": "GB"},
        "stage": "prospect",
        "source": "referral"
    })
}

/// Polls a GET until `check` holds on its body: a list's search follows the
/// search index, which follows each write within a moment.
pub async fn get_until(s: &Session, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        if check(&body) {
            return body;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{path}: still {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
