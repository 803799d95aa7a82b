//! The pipelined client against receivers written here byte by byte: what
//! goes on the wire, every way an answer can be framed, receivers that
//! close, go quiet or garble, kept connections gone stale, and TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn target(url: &str, addr: SocketAddr) -> Target {
    let url = url::Url::parse(url).expect("url");
    Target {
        host: url.host_str().expect("host").to_string(),
        url,
        addrs: vec![addr],
    }
}

fn requests(e: &Endpoint, url: &str, n: usize) -> Vec<Vec<u8>> {
    let url = url::Url::parse(url).expect("url");
    (0..n)
        .map(|i| {
            let body = format!("{{\"n\":{i}}}");
            e.post(
                &url,
                &[("harmonia-event-id", &format!("evt_{i}"))],
                body.as_bytes(),
            )
        })
        .collect()
}

/// Reads whole requests (bodies by Content-Length) from `sock` until it has
/// at least `n`, and returns every whole one read, and how many reads that
/// took.
async fn read_requests<S: AsyncRead + Unpin>(
    sock: &mut S,
    buf: &mut Vec<u8>,
    n: usize,
) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut reads = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = req.parse(buf) {
            let len: usize = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| {
                    std::str::from_utf8(h.value)
                        .expect("utf-8")
                        .parse()
                        .expect("n")
                })
                .expect("content-length");
            if buf.len() >= head + len {
                out.push(String::from_utf8(buf[..head + len].to_vec()).expect("utf-8"));
                buf.drain(..head + len);
                continue;
            }
        }
        if out.len() >= n {
            break;
        }
        let mut chunk = [0u8; 65536];
        let got = sock.read(&mut chunk).await.expect("read");
        if got == 0 {
            break;
        }
        reads += 1;
        buf.extend_from_slice(&chunk[..got]);
    }
    (out, reads)
}

/// A receiver on 127.0.0.1 that runs `serve` on each connection, and
/// counts connections.
async fn receiver<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let nth = counted.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            tokio::spawn(async move { serve(sock, nth).await });
        }
    });
    (addr, conns)
}

fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_batch_goes_out_in_one_write_and_every_framing_is_read_in_order() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let (addr, conns) = receiver(move |mut sock, _| {
        let log = log.clone();
        async move {
            let mut buf = Vec::new();
            let (reqs, reads) = read_requests(&mut sock, &mut buf, 6).await;
            log.lock().expect("lock").push((reqs, reads));
            // Six answers in one write: each framing, an interim answer, a
            // body longer than the excerpt.
            let long = "x".repeat(3000);
            let answers = [
                ok("first"),
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 6\r\n\r\nsecond"
                    .to_string(),
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nthird\r\n3;ext=1\r\n!!!\r\n0\r\nx-trailer: t\r\n\r\n"
                    .to_string(),
                "HTTP/1.1 204 No Content\r\n\r\n".to_string(),
                format!("HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n{long}", long.len()),
                ok("sixth"),
            ]
            .concat();
            sock.write_all(answers.as_bytes()).await.expect("write");
            let _ = read_requests(&mut sock, &mut buf, 1).await;
        }
    })
    .await;
    let url = format!("http://localhost:{}/in?x=1", addr.port());
    let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    let answers = e.send(requests(&e, &url, 6)).await;
    let got: Vec<(u16, String)> = answers
        .into_iter()
        .map(|(a, _)| {
            let a = a.expect("answer");
            (a.status, String::from_utf8(a.excerpt).expect("utf-8"))
        })
        .collect();
    assert_eq!(got[0], (200, "first".into()));
    assert_eq!(got[1], (201, "second".into()));
    assert_eq!(got[2], (200, "third!!!".into()));
    assert_eq!(got[3], (204, String::new()));
    assert_eq!(got[4].0, 500);
    assert_eq!(got[4].1.len(), super::super::deliver::EXCERPT);
    assert_eq!(got[5], (200, "sixth".into()));
    assert_eq!(conns.load(Ordering::SeqCst), 1, "one connection");
    let seen = seen.lock().expect("lock");
    let (reqs, reads) = &seen[0];
    assert_eq!(*reads, 1, "the six requests came in one write");
    for (i, r) in reqs.iter().enumerate() {
        assert!(r.starts_with("POST /in?x=1 HTTP/1.1\r\n"), "{r}");
        assert!(r.contains(&format!("\r\nhost: localhost:{}\r\n", addr.port())));
        assert!(
            r.contains(&format!("harmonia-event-id: evt_{i}\r\n")),
            "{r}"
        );
        assert!(r.ends_with(&format!("{{\"n\":{i}}}")), "{r}");
    }
}

#[tokio::test]
async fn the_connection_is_kept_and_a_stale_one_is_replaced() {
    // Each connection answers one batch of two, then the receiver closes
    // it: the kept connection is stale when the next batch comes.
    let (addr, conns) = receiver(|mut sock, _| async move {
        let mut buf = Vec::new();
        let (reqs, _) = read_requests(&mut sock, &mut buf, 2).await;
        let answers = reqs.iter().map(|_| ok("ok")).collect::<String>();
        sock.write_all(answers.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let answers = e.send(requests(&e, &url, 2)).await;
        for (a, _) in answers {
            assert_eq!(a.expect("answered").status, 200, "round {round}");
        }
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_answer_nobody_asked_for_retires_its_connection() {
    // The first connection answers its request, then sends an answer more
    // (at once, or a moment later); every later connection answers right.
    for delay in [0, 100] {
        let (addr, conns) = receiver(move |mut sock, nth| async move {
            let mut buf = Vec::new();
            loop {
                let (reqs, _) = read_requests(&mut sock, &mut buf, 1).await;
                if reqs.is_empty() {
                    return;
                }
                let mut answers = reqs.iter().map(|_| ok("ok")).collect::<String>();
                if nth == 0 && delay == 0 {
                    answers += "HTTP/1.1 500 Out of step\r\ncontent-length: 0\r\n\r\n";
                }
                let _ = sock.write_all(answers.as_bytes()).await;
                if nth == 0 && delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let _ = sock
                        .write_all(b"HTTP/1.1 500 Out of step\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            }
        })
        .await;
        let url = format!("http://127.0.0.1:{}/", addr.port());
        let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
        for round in 0..2 {
            let (a, _) = e.send(requests(&e, &url, 1)).await.remove(0);
            assert_eq!(
                a.expect("answered").status,
                200,
                "delay {delay}, round {round}"
            );
            tokio::time::sleep(Duration::from_millis(delay + 50)).await;
        }
        assert_eq!(conns.load(Ordering::SeqCst), 2, "delay {delay}");
    }
}

#[tokio::test]
async fn a_receiver_closing_midway_gets_the_rest_on_a_new_connection() {
    // Two answers per connection, then `Connection: close` or a plain close.
    let (addr, conns) = receiver(|mut sock, nth| async move {
        let mut buf = Vec::new();
        let (reqs, _) = read_requests(&mut sock, &mut buf, 1).await;
        let mut answers = ok("a");
        if reqs.len() >= 2 {
            answers += if nth % 2 == 0 {
                "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nb"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"
            };
        }
        let _ = sock.write_all(answers.as_bytes()).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    let answers = e.send(requests(&e, &url, 7)).await;
    for (a, _) in &answers {
        assert_eq!(a.as_ref().expect("answered").status, 200);
    }
    assert_eq!(conns.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_receiver_that_answers_one_of_a_pipeline_then_gets_one_at_a_time() {
    // It reads one request, answers it, and ignores whatever else came.
    let (addr, _) = receiver(|mut sock, _| async move {
        let mut buf = Vec::new();
        loop {
            let (reqs, _) = read_requests(&mut sock, &mut buf, 1).await;
            if reqs.is_empty() {
                return;
            }
            buf.clear();
            if sock.write_all(ok("one").as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let mut e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    e.answer_timeout = Duration::from_millis(300);
    let answers = e.send(requests(&e, &url, 4)).await;
    for (a, _) in &answers {
        assert_eq!(a.as_ref().expect("answered").status, 200);
    }
    assert!(!e.pipelines.load(Ordering::Relaxed));
}

#[tokio::test]
async fn silence_garble_and_refusal_are_reasons_not_hangs() {
    let (quiet, _) = receiver(|mut sock, _| async move {
        let mut buf = Vec::new();
        let _ = read_requests(&mut sock, &mut buf, 3).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{}/", quiet.port());
    let mut e = Endpoint::new(&target(&url, quiet)).expect("endpoint");
    e.answer_timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    for (a, _) in e.send(requests(&e, &url, 3)).await {
        assert_eq!(a.expect_err("no answer"), "no answer within 10 s");
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    let (garbled, _) = receiver(|mut sock, _| async move {
        let mut buf = Vec::new();
        let _ = read_requests(&mut sock, &mut buf, 1).await;
        let _ = sock.write_all(b"SMTP ready\r\n\r\n").await;
    })
    .await;
    let url = format!("http://127.0.0.1:{}/", garbled.port());
    let e = Endpoint::new(&target(&url, garbled)).expect("endpoint");
    let (a, _) = e.send(requests(&e, &url, 1)).await.remove(0);
    assert!(
        a.expect_err("garbled")
            .starts_with("the answer is not HTTP/1.1"),
        "garbled"
    );

    // Nothing listens on a port just freed.
    let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = free.local_addr().expect("addr");
    drop(free);
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    let (a, _) = e.send(requests(&e, &url, 2)).await.remove(0);
    assert_eq!(a.expect_err("refused"), "cannot connect");
}

/// A TLS receiver for `localhost` whose certificate a test CA signed.
async fn tls_receiver() -> (SocketAddr, rustls::pki_types::CertificateDer<'static>) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().expect("key"))
        .expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("cert");
    let ca_der = issuer.der().clone();
    crate::crypto::install_default_provider();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (addr, _) = receiver(move |sock, _| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(sock).await else {
                return;
            };
            let mut buf = Vec::new();
            let (reqs, _) = read_requests(&mut tls, &mut buf, 3).await;
            let answers = reqs.iter().map(|_| ok("secure")).collect::<String>();
            let _ = tls.write_all(answers.as_bytes()).await;
            let _ = tls.flush().await;
            let _ = read_requests(&mut tls, &mut buf, 1).await;
        }
    })
    .await;
    (addr, ca_der)
}

#[tokio::test]
async fn https_receivers_are_checked_against_trusted_roots() {
    let (addr, ca) = tls_receiver().await;
    let url = format!("https://localhost:{}/hook", addr.port());
    // The system's roots do not know the test CA.
    let e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    let (a, _) = e.send(requests(&e, &url, 1)).await.remove(0);
    let why = a.expect_err("untrusted");
    assert!(
        why.starts_with("TLS: ") && why.contains("certificate"),
        "{why}"
    );

    // Trusting it, three requests go pipelined over TLS.
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        [ca],
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .expect("verifier");
    let mut config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut e = Endpoint::new(&target(&url, addr)).expect("endpoint");
    if let Some((_, c)) = e.tls.as_mut() {
        *c = Arc::new(config);
    }
    for (a, _) in e.send(requests(&e, &url, 3)).await {
        let a = a.expect("answered");
        assert_eq!((a.status, a.excerpt.as_slice()), (200, &b"secure"[..]));
    }
}
