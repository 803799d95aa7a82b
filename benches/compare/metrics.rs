//! What recording metrics costs: get-contact throughput with metrics on
//! (`--metrics-listen`, so every request is counted and timed) and off (no
//! metrics flag: nothing is recorded), in the same run, rounds interleaved
//! so that a machine growing busier weighs on both alike.

use std::sync::Arc;
use std::time::Duration;

use crate::report::Row;
use crate::{Ctx, Scenario, data, harmonia, measure};

/// Rounds of off-then-on.
const ROUNDS: usize = 3;

pub struct MetricsFigures {
    /// (metrics on?, the round's figures), in the order measured.
    pub rounds: Vec<(bool, Row)>,
}

impl MetricsFigures {
    /// Requests per second over every round of one mode.
    pub fn rate(&self, on: bool) -> f64 {
        let (requests, secs) = self
            .rounds
            .iter()
            .filter(|(o, _)| *o == on)
            .fold((0u64, 0.0), |(r, s), (_, row)| {
                (r + row.measured.requests, s + row.measured.secs)
            });
        requests as f64 / secs.max(1e-9)
    }

    /// Throughput with metrics on as a share of without.
    pub fn ratio(&self) -> f64 {
        self.rate(true) / self.rate(false).max(1e-9)
    }
}

pub async fn run(
    ctx: &Ctx<'_>,
    dataset: &data::Dataset,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
) -> anyhow::Result<MetricsFigures> {
    let ids = Arc::new(rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        for on in [false, true] {
            let metrics_addr = crate::server::free_addr()?.to_string();
            let extra: &[&str] = if on {
                &["--metrics-listen", &metrics_addr]
            } else {
                &[]
            };
            let (server, _) = harmonia::start(
                &ctx.bin,
                &dataset.dir,
                &ctx.log("metrics"),
                ctx.args.server_cpus.as_deref(),
                extra,
            )?;
            let base = format!("http://{}", server.addr);
            let key = harmonia::api_key(&ctx.http, &base).await?;
            harmonia::wait_index(&ctx.http, &base, &key).await?;
            server.wait_idle(Duration::from_millis(500));
            let target = harmonia::Target {
                host: server.addr.to_string(),
                key,
                ids: ids.clone(),
                rows: rows.clone(),
                deep_cursor: None,
            };
            for (_, make) in harmonia::scenarios(&target, words, &[Scenario::Get]) {
                eprintln!(
                    "metrics {}, round {}: get contact by id",
                    if on { "on" } else { "off" },
                    round + 1
                );
                rounds.push((on, measure(ctx, &server, make).await));
            }
            server.stop()?;
        }
    }
    Ok(MetricsFigures { rounds })
}
