//! The deliveries' HTTP/1.1 client, pipelined. A run's deliveries to one
//! receiver go out over a few kept-alive connections, each carrying its
//! share of the requests written back to back in one write, and the answers
//! come back in order (RFC 9112 §9.3.2). The receiver sees what it always
//! did: each event its own signed POST, answered on its own. The sender
//! saves a system call pair and a trip through the kernel's TCP stack per
//! delivery (issue 17's budget: two hooks may cost a create at most 15 %).
//!
//! Deliveries are at-least-once (receivers drop duplicates by the event's
//! id), so requests a connection left unanswered — the receiver closed it,
//! or a kept connection had gone stale — go again on a new one. A receiver
//! that answers part of a pipeline and then goes quiet is sent one request
//! at a time from then on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout_at;

use super::ssrf::Target;

/// Connecting, TLS handshake included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Each answer must arrive within this of the one before it (or of the
/// write): a slow receiver is waited for, a silent one is not.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// A run opens at most this many connections to one receiver, and one more
/// for every `PER_CONNECTION` requests before that: a fast receiver gets
/// long pipelines, a slow one still works on up to 32 requests at once.
const MAX_CONNECTIONS: usize = 32;
const PER_CONNECTION: usize = 8;
/// Connections kept open between runs, and for how long: receivers close
/// idle ones themselves after 5 to 75 s.
const KEEP_IDLE: usize = 32;
const IDLE_FOR: Duration = Duration::from_secs(30);
/// An answer's head larger than this is not an answer.
const MAX_HEAD: usize = 64 * 1024;
/// An answer's body is read to its end (the next answer follows it) up to
/// this size; past it the connection is dropped instead.
const MAX_BODY: u64 = 1 << 20;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection and what was read from it past the last answer.
struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    idle_since: Instant,
}

impl Conn {
    /// Whether a kept connection is still open and has said nothing since
    /// its last answer. Answers pair with requests by their order alone: a
    /// receiver that sent more than it was asked is out of step, and one
    /// that has closed the connection is gone.
    fn quiet(&mut self) -> bool {
        use futures_util::FutureExt;
        let mut probe = [0u8; 1];
        self.buf.is_empty() && self.io.read(&mut probe).now_or_never().is_none()
    }
}

/// A receiver's answer: its status and the start of its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub excerpt: Vec<u8>,
}

/// Why an exchange ended without an answer.
#[derive(Debug)]
enum Broken {
    /// The receiver closed the connection (or reset it) before answering.
    Closed,
    /// No answer within `ANSWER_TIMEOUT`.
    Silent,
    /// It answered something that is not HTTP/1.1.
    Garbled(String),
    /// Anything else the socket said.
    Failed(String),
}

impl Broken {
    fn describe(&self) -> String {
        match self {
            Broken::Closed => "the receiver closed the connection without an answer".into(),
            Broken::Silent => "no answer within 10 s".into(),
            Broken::Garbled(why) => format!("the answer is not HTTP/1.1: {why}"),
            Broken::Failed(why) => format!("request failed: {why}"),
        }
    }
}

fn io_broken(e: std::io::Error) -> Broken {
    use std::io::ErrorKind::*;
    match e.kind() {
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => Broken::Closed,
        TimedOut => Broken::Silent,
        _ => Broken::Failed(e.to_string()),
    }
}

/// One receiver (scheme, host and port, checked by `ssrf::resolve`): where
/// to connect, the name to give in each request, and its kept connections.
pub struct Endpoint {
    addrs: Vec<std::net::SocketAddr>,
    /// `Host:` — the URL's host, and its port when not the scheme's.
    authority: String,
    /// For https: the name the certificate must carry, and what checks it.
    tls: Option<(
        rustls::pki_types::ServerName<'static>,
        Arc<rustls::ClientConfig>,
    )>,
    answer_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    pipelines: AtomicBool,
}

/// TLS for https receivers: the system's trusted roots (`SSL_CERT_FILE`
/// and `SSL_CERT_DIR` name others), HTTP/1.1 only.
static TLS: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    use rustls_platform_verifier::BuilderVerifierExt;
    crate::crypto::install_default_provider();
    let mut config = rustls::ClientConfig::builder()
        .with_platform_verifier()
        .map_err(|e| format!("the system's trusted certificates cannot be read: {e}"))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
});

impl Endpoint {
    pub fn new(target: &Target) -> Result<Endpoint, String> {
        let url = &target.url;
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", target.host),
            None => target.host.clone(),
        };
        let tls = match url.scheme() {
            "https" => {
                let name = match url.host() {
                    Some(url::Host::Ipv4(ip)) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V4(ip))
                    }
                    Some(url::Host::Ipv6(ip)) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V6(ip))
                    }
                    _ => rustls::pki_types::ServerName::try_from(target.host.clone())
                        .map_err(|_| format!("{} is not a name TLS can check", target.host))?,
                };
                Some((name, TLS.as_ref().map_err(Clone::clone)?.clone()))
            }
            _ => None,
        };
        Ok(Endpoint {
            addrs: target.addrs.clone(),
            authority,
            tls,
            answer_timeout: ANSWER_TIMEOUT,
            idle: Mutex::new(Vec::new()),
            pipelines: AtomicBool::new(true),
        })
    }

    /// A POST of `body` to `url` (on this endpoint) with `headers` (names
    /// and values of our own making: no line breaks), as written on the wire.
    pub fn post(&self, url: &url::Url, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(256 + body.len());
        let _ = write!(
            out,
            "POST {} HTTP/1.1\r\nhost: {}\r\nuser-agent: {}\r\naccept: */*\r\ncontent-length: {}\r\n",
            &url[url::Position::BeforePath..url::Position::AfterQuery],
            self.authority,
            concat!("Harmonia-Webhooks/", env!("CARGO_PKG_VERSION")),
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    /// Sends `requests` (from `post`) and returns each one's answer, or why
    /// there is none, with how long it took, in the order given.
    pub async fn send(&self, requests: Vec<Vec<u8>>) -> Vec<(Result<Answer, String>, Duration)> {
        let n = requests.len();
        let lanes = n.div_ceil(PER_CONNECTION).clamp(1, MAX_CONNECTIONS);
        let mut queues: Vec<VecDeque<(usize, Vec<u8>)>> = vec![VecDeque::new(); lanes];
        // Contiguous shares, so that a lane's events keep their order.
        for (i, r) in requests.into_iter().enumerate() {
            queues[i * lanes / n.max(1)].push_back((i, r));
        }
        let lanes = queues
            .into_iter()
            .filter(|q| !q.is_empty())
            .map(|q| self.exchange(q));
        let mut out: Vec<Option<(Result<Answer, String>, Duration)>> =
            (0..n).map(|_| None).collect();
        for lane in futures_util::future::join_all(lanes).await {
            for (i, result, took) in lane {
                out[i] = Some((result, took));
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| (Err("not sent".into()), Duration::ZERO)))
            .collect()
    }

    /// One lane: its requests over one connection at a time, pipelined,
    /// until each has an answer or a reason.
    async fn exchange(
        &self,
        mut queue: VecDeque<(usize, Vec<u8>)>,
    ) -> Vec<(usize, Result<Answer, String>, Duration)> {
        let mut out = Vec::with_capacity(queue.len());
        let fail_all = |queue: &mut VecDeque<(usize, Vec<u8>)>, out: &mut Vec<_>, why: String| {
            for (i, _) in queue.drain(..) {
                out.push((i, Err(why.clone()), Duration::ZERO));
            }
        };
        while !queue.is_empty() {
            let (mut conn, kept) = match self.checkout() {
                Some(c) => (c, true),
                None => match self.connect().await {
                    Ok(c) => (c, false),
                    Err(why) => {
                        fail_all(&mut queue, &mut out, why);
                        break;
                    }
                },
            };
            let depth = if self.pipelines.load(Ordering::Relaxed) {
                queue.len()
            } else {
                1
            };
            let mut wire = Vec::with_capacity(queue.iter().take(depth).map(|r| r.1.len()).sum());
            for (_, r) in queue.iter().take(depth) {
                wire.extend_from_slice(r);
            }
            let mut since = Instant::now();
            let deadline = tokio::time::Instant::now() + self.answer_timeout;
            let written = match timeout_at(deadline, async {
                conn.io.write_all(&wire).await?;
                conn.io.flush().await
            })
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(io_broken(e)),
                Err(_) => Err(Broken::Silent),
            };
            let mut answered = 0;
            let mut broke = written.err();
            let mut reusable = broke.is_none();
            while broke.is_none() && answered < depth {
                match read_answer(&mut conn, self.answer_timeout).await {
                    Ok((answer, close)) => {
                        let (i, _) = queue.pop_front().unwrap_or_default();
                        out.push((i, Ok(answer), since.elapsed()));
                        since = Instant::now();
                        answered += 1;
                        if close {
                            reusable = false;
                            break;
                        }
                    }
                    Err(e) => {
                        reusable = false;
                        broke = Some(e);
                    }
                }
            }
            if reusable && conn.buf.is_empty() {
                self.checkin(conn);
            }
            match broke {
                None => {}
                // A kept connection the receiver had closed meanwhile.
                Some(Broken::Closed) if kept && answered == 0 => {}
                // Answered some, then went quiet: it may not read past the
                // first request of a pipeline. One at a time from now on.
                Some(Broken::Silent) if answered > 0 && depth > 1 => {
                    tracing::info!(receiver = %self.authority, "a webhook receiver stalled in a pipeline: sending it one request at a time");
                    self.pipelines.store(false, Ordering::Relaxed);
                }
                // Closed after answering some (a keep-alive limit): the rest
                // go on a new connection.
                Some(Broken::Closed) if answered > 0 => {}
                Some(e) => fail_all(&mut queue, &mut out, e.describe()),
            }
        }
        out
    }

    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut c) = idle.pop() {
            if c.idle_since.elapsed() < IDLE_FOR && c.quiet() {
                return Some(c);
            }
        }
        None
    }

    fn checkin(&self, mut conn: Conn) {
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
    }

    /// A new connection to the first of the checked addresses that takes
    /// one (never any other address: see `ssrf`).
    async fn connect(&self) -> Result<Conn, String> {
        let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
        let mut tcp = None;
        for addr in &self.addrs {
            if let Ok(Ok(s)) = timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await {
                tcp = Some(s);
                break;
            }
        }
        let tcp = tcp.ok_or_else(|| "cannot connect".to_string())?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some((name, config)) => {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                match timeout_at(deadline, connector.connect(name.clone(), tcp)).await {
                    Ok(Ok(s)) => Box::new(s),
                    Ok(Err(e)) => return Err(format!("TLS: {e}")),
                    Err(_) => return Err("TLS: no handshake within 5 s".into()),
                }
            }
        };
        Ok(Conn {
            io,
            buf: Vec::with_capacity(4096),
            idle_since: Instant::now(),
        })
    }
}

/// Reads more of the connection into its buffer.
async fn fill(conn: &mut Conn, deadline: tokio::time::Instant) -> Result<(), Broken> {
    let start = conn.buf.len();
    conn.buf.resize(start + 16 * 1024, 0);
    let read = timeout_at(deadline, conn.io.read(&mut conn.buf[start..])).await;
    let n = match read {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            conn.buf.truncate(start);
            return Err(io_broken(e));
        }
        Err(_) => {
            conn.buf.truncate(start);
            return Err(Broken::Silent);
        }
    };
    conn.buf.truncate(start + n);
    if n == 0 {
        return Err(Broken::Closed);
    }
    Ok(())
}

/// How an answer's body is delimited.
enum Framing {
    Length(u64),
    Chunked,
    /// By the end of the connection.
    Close,
}

/// The next answer on `conn` (interim 1xx answers skipped), its body
/// consumed and its start kept; and whether the connection ends with it.
async fn read_answer(conn: &mut Conn, wait: Duration) -> Result<(Answer, bool), Broken> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (status, framing, close, head) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&conn.buf) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = resp.code.unwrap_or(0);
                    let (framing, close) = framing_of(&resp, status)?;
                    break (status, framing, close, head);
                }
                Ok(httparse::Status::Partial) if conn.buf.len() > MAX_HEAD => {
                    return Err(Broken::Garbled("its head is over 64 KB".into()));
                }
                Ok(httparse::Status::Partial) => fill(conn, deadline).await?,
                Err(e) => return Err(Broken::Garbled(e.to_string())),
            }
        };
        conn.buf.drain(..head);
        if status == 101 {
            return Err(Broken::Garbled("it switched protocols".into()));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut excerpt = Vec::new();
        let complete = match framing {
            Framing::Length(n) => body(conn, n, &mut excerpt, deadline).await?,
            Framing::Chunked => chunked(conn, &mut excerpt, deadline).await?,
            Framing::Close => {
                // Up to the excerpt; the connection is not reused anyway.
                excerpt.append(&mut conn.buf);
                while excerpt.len() < super::deliver::EXCERPT {
                    match fill(conn, deadline).await {
                        Ok(()) => excerpt.append(&mut conn.buf),
                        Err(Broken::Closed) => break,
                        Err(e) => return Err(e),
                    }
                }
                false
            }
        };
        excerpt.truncate(super::deliver::EXCERPT);
        return Ok((Answer { status, excerpt }, close || !complete));
    }
}

fn framing_of(resp: &httparse::Response, status: u16) -> Result<(Framing, bool), Broken> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = resp.version != Some(1);
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| Broken::Garbled("its Content-Length is not a number".into()))?;
            if length.is_some_and(|l| l != n) {
                return Err(Broken::Garbled("it has two Content-Lengths".into()));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',') {
                if token.trim().eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.trim().eq_ignore_ascii_case("keep-alive") && resp.version == Some(0)
                {
                    close = false;
                }
            }
        }
    }
    Ok(match (chunked, length) {
        // No body, whatever the headers say (RFC 9112 §6.3).
        _ if (100..200).contains(&status) || status == 204 || status == 304 => {
            (Framing::Length(0), close)
        }
        (true, _) => (Framing::Chunked, close),
        (false, Some(n)) => (Framing::Length(n), close),
        (false, None) => (Framing::Close, true),
    })
}

/// Consumes `n` bytes of body, keeping the excerpt's share; false when the
/// body was too long to read to its end (the connection must go).
async fn body(
    conn: &mut Conn,
    n: u64,
    excerpt: &mut Vec<u8>,
    deadline: tokio::time::Instant,
) -> Result<bool, Broken> {
    if n > MAX_BODY {
        return Ok(false);
    }
    let mut left = n as usize;
    while left > 0 {
        if conn.buf.is_empty() {
            fill(conn, deadline).await?;
        }
        let take = left.min(conn.buf.len());
        let keep = take.min(super::deliver::EXCERPT.saturating_sub(excerpt.len()));
        excerpt.extend_from_slice(&conn.buf[..keep]);
        conn.buf.drain(..take);
        left -= take;
    }
    Ok(true)
}

/// A chunked body (RFC 9112 §7.1), trailers skipped.
async fn chunked(
    conn: &mut Conn,
    excerpt: &mut Vec<u8>,
    deadline: tokio::time::Instant,
) -> Result<bool, Broken> {
    let mut total = 0u64;
    loop {
        let size = loop {
            match httparse::parse_chunk_size(&conn.buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    conn.buf.drain(..used);
                    break size;
                }
                Ok(httparse::Status::Partial) if conn.buf.len() > MAX_HEAD => {
                    return Err(Broken::Garbled("a chunk's size line is too long".into()));
                }
                Ok(httparse::Status::Partial) => fill(conn, deadline).await?,
                Err(_) => return Err(Broken::Garbled("a chunk's size is not hexadecimal".into())),
            }
        };
        if size == 0 {
            // Trailer lines, up to an empty one.
            loop {
                match conn.buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        conn.buf.drain(..2);
                        return Ok(true);
                    }
                    Some(end) => {
                        conn.buf.drain(..end + 2);
                    }
                    None if conn.buf.len() > MAX_HEAD => {
                        return Err(Broken::Garbled("its trailers are over 64 KB".into()));
                    }
                    None => fill(conn, deadline).await?,
                }
            }
        }
        total = total.saturating_add(size);
        if total > MAX_BODY {
            return Ok(false);
        }
        body(conn, size, excerpt, deadline).await?;
        while conn.buf.len() < 2 {
            fill(conn, deadline).await?;
        }
        if &conn.buf[..2] != b"\r\n" {
            return Err(Broken::Garbled("a chunk is longer than its size".into()));
        }
        conn.buf.drain(..2);
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
