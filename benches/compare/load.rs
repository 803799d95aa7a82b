//! The load generator: a fixed number of keep-alive HTTP/1.1 connections over
//! loopback, each sending its next request as soon as the last answer is read.
//! Latency is the time from sending a request to having read its whole body.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;

/// Makes the next request of a scenario; `Rng` varies ids and words per request.
pub type MakeRequest = Arc<dyn Fn(&mut Rng) -> Request<Full<Bytes>> + Send + Sync>;

/// xorshift64*: tiny, seedable, good enough to pick ids and words.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What one scenario measured (its warm-up excluded).
#[derive(Default, Clone)]
pub struct Measured {
    pub requests: u64,
    pub errors: u64,
    /// Errors that were requests left unanswered for `REQUEST_TIMEOUT`.
    pub timeouts: u64,
    pub first_error: Option<String>,
    pub secs: f64,
    /// Sorted latencies in microseconds.
    pub latencies_us: Vec<u32>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.secs.max(1e-9)
    }
    /// The q-quantile latency in milliseconds (q in 0..=1).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }
}

pub fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * q).round() as usize;
    sorted_us[i.min(sorted_us.len() - 1)] as f64 / 1000.0
}

pub struct Plan {
    pub addr: SocketAddr,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Default)]
struct ConnResult {
    requests: u64,
    errors: u64,
    timeouts: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

/// Runs a scenario: warm-up, then `duration` measured. `at_measure_start`
/// is called once the warm-up is over (to snapshot the server's CPU time).
pub async fn run(plan: &Plan, make: MakeRequest, at_measure_start: impl FnOnce()) -> Measured {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = Vec::with_capacity(plan.connections);
    for c in 0..plan.connections {
        let make = make.clone();
        let addr = plan.addr;
        tasks.push(tokio::spawn(async move {
            connection(addr, make, c as u64, measure_from, end).await
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    at_measure_start();
    let mut out = Measured {
        secs: plan.duration.as_secs_f64(),
        ..Measured::default()
    };
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| ConnResult {
            errors: 1,
            first_error: Some(format!("load task failed: {e}")),
            ..ConnResult::default()
        });
        out.requests += r.requests;
        out.errors += r.errors;
        out.timeouts += r.timeouts;
        if out.first_error.is_none() {
            out.first_error = r.first_error;
        }
        out.latencies_us.extend(r.latencies_us);
    }
    out.latencies_us.sort_unstable();
    out
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A request that takes longer counts as an error (and its connection is
/// replaced): a system that stalls cannot stall the benchmark.
const TIMED_OUT: &str = "connection: no answer within";
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection `n` comes from its own loopback address (127.0.0.2, .3, …), as
/// clients on different machines would: per-address limits (sign-in
/// throttling) then see 32 clients, not one.
async fn connect(addr: SocketAddr, n: u64) -> Result<Sender, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("connect: {e}"))?;
    if addr.ip().is_loopback() {
        let from = Ipv4Addr::new(127, 0, (2 + n / 250) as u8, (2 + n % 250) as u8);
        socket
            .bind(SocketAddr::new(IpAddr::V4(from), 0))
            .map_err(|e| format!("connect: binding {from}: {e}"))?;
    }
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn connection(
    addr: SocketAddr,
    make: MakeRequest,
    seed: u64,
    measure_from: Instant,
    end: Instant,
) -> ConnResult {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut r = ConnResult::default();
    let mut sender: Option<Sender> = None;
    loop {
        let sent = Instant::now();
        if sent >= end {
            return r;
        }
        let measured = sent >= measure_from;
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let s = match sender.as_mut() {
                Some(s) => s,
                None => sender.insert(connect(addr, seed).await?),
            };
            s.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = s
                .send_request(make(&mut rng))
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            if status.is_success() {
                Ok(())
            } else {
                Err(describe(status, &body))
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("{TIMED_OUT} {REQUEST_TIMEOUT:?}")));
        let done = Instant::now();
        if let Err(e) = &outcome {
            if e.starts_with("connect") || e.starts_with("connection") || e.starts_with("request") {
                sender = None; // the connection is gone: open a new one
            }
            if e.starts_with("connect:") {
                tokio::time::sleep(Duration::from_millis(10)).await; // no busy loop while down
            }
        }
        if !measured || done > end {
            continue;
        }
        r.requests += 1;
        r.latencies_us
            .push((done - sent).as_micros().min(u32::MAX as u128) as u32);
        if let Err(e) = outcome {
            r.errors += 1;
            if e.starts_with(TIMED_OUT) {
                r.timeouts += 1;
            }
            r.first_error.get_or_insert(e);
        }
    }
}

fn describe(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    format!("HTTP {status}: {text}")
}

/// Builds a request with the headers both servers need.
pub fn request(
    method: &str,
    host: &str,
    path: &str,
    auth: &str,
    body: Option<Bytes>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("accept", "application/json");
    if !auth.is_empty() {
        b = b.header("authorization", auth);
    }
    let body = match body {
        Some(bytes) => {
            b = b.header("content-type", "application/json");
            bytes
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body))
        .expect("a request built from valid parts")
}
