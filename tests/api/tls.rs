//! Built-in TLS, with the real binary (SIGHUP goes to its process): HTTPS
//! with the served certificate and HTTP/2, a renewed certificate for new
//! connections after SIGHUP while an open connection keeps working, a broken
//! renewal that changes nothing, the plain-HTTP redirect, Secure cookies and
//! HSTS; and a bad key that stops the start with a clear error.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use reqwest::{StatusCode, Version};
use serde_json::json;

use crate::helpers::*;

/// A certificate authority made for one test.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate: PEM files' contents and the DER a client sees.
struct ServerCert {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Harmonia test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for localhost and `extra_name`, numbered `serial`.
    fn server_cert(&self, serial: u64, extra_name: &str) -> ServerCert {
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            extra_name.to_string(),
        ])
        .expect("params");
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, extra_name);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn write_pair(dir: &Path, cert: &ServerCert) -> (PathBuf, PathBuf) {
    let (c, k) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
    std::fs::write(&c, &cert.cert_pem).expect("cert");
    std::fs::write(&k, &cert.key_pem).expect("key");
    (c, k)
}

/// The owner of org "acme", made with `harmonia setup`.
fn setup(dir: &Path) -> PathBuf {
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
        ])
        .arg("--password-file")
        .arg(&pw)
        .env("HARMONIA_LOG", "warn")
        .status()
        .expect("setup");
    assert!(ok.success());
    data
}

/// The binary serving HTTPS, and its log lines as they come.
struct TlsServer {
    child: Child,
    https: SocketAddr,
    redirect: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl TlsServer {
    fn spawn(data: &Path, cert: &Path, key: &Path) -> TlsServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harmonia"))
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .args(["--redirect-http", "127.0.0.1:0"])
            .env("HARMONIA_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let (send, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let address = |line: &str| -> SocketAddr {
            let rest = line.split("address=").nth(1).expect("address=");
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .parse()
                .expect("socket address")
        };
        let mut server = TlsServer {
            child,
            https: SocketAddr::from(([0, 0, 0, 0], 0)),
            redirect: SocketAddr::from(([0, 0, 0, 0], 0)),
            log,
        };
        let serving = server.wait_for("is serving");
        server.https = address(&serving);
        assert!(serving.contains("tls=true"), "{serving}");
        server.redirect = address(&server.wait_for("redirecting plain HTTP"));
        server
    }

    /// The next log line holding `text` (earlier lines are skipped).
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no log line with {text:?}: {e}"),
            }
        }
    }

    fn sighup(&self) {
        self.signal(libc::SIGHUP);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with a pid this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// A client that trusts only `ca`, resolves localhost to the server and
    /// reports the certificate it was shown.
    fn client(&self, ca: &TestCa) -> reqwest::Client {
        self.client_with(ca, |b| b)
    }

    fn client_with(
        &self,
        ca: &TestCa,
        tweak: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> reqwest::Client {
        let root = reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("ca pem");
        tweak(
            crate::helpers::http_builder()
                .tls_certs_only([root])
                .tls_info(true)
                .resolve("localhost", self.https),
        )
        .build()
        .expect("client")
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https.port())
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_certificate(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

// Several threads: the test waits for log lines blocking, while the
// clients' connections must go on answering (HTTP/2 pings at shutdown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_h2_renews_on_sighup_and_redirects_plain_http() {
    let dir = tempfile::tempdir().expect("dir");
    let data = setup(dir.path());
    let ca = TestCa::new();
    let first = ca.server_cert(1001, "first.harmonia.test");
    let (cert, key) = write_pair(dir.path(), &first);
    let server = TlsServer::spawn(&data, &cert, &key);

    // HTTPS with the served certificate, HTTP/2 chosen by ALPN, HSTS sent.
    let early = server.client(&ca);
    let resp = early
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("https");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(peer_certificate(&resp), first.der);
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    // HTTP/1.1 clients are served too.
    let h1 = server.client_with(&ca, |b| b.http1_only());
    let resp = h1.get(server.url("/healthz")).send().await.expect("h1");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_11);
    // A client that does not trust the test CA gets no answer at all.
    let stranger = crate::helpers::http_builder()
        .tls_certs_only([])
        .resolve("localhost", server.https)
        .build()
        .expect("client");
    assert!(stranger.get(server.url("/healthz")).send().await.is_err());

    // Signing in over HTTPS sets Secure cookies, and the session works.
    let anon = Anon {
        base: server.url(""),
        http: early.clone(),
    };
    let (status, body, session) = anon
        .sign_in_via(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = session.expect("session");
    let cookie = session
        .set_cookie
        .iter()
        .find(|c| c.starts_with("harmonia_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(session.get("/api/v1/me").await.0, StatusCode::OK);

    // Plain HTTP on --redirect-http: 308 to the same path and query, the
    // Host's name with the HTTPS port.
    let plain = crate::helpers::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirect = format!("http://{}", server.redirect);
    let port = server.https.port();
    for (host, expected) in [
        ("crm.example.com", format!("https://crm.example.com:{port}")),
        (
            "CRM.example.com:80",
            format!("https://crm.example.com:{port}"),
        ),
        ("10.1.2.3:8080", format!("https://10.1.2.3:{port}")),
        ("[::1]:80", format!("https://[::1]:{port}")),
    ] {
        let resp = plain
            .post(format!("{redirect}/app/contacts?view=all&q=a%20b"))
            .header("host", host)
            .send()
            .await
            .expect("redirect");
        assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT, "{host}");
        assert_eq!(
            resp.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(format!("{expected}/app/contacts?view=all&q=a%20b").as_str()),
            "{host}"
        );
        assert!(resp.headers().get("strict-transport-security").is_none());
    }
    // A Host that could send people elsewhere gets no redirect.
    for hostile in [
        "evil.example@crm.example.com",
        "evil.example/x",
        "a b",
        "x%2e",
    ] {
        let resp = plain
            .get(format!("{redirect}/"))
            .header("host", hostile)
            .send()
            .await
            .expect("redirect");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{hostile}");
        assert!(resp.headers().get("location").is_none(), "{hostile}");
    }

    // Renewal: new files, SIGHUP; new connections see the new certificate
    // while the connection opened before keeps working with the old one.
    let second = ca.server_cert(2002, "second.harmonia.test");
    assert_ne!(first.der, second.der);
    write_pair(dir.path(), &second);
    server.sighup();
    server.wait_for("certificate was reloaded");
    let resp = server
        .client(&ca)
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("after renewal");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(peer_certificate(&resp), second.der);
    let resp = early
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("the connection opened before the renewal");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        peer_certificate(&resp),
        first.der,
        "a new connection was made"
    );
    assert_eq!(session.get("/api/v1/me").await.0, StatusCode::OK);

    // A broken renewal (a key that is not PEM, then a key of another
    // certificate) is refused with an error and the certificate stays.
    std::fs::write(&key, "not a key\n").expect("key");
    server.sighup();
    let line = server.wait_for("was not reloaded");
    assert!(line.contains("privkey.pem"), "{line}");
    assert!(
        !line.contains("not a key"),
        "the key file is quoted: {line}"
    );
    std::fs::write(&key, ca.server_cert(3003, "third.harmonia.test").key_pem).expect("key");
    server.sighup();
    let line = server.wait_for("was not reloaded");
    assert!(line.contains("does not belong"), "{line}");
    let resp = server
        .client(&ca)
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("after a broken renewal");
    assert_eq!(peer_certificate(&resp), second.der);

    // SIGTERM: the server finishes, closes its databases and exits 0.
    let mut server = server;
    server.signal(libc::SIGTERM);
    server.wait_for("stopped; databases closed");
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

/// `harmonia health` speaks TLS when HARMONIA_TLS_CERT is set, as the
/// packaged environment file and the container set it.
#[tokio::test]
async fn the_health_probe_asks_over_tls() {
    let dir = tempfile::tempdir().expect("dir");
    let data = setup(dir.path());
    let ca = TestCa::new();
    let (cert, key) = write_pair(dir.path(), &ca.server_cert(7, "probe.harmonia.test"));
    let server = TlsServer::spawn(&data, &cert, &key);
    let probe = |tls: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harmonia"));
        cmd.args(["health", "--listen"])
            .arg(server.https.to_string())
            .env_remove("HARMONIA_TLS_CERT")
            .env_remove("HARMONIA_TLS_KEY");
        if tls {
            cmd.env("HARMONIA_TLS_CERT", &cert)
                .env("HARMONIA_TLS_KEY", &key);
        }
        cmd.output().expect("health")
    };
    let out = probe(true);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("200"));
    // Plain HTTP to a TLS port is not an answer.
    assert!(!probe(false).status.success());
}

/// A start with a broken certificate or key fails at once, saying which
/// file is wrong, and serves nothing.
#[test]
fn a_bad_key_or_certificate_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new();
    let (cert, key) = write_pair(dir.path(), &ca.server_cert(1, "x.harmonia.test"));
    let other_key = dir.path().join("other.pem");
    std::fs::write(&other_key, ca.server_cert(2, "y.harmonia.test").key_pem).expect("key");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64!\n").expect("garbage");
    let missing = dir.path().join("missing.pem");
    let start = |cert: &Path, key: &Path| {
        Command::new(env!("CARGO_BIN_EXE_harmonia"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("HARMONIA_LOG", "warn")
            .output()
            .expect("serve")
    };
    for (c, k, says) in [
        (&cert, &garbage, "garbage.pem"),
        (&cert, &other_key, "does not belong to the certificate"),
        (&cert, &missing, "cannot read the key file"),
        (&missing, &key, "cannot read the certificate file"),
        (&key, &key, "holds no PEM certificate"),
        (&cert, &cert, "holds no PEM key"),
    ] {
        let out = start(c, k);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{says}: started");
        assert!(err.contains(says), "{says}: {err}");
        assert!(
            !err.contains("not base64!"),
            "the key file is quoted: {err}"
        );
    }
    // The flags need each other.
    let out = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .args(["serve", "--redirect-http", "127.0.0.1:0"])
        .env_remove("HARMONIA_TLS_CERT")
        .env_remove("HARMONIA_TLS_KEY")
        .output()
        .expect("serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-cert"));
}

/// Without TLS (and with an http public URL) there is no HSTS; cookies are
/// not Secure (tests/api/sessions.rs checks the cookie).
#[tokio::test]
async fn plain_http_sends_no_hsts() {
    let app = spawn_app().await;
    let resp = reqwest::get(format!("{}/healthz", app.anon().base))
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("strict-transport-security").is_none());
}
