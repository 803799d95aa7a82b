//! What webhooks cost the write path (issue 17): the contact create rate
//! and its latency with two hooks subscribed to `contact.created` (one to
//! that type, one to `*`), delivering to a receiver on 127.0.0.1, against
//! the same server with no hook at all — in one run, on one copy of the
//! organization, rounds interleaved (without, with, without, …) so that a
//! machine growing busier or a database growing larger weighs on both alike.
//!
//! The audit log is on in both modes: it cannot be switched off (and
//! creating a contact is not an audited action); the API request log is on
//! in both too. What the hooks add is the event's outbox row written in the
//! create's transaction, and the delivery job signing and POSTing it to each
//! hook, and recording the attempts, while creates go on.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::data::{self, Dataset};
use crate::load::quantile_ms;
use crate::report::{Row, mark, ms, num};
use crate::webhooks::Receiver;
use crate::{Ctx, harmonia, measure};

/// Rounds of without-then-with (one in `--smoke`).
const ROUNDS: usize = 3;
/// Hooks subscribed in a round "with".
const HOOKS: usize = 2;

pub struct Round {
    pub hooks: bool,
    pub row: Row,
    /// Contacts the round created, its warm-up included.
    pub created: usize,
    /// Deliveries received when the measured window closed, of `HOOKS` ×
    /// `created` (0 without hooks).
    pub delivered_at_end: usize,
    /// From the window's end until the last delivery arrived.
    pub drained_after: Duration,
    /// Server CPU from the warm-up's start until the last delivery
    /// arrived: deliveries that lag behind the window are counted too.
    pub cpu_all_secs: f64,
}

pub struct HookCostFigures {
    pub rounds: Vec<Round>,
}

impl HookCostFigures {
    fn of(&self, hooks: bool) -> impl Iterator<Item = &Round> {
        self.rounds.iter().filter(move |r| r.hooks == hooks)
    }

    /// Creates per second over every round of one mode.
    pub fn rate(&self, hooks: bool) -> f64 {
        let (n, secs) = self.of(hooks).fold((0u64, 0.0), |(n, s), r| {
            (n + r.row.measured.requests, s + r.row.measured.secs)
        });
        n as f64 / secs.max(1e-9)
    }

    /// A latency quantile over every request of one mode.
    pub fn quantile(&self, hooks: bool, q: f64) -> f64 {
        let mut all: Vec<u32> = self
            .of(hooks)
            .flat_map(|r| r.row.measured.latencies_us.iter().copied())
            .collect();
        all.sort_unstable();
        quantile_ms(&all, q)
    }

    /// Throughput with hooks as a share of without.
    pub fn ratio(&self) -> f64 {
        self.rate(true) / self.rate(false).max(1e-9)
    }

    /// Server CPU per create over every round of one mode, warm-up and
    /// the deliveries' catching up included.
    pub fn cpu_per_create(&self, hooks: bool) -> f64 {
        let (n, secs) = self.of(hooks).fold((0usize, 0.0), |(n, s), r| {
            (n + r.created, s + r.cpu_all_secs)
        });
        secs / n.max(1) as f64
    }

    /// The create rate a saturated core allows with hooks, as a share of
    /// without, from the CPU each create costs with everything it causes.
    pub fn cpu_ratio(&self) -> f64 {
        self.cpu_per_create(false) / self.cpu_per_create(true).max(1e-12)
    }

    pub fn failures(&self) -> Vec<String> {
        self.rounds
            .iter()
            .filter(|r| r.row.measured.errors > 0 || r.row.measured.requests == 0)
            .map(|r| {
                let m = &r.row.measured;
                format!(
                    "create with{} webhooks: {} of {} requests failed; first: {}",
                    if r.hooks { "" } else { "out" },
                    m.errors,
                    m.requests,
                    m.first_error.as_deref().unwrap_or("none completed")
                )
            })
            .collect()
    }

    pub fn markdown(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "### Create contact with and without two webhooks, rounds interleaved\n"
        );
        let _ = writeln!(
            o,
            "| round | webhooks | creates/s | p50 | p99 | server CPU per create | delivered when the window closed | rest delivered after | server CPU per create, all in |"
        );
        let _ = writeln!(
            o,
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for (i, r) in self.rounds.iter().enumerate() {
            let m = &r.row.measured;
            let (delivered, after) = if r.hooks {
                (
                    format!(
                        "{} of {}",
                        num(r.delivered_at_end as f64),
                        num((HOOKS * r.created) as f64)
                    ),
                    format!("{:.2} s", r.drained_after.as_secs_f64()),
                )
            } else {
                ("–".into(), "–".into())
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {delivered} | {after} | {} |",
                i / 2 + 1,
                if r.hooks { "2" } else { "none" },
                num(m.rate()),
                ms(m.quantile_ms(0.5)),
                ms(m.quantile_ms(0.99)),
                ms(r.row.cpu_secs * 1000.0 / (m.requests.max(1) as f64)),
                ms(r.cpu_all_secs * 1000.0 / (r.created.max(1) as f64)),
            );
        }
        let ratio = self.ratio();
        let _ = writeln!(
            o,
            "\nAll rounds: without {} creates/s (p99 {}), with {} creates/s (p99 {}): with is {:.1}% of without, a cost of {:.1}% (target ≤ 15%) {}\n",
            num(self.rate(false)),
            ms(self.quantile(false, 0.99)),
            num(self.rate(true)),
            ms(self.quantile(true, 0.99)),
            ratio * 100.0,
            (1.0 - ratio) * 100.0,
            mark(ratio >= 0.85)
        );
        // Deliveries fall behind while creates saturate the core and catch
        // up after the window: the rate alone leaves that work out.
        let cpu = self.cpu_ratio();
        let _ = writeln!(
            o,
            "Server CPU per create with everything it causes (warm-up and deliveries caught up after the window included): without {}, with {}: the core allows {:.1}% of the rate without, a cost of {:.1}% (target ≤ 15%) {}\n",
            ms(self.cpu_per_create(false) * 1000.0),
            ms(self.cpu_per_create(true) * 1000.0),
            cpu * 100.0,
            (1.0 - cpu) * 100.0,
            mark(cpu >= 0.85)
        );
    }
}

fn contacts_in(db: &std::path::Path) -> anyhow::Result<usize> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let n: i64 = c.query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))?;
    Ok(n as usize)
}

pub async fn run(
    ctx: &Ctx<'_>,
    dataset: &Dataset,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
) -> anyhow::Result<HookCostFigures> {
    let copy = data::copy(dataset, &ctx.work.join("hook-cost"))?;
    let db = copy.tenant_db()?;
    let receiver = Receiver::start()?;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, _) = harmonia::start(
        &ctx.bin,
        &copy.dir,
        &ctx.log("hook-cost"),
        cpus,
        &["--webhooks-allow-private"],
    )?;
    let base = format!("http://{}", server.addr);
    let key = harmonia::api_key(&ctx.http, &base).await?;
    harmonia::wait_index(&ctx.http, &base, &key).await?;
    let admin = harmonia::sign_in(
        &ctx.http,
        &base,
        ::harmonia::demo::DEMO_EMAIL,
        ::harmonia::demo::DEMO_PASSWORD,
    )
    .await?;
    let org = ::harmonia::demo::DEMO_SLUG;
    server.wait_idle(Duration::from_millis(500));
    let rounds = if ctx.args.smoke { 1 } else { ROUNDS };
    let mut out = Vec::new();
    for round in 0..rounds {
        for hooks in [false, true] {
            let mut ids = Vec::new();
            if hooks {
                for (n, events) in [json!(["contact.created"]), json!(["*"])]
                    .into_iter()
                    .enumerate()
                {
                    let made = harmonia::post(
                        &ctx.http,
                        &base,
                        &admin,
                        &format!("/orgs/{org}/webhooks"),
                        json!({"url": receiver.url(n), "events": events}),
                    )
                    .await
                    .context("creating a webhook")?;
                    ids.push(made["id"].as_str().context("webhook id")?.to_string());
                }
            }
            let got_before: Vec<usize> = (0..HOOKS).map(|n| receiver.got(n)).collect();
            let delivered = |r: &Receiver| -> usize {
                (0..HOOKS)
                    .map(|n| r.got(n) - got_before[n])
                    .min()
                    .unwrap_or(0)
                    * HOOKS
            };
            let before = contacts_in(&db)?;
            eprintln!(
                "create contact, {}, round {}",
                if hooks { "two webhooks" } else { "no webhook" },
                round + 1
            );
            let cpu_start = server.cpu_secs();
            let make = harmonia::create_scenario(&server, key.clone(), rows, words);
            let row = measure(ctx, &server, make).await;
            let ended = Instant::now();
            let delivered_at_end = if hooks { delivered(&receiver) } else { 0 };
            let created = contacts_in(&db)? - before;
            if hooks {
                while delivered(&receiver) < HOOKS * created {
                    if ended.elapsed() > Duration::from_secs(300) {
                        bail!(
                            "{} of {} deliveries arrived within 5 minutes",
                            delivered(&receiver),
                            HOOKS * created
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let drained_after = ended.elapsed();
            let cpu_all_secs = server.cpu_secs() - cpu_start;
            for id in ids {
                let req = ctx
                    .http
                    .delete(format!("{base}/api/v1/orgs/{org}/webhooks/{id}"))
                    .header("cookie", &admin.cookie)
                    .header("x-csrf-token", &admin.csrf);
                let resp = req.send().await?;
                if !resp.status().is_success() {
                    bail!("deleting a webhook: {}", resp.status());
                }
            }
            server.wait_idle(Duration::from_millis(500));
            out.push(Round {
                hooks,
                row,
                created,
                delivered_at_end,
                drained_after,
                cpu_all_secs,
            });
        }
    }
    server.stop()?;
    Ok(HookCostFigures { rounds: out })
}
