//! Serving the application over TLS (HTTP/1.1 and HTTP/2), the plain-HTTP
//! listener that redirects to it, and the SIGHUP that renews the certificate.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::tls::Certificates;

/// A client that opens a connection and sends no complete TLS handshake
/// within this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stop waits for open connections to finish (the systemd unit
/// allows 30 s in all, and the databases close after this).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then stops
/// accepting and waits for the requests in flight (HTTP/2 clients get a
/// GOAWAY, idle HTTP/1.1 connections are closed).
pub async fn https(
    listener: TcpListener,
    app: Router,
    certificates: Arc<Certificates>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certificates.server_config()?));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer lets HTTP/1.1 drop a client that sends its headers too
    // slowly, and HTTP/2 keep-alive pings work.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather
                    // than spin; a reset before accept is nothing.
                    if !is_connection_error(&e) {
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, builder) = (acceptor.clone(), app.clone(), builder.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, peer = %peer, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            // The handlers read the peer address as axum's serve gives it.
            let service = hyper::service::service_fn(move |mut req: Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, peer = %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // A client that ignores GOAWAY or keeps a request open past the
    // request timeout does not hold the stop up for ever.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("closing the connections still open after the grace period");
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Renews the certificate each time the process gets SIGHUP (certbot's
/// deploy hook, `systemctl reload harmonia`). Without TLS a SIGHUP is only
/// logged, so a reload never stops the server.
pub fn reload_on_sighup(certificates: Option<Arc<Certificates>>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(certificates) = &certificates else {
                    tracing::info!("SIGHUP: nothing to reload (no --tls-cert)");
                    continue;
                };
                match certificates.reload() {
                    Ok(()) => tracing::info!(
                        file = %certificates.cert_file().display(),
                        "SIGHUP: the TLS certificate was reloaded; new connections use it"
                    ),
                    Err(e) => tracing::error!(
                        error = %format!("{e:#}"),
                        "SIGHUP: the TLS certificate was not reloaded; the previous one stays in service"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = certificates;
    Ok(())
}

/// The plain-HTTP listener of `--redirect-http`: every request is answered
/// 308 to the same path and query over HTTPS. The host is `origin`'s when
/// `--public-url` names one, otherwise the request's Host with the HTTPS
/// port.
pub fn redirect_app(origin: Option<url::Url>, https_port: u16) -> Router {
    Router::new().fallback(move |req: Request| {
        let origin = origin.clone();
        async move { redirect(&req, origin.as_ref(), https_port) }
    })
}

fn redirect(req: &Request, origin: Option<&url::Url>, https_port: u16) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    let authority = match origin {
        Some(url) => url.origin().ascii_serialization(),
        None => {
            let given = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().authority().map(|a| a.as_str()));
            let Some(host) = given.and_then(host_of) else {
                return (
                    StatusCode::BAD_REQUEST,
                    "Bad Request: no usable Host header\n",
                )
                    .into_response();
            };
            if https_port == 443 {
                format!("https://{host}")
            } else {
                format!("https://{host}:{https_port}")
            }
        }
    };
    let Ok(location) = HeaderValue::from_str(&format!("{authority}{path}")) else {
        return (StatusCode::BAD_REQUEST, "Bad Request\n").into_response();
    };
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// The host part of a Host header (without its port), only when it is a
/// DNS name, an IPv4 address or a bracketed IPv6 address: anything else
/// (user info, paths, spaces, percent signs) could turn the Location into a
/// link elsewhere.
fn host_of(value: &str) -> Option<String> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = ip.parse().ok()?;
        if !(after.is_empty() || is_port(after.strip_prefix(':')?)) {
            return None;
        }
        return Some(format!("[{ip}]"));
    }
    let host = match value.rsplit_once(':') {
        Some((host, port)) if is_port(port) => host,
        Some(_) => return None,
        None => value,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (!host.is_empty() && host.len() <= 253 && labels_ok).then(|| host.to_ascii_lowercase())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses_only() {
        assert_eq!(
            host_of("crm.example.com").as_deref(),
            Some("crm.example.com")
        );
        assert_eq!(
            host_of("CRM.Example.com:80").as_deref(),
            Some("crm.example.com")
        );
        assert_eq!(host_of("10.0.0.7:8080").as_deref(), Some("10.0.0.7"));
        assert_eq!(host_of("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(host_of("[::1]").as_deref(), Some("[::1]"));
        assert_eq!(host_of("localhost.").as_deref(), Some("localhost"));
        for hostile in [
            "",
            "evil.com/x",
            "evil.com@good.com",
            "user@evil.com",
            "evil.com:80@good",
            "a b",
            "evil.com%2f",
            "evil.com:99999999",
            "evil.com:",
            "[::1",
            "[::1]x",
            "[evil.com]",
            "-a.com",
            "a..com",
            "évil.com",
            "evil.com\\@good.com",
            &"a".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert_eq!(host_of(hostile), None, "{hostile:?}");
        }
    }
}
