//! Exporting contacts to CSV (issue 18): `GET …/contacts/export?format=csv`
//! of the whole demo organization (`--export-size`, 1,000,000 contacts by
//! default) with a member's API key, read to its end as a client would,
//! twice. Rows per second from the request until the last byte, and how far
//! the server's resident memory rose above where it was before the request
//! (peak, `VmHWM`): the export is streamed, so it should stay flat.
//!
//! The client sends no `Accept-Encoding`: the figures are for the plain CSV.

use std::fmt::Write;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;

use crate::Ctx;
use crate::data;
use crate::report::{mark, mb, num};

/// Exports of the same list, one after the other.
const RUNS: usize = 2;

pub struct ExportRun {
    pub rows: usize,
    pub bytes: u64,
    pub first_byte: Duration,
    pub elapsed: Duration,
    pub rss_before: u64,
    pub rss_peak: u64,
}

impl ExportRun {
    pub fn per_s(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn growth(&self) -> u64 {
        self.rss_peak.saturating_sub(self.rss_before)
    }
}

pub struct ExportFigures {
    /// Contacts in the organization (not in the trash).
    pub contacts: usize,
    pub runs: Vec<ExportRun>,
}

impl ExportFigures {
    pub fn failures(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| r.rows != self.contacts)
            .map(|r| format!("export: {} rows for {} contacts", r.rows, self.contacts))
            .collect()
    }

    pub fn markdown(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "### Export of {} contacts to CSV (streamed, no compression)\n",
            num(self.contacts as f64)
        );
        let _ = writeln!(
            o,
            "| run | rows | size | first byte | all | rows/s | ≥ 100,000 | server private RSS before → peak | growth | ≤ 50 MB |"
        );
        let _ = writeln!(
            o,
            "| ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | :---: |"
        );
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} MB | {:.3} s | {:.2} s | {} | {} | {} → {} | {} | {} |",
                i + 1,
                num(r.rows as f64),
                r.bytes as f64 / 1e6,
                r.first_byte.as_secs_f64(),
                r.elapsed.as_secs_f64(),
                num(r.per_s()),
                mark(r.per_s() >= 100_000.0),
                mb(r.rss_before),
                mb(r.rss_peak),
                mb(r.growth()),
                mark(r.growth() <= 50 * 1_000_000),
            );
        }
        o.push('\n');
    }
}

/// Counts CSV records by their line ends outside quotes (a quoted cell may
/// hold a line break; a doubled quote inside one toggles twice).
#[derive(Default)]
struct Records {
    in_quotes: bool,
    ends: usize,
    last: u8,
}

impl Records {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.ends += 1,
                _ => {}
            }
        }
        if let Some(&b) = bytes.last() {
            self.last = b;
        }
    }
    /// Records after the header line.
    fn rows(&self, bytes: u64) -> usize {
        let lines = self.ends + usize::from(bytes > 0 && self.last != b'\n');
        lines.saturating_sub(1)
    }
}

fn live_contacts(db: &std::path::Path) -> anyhow::Result<usize> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let n: i64 = c.query_row(
        "SELECT count(*) FROM contacts WHERE deleted_at IS NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<ExportFigures> {
    let size = ctx.args.export_size;
    // Read-only (but for the API key and the export's audit entry): the
    // cached data set serves as it is, its search index kept between runs.
    let dataset = data::ensure(&ctx.bin, &ctx.args.cache, size)?;
    let contacts = live_contacts(&dataset.tenant_db()?)?;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        crate::harmonia::start_ready(&ctx.http, &ctx.bin, &dataset.dir, &ctx.log("export"), cpus)
            .await?;
    let url = format!(
        "http://{}/api/v1/orgs/{}/contacts/export?format=csv",
        server.addr,
        ::harmonia::demo::DEMO_SLUG
    );
    let mut runs = Vec::new();
    for i in 0..RUNS {
        eprintln!("export: {contacts} contacts to CSV, run {}", i + 1);
        server.wait_idle(Duration::from_millis(500));
        server.reset_peak();
        let rss_before = server.rss();
        let start = Instant::now();
        let resp = ctx
            .http
            .get(&url)
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("export answered {}: {}", resp.status(), resp.text().await?);
        }
        let mut body = resp.bytes_stream();
        let (mut records, mut bytes, mut first_byte) = (Records::default(), 0u64, None);
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            first_byte.get_or_insert_with(|| start.elapsed());
            bytes += chunk.len() as u64;
            records.feed(&chunk);
        }
        let elapsed = start.elapsed();
        runs.push(ExportRun {
            rows: records.rows(bytes),
            bytes,
            first_byte: first_byte.unwrap_or(elapsed),
            elapsed,
            rss_before,
            rss_peak: server.peak_rss().max(server.rss()),
        });
    }
    server.stop()?;
    Ok(ExportFigures { contacts, runs })
}
