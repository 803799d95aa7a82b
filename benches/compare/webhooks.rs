//! Webhooks (issue 17): how fast committed events reach a receiver on
//! 127.0.0.1. One hook listens to `contact.updated`; bulk changes of up to
//! 10,000 contacts (1,000 per request, back to back) write one event each,
//! and the clock runs from the first request until the receiver has
//! accepted every event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::Ctx;
use crate::data::{self, Dataset};

pub struct HookFigures {
    pub events: usize,
    /// From the first change until the receiver had every event.
    pub elapsed: Duration,
    /// Of which the changes themselves (deliveries run meanwhile).
    pub writing: Duration,
}

impl HookFigures {
    pub fn per_s(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A webhook receiver on 127.0.0.1, on a thread and runtime of its own so
/// that receiving never slows the load generator (this process's main
/// thread). `POST /hook/{n}` (n < 8) counts a signed delivery for hook n.
pub struct Receiver {
    pub base: String,
    got: Arc<[AtomicUsize; 8]>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start() -> anyhow::Result<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}/hook", listener.local_addr()?);
        let got: Arc<[AtomicUsize; 8]> = Arc::new(Default::default());
        let counts = got.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hook-receiver".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let app = axum::Router::new().route(
                        "/hook/{n}",
                        axum::routing::post(
                            move |axum::extract::Path(n): axum::extract::Path<usize>,
                                  headers: axum::http::HeaderMap| {
                                let counts = counts.clone();
                                async move {
                                    // Only a signed delivery counts.
                                    if n < 8 && headers.contains_key("harmonia-signature") {
                                        counts[n].fetch_add(1, Ordering::Relaxed);
                                    }
                                    "ok"
                                }
                            },
                        ),
                    );
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Receiver {
            base,
            got,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The URL hook `n` delivers to.
    pub fn url(&self, n: usize) -> String {
        format!("{}/{n}", self.base)
    }

    /// Signed deliveries received for hook `n` so far.
    pub fn got(&self, n: usize) -> usize {
        self.got[n].load(Ordering::Relaxed)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub async fn run(ctx: &Ctx<'_>, dataset: &Dataset) -> anyhow::Result<HookFigures> {
    let copy = data::copy(dataset, &ctx.work.join("webhooks"))?;
    let ids: Vec<String> = data::read_contacts(&copy.tenant_db()?, 10_000)?
        .into_iter()
        .map(|c| c.id)
        .collect();
    if ids.is_empty() {
        bail!("no contacts to change");
    }
    let receiver = Receiver::start()?;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, _) = crate::harmonia::start(
        &ctx.bin,
        &copy.dir,
        &ctx.log("webhooks"),
        cpus,
        &["--webhooks-allow-private"],
    )?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let s = crate::harmonia::sign_in(
        &http,
        &base,
        ::harmonia::demo::DEMO_EMAIL,
        ::harmonia::demo::DEMO_PASSWORD,
    )
    .await?;
    let org = ::harmonia::demo::DEMO_SLUG;
    crate::harmonia::post(
        &http,
        &base,
        &s,
        &format!("/orgs/{org}/webhooks"),
        json!({"url": receiver.url(0), "events": ["contact.updated"]}),
    )
    .await
    .context("creating the webhook")?;
    server.wait_idle(Duration::from_millis(500));

    eprintln!(
        "webhooks: {} contact.updated events to a local receiver",
        ids.len()
    );
    let start = Instant::now();
    let mut events = 0;
    for chunk in ids.chunks(1000) {
        let done = crate::harmonia::post(
            &http,
            &base,
            &s,
            &format!("/orgs/{org}/contacts/bulk"),
            json!({"ids": chunk, "set": {"job_title": "Webhook benchmark"}}),
        )
        .await
        .context("bulk change")?;
        events += done["updated"].as_u64().unwrap_or(0) as usize;
    }
    let writing = start.elapsed();
    while receiver.got(0) < events {
        if start.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {events} events arrived in 5 minutes",
                receiver.got(0)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    server.stop()?;
    Ok(HookFigures {
        events,
        elapsed,
        writing,
    })
}
