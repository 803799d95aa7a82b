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

async fn receiver() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/hook"), got))
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
    let (url, got) = receiver().await?;
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
        json!({"url": url, "events": ["contact.updated"]}),
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
    while got.load(Ordering::Relaxed) < events {
        if start.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {events} events arrived in 5 minutes",
                got.load(Ordering::Relaxed)
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
