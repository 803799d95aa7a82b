//! After a storm of creates (issue 21): the server's memory and the
//! database's WAL once the writes stop. A copy of the organization, contact
//! create at `--connections` for `STORM` seconds (the side-by-side scenario),
//! then the server's RSS every second for `AFTER` seconds with nothing
//! asked of it: the search indexer catches up meanwhile, and its memory and
//! the connections' caches should go back. Target: RSS under 150 MB within
//! 30 s of the storm's end.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::data::{self, Dataset};
use crate::load::Plan;
use crate::report::{Row, mark, mb, num};
use crate::{Ctx, harmonia, measure_with};

/// Seconds of creates, and of watching after them (`--smoke`: 2 and 3).
const STORM: f64 = 60.0;
const AFTER: u64 = 30;
/// The target: RSS under this within `AFTER` seconds.
const TARGET_MB: f64 = 150.0;

pub struct StormFigures {
    pub row: Row,
    pub idle_rss: u64,
    /// RSS when the storm ended, then once a second after it.
    pub after: Vec<u64>,
    /// The WAL file's size when the storm ended.
    pub wal_bytes: u64,
}

impl StormFigures {
    /// Seconds after the storm until RSS was under the target (None: never
    /// within the watch).
    pub fn back_under(&self) -> Option<usize> {
        self.after
            .iter()
            .position(|&b| (b as f64) < TARGET_MB * 1024.0 * 1024.0)
    }

    pub fn failures(&self) -> Vec<String> {
        let m = &self.row.measured;
        if m.errors > 0 || m.requests == 0 {
            vec![format!(
                "create storm: {} of {} requests failed; first: {}",
                m.errors,
                m.requests,
                m.first_error.as_deref().unwrap_or("none completed")
            )]
        } else {
            Vec::new()
        }
    }

    pub fn markdown(&self, o: &mut String) {
        let m = &self.row.measured;
        let _ = writeln!(
            o,
            "### After a create storm ({:.0} s)\n\n{} creates at {} req/s (p99 {:.1} ms); server RSS idle before {}, peak {}, at the end {}; WAL at the end {}.\n",
            m.secs,
            num(m.requests as f64),
            num(m.rate()),
            m.quantile_ms(0.99),
            mb(self.idle_rss),
            mb(self.row.peak_rss),
            mb(self.after.first().copied().unwrap_or(0)),
            mb(self.wal_bytes),
        );
        let _ = writeln!(o, "| seconds after | RSS |\n| ---: | ---: |");
        for (s, b) in self.after.iter().enumerate() {
            if s % 5 == 0 || s + 1 == self.after.len() {
                let _ = writeln!(o, "| {s} | {} |", mb(*b));
            }
        }
        let _ = writeln!(
            o,
            "\nRSS under {TARGET_MB:.0} MB within {AFTER} s: {} {}\n",
            self.back_under()
                .map_or("no".to_string(), |s| format!("after {s} s")),
            mark(self.back_under().is_some())
        );
    }
}

pub async fn run(
    ctx: &Ctx<'_>,
    dataset: &Dataset,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
) -> anyhow::Result<StormFigures> {
    let copy = data::copy(dataset, &ctx.work.join("storm"))?;
    let db = copy.tenant_db()?;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        harmonia::start_ready(&ctx.http, &ctx.bin, &copy.dir, &ctx.log("storm"), cpus).await?;
    let idle_rss = server.rss();
    let make = harmonia::create_scenario(&server, key, rows, words);
    let (storm, after) = if ctx.args.smoke {
        (2.0, 3)
    } else {
        (STORM, AFTER)
    };
    eprintln!("create storm, {storm:.0} s");
    let plan = Plan {
        duration: Duration::from_secs_f64(storm),
        ..ctx.plan(&server)
    };
    let row = measure_with(&server, plan, make).await;
    let wal = db.with_file_name(format!(
        "{}-wal",
        db.file_name().and_then(|n| n.to_str()).unwrap_or("crm.db")
    ));
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| m.len());
    let started = Instant::now();
    let mut samples = vec![server.rss()];
    for s in 1..=after {
        let next = started + Duration::from_secs(s);
        tokio::time::sleep_until(next.into()).await;
        samples.push(server.rss());
    }
    server.stop()?;
    Ok(StormFigures {
        row,
        idle_rss,
        after: samples,
        wal_bytes,
    })
}
