//! Importing contacts (issue 18) through the real import API: a CSV of
//! `--size` contacts (100,000 by default) with 10 columns, uploaded
//! (`POST …/imports`), mapped and set to dedupe on email (`PATCH`), run
//! (`POST …/run`) and watched until the job is done. One row in a hundred
//! repeats an earlier row's email (in other letter case), so the dedupe rule
//! has something to skip. The rate is the rows over the time from the run
//! request until the import answers `done`, the job runner's pick-up
//! included: what the person who pressed "Import" waits.
//!
//! The rows' values come from the demo data set (names, phones, job titles,
//! company names, stages, sources), so companies are linked or created by
//! name as in a real migration; emails are made unique per row.

use std::fmt::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::Ctx;
use crate::data::{self, DemoContact};
use crate::harmonia::Session;
use crate::report::{mark, mb, num};

const HEADERS: [&str; 10] = [
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Job Title",
    "Company",
    "City",
    "Country",
    "Stage",
    "Lead Source",
];
const MAPPING: [&str; 10] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company_name",
    "address.city",
    "address.country",
    "stage",
    "source",
];
const PLACES: [(&str, &str); 6] = [
    ("Berlin", "DE"),
    ("Lyon", "FR"),
    ("Austin", "US"),
    ("Leeds", "GB"),
    ("Porto", "PT"),
    ("Osaka", "JP"),
];

/// How long the run is watched before the figures are taken as they are
/// (the import is then cancelled): a slow import is a result, not a reason
/// to lose the rest of the run.
const CUT_OFF: Duration = Duration::from_secs(600);

pub struct ImportFigures {
    pub rows: usize,
    /// Rows the import had done when it was done or cut off.
    pub rows_done: usize,
    /// False if it was still running at `CUT_OFF`.
    pub finished: bool,
    pub bytes: usize,
    pub duplicates: usize,
    pub upload: Duration,
    /// From the run request until the import answered `done`.
    pub run: Duration,
    /// The job's own time, started → finished (the server's clock).
    pub job_secs: Option<f64>,
    /// The import's report: created, updated, skipped, failed.
    pub report: Value,
    pub rss_before: u64,
    pub rss_peak: u64,
}

impl ImportFigures {
    pub fn per_s(&self) -> f64 {
        self.rows_done as f64 / self.run.as_secs_f64().max(1e-9)
    }

    pub fn failures(&self) -> Vec<String> {
        let r = &self.report;
        let n = |k: &str| r[k].as_u64().unwrap_or(0) as usize;
        let mut out = Vec::new();
        if !self.finished {
            // Reported (as missed), not a failure of the benchmark.
            return out;
        }
        if n("failed") > 0 || n("created") + n("skipped") != self.rows {
            out.push(format!(
                "import: {} rows, {} duplicates; the report says {r}",
                self.rows, self.duplicates
            ));
        }
        out
    }

    pub fn markdown(&self, o: &mut String) {
        let r = &self.report;
        let _ = writeln!(
            o,
            "### Import of {} contacts (10 columns, dedupe on email)\n",
            num(self.rows as f64)
        );
        if !self.finished {
            let _ = writeln!(
                o,
                "**Cut off**: {} of {} rows done after {:.0} s (then cancelled); the rate below is over those rows.\n",
                num(self.rows_done as f64),
                num(self.rows as f64),
                self.run.as_secs_f64()
            );
        }
        let _ = writeln!(
            o,
            "| upload ({:.1} MB) | run → done | job alone (server's clock) | rows/s (run → done) | target | created | skipped | failed | server private RSS before → peak |",
            self.bytes as f64 / 1e6
        );
        let _ = writeln!(
            o,
            "| ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: |"
        );
        let _ = writeln!(
            o,
            "| {:.2} s | {:.2} s | {} | {} | ≥ 20,000 {} | {} | {} | {} | {} → {} |\n",
            self.upload.as_secs_f64(),
            self.run.as_secs_f64(),
            self.job_secs
                .map(|s| format!("{s:.2} s ({} rows/s)", num(self.rows as f64 / s.max(1e-9))))
                .unwrap_or_else(|| "–".into()),
            num(self.per_s()),
            mark(self.per_s() >= 20_000.0),
            num(r["created"].as_f64().unwrap_or(0.0)),
            num(r["skipped"].as_f64().unwrap_or(0.0)),
            num(r["failed"].as_f64().unwrap_or(0.0)),
            mb(self.rss_before),
            mb(self.rss_peak),
        );
    }
}

/// The file: one row per demo contact; every hundredth repeats the email of
/// the row fifty before it, upper-cased. Answers the bytes and how many rows
/// repeat an email.
fn csv_of(rows: &[DemoContact]) -> anyhow::Result<(Vec<u8>, usize)> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
    w.write_record(HEADERS)?;
    let email = |i: usize| format!("contact.{i}@import-bench.example");
    let mut dups = 0;
    for (i, c) in rows.iter().enumerate() {
        let e = if i % 100 == 99 {
            dups += 1;
            email(i - 50).to_uppercase()
        } else {
            email(i)
        };
        let phones: Value = serde_json::from_str(&c.phones_json).unwrap_or(Value::Null);
        let phone = phones[0]["phone"].as_str().unwrap_or("");
        let (city, country) = PLACES[i % PLACES.len()];
        w.write_record([
            c.first_name.as_str(),
            c.last_name.as_str(),
            &e,
            phone,
            c.job_title.as_deref().unwrap_or(""),
            c.company.as_deref().unwrap_or(""),
            city,
            country,
            c.stage.as_str(),
            c.source.as_deref().unwrap_or(""),
        ])?;
    }
    Ok((w.into_inner()?, dups))
}

async fn send(req: reqwest::RequestBuilder, s: &Session, what: &str) -> anyhow::Result<Value> {
    crate::server::json_answer(
        req.header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf),
        what,
    )
    .await
}

fn stamp_secs(v: &Value) -> Option<f64> {
    let t =
        time::OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

pub async fn run(ctx: &Ctx<'_>, rows: &[DemoContact]) -> anyhow::Result<ImportFigures> {
    let (file, duplicates) = csv_of(rows)?;
    let bytes = file.len();
    // A small organization to import into (the demo's 300 contacts).
    let dataset = data::ensure(&ctx.bin, &ctx.args.cache, 300)?;
    let copy = data::copy(&dataset, &ctx.work.join("import"))?;
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        crate::harmonia::start_ready(&ctx.http, &ctx.bin, &copy.dir, &ctx.log("import"), cpus)
            .await?;
    drop(key);
    let base = format!("http://{}", server.addr);
    let org = ::harmonia::demo::DEMO_SLUG;
    let imports = format!("{base}/api/v1/orgs/{org}/imports");
    let admin = crate::harmonia::sign_in(
        &ctx.http,
        &base,
        ::harmonia::demo::DEMO_EMAIL,
        ::harmonia::demo::DEMO_PASSWORD,
    )
    .await?;

    eprintln!(
        "import: {} contacts, {:.1} MB of CSV",
        rows.len(),
        bytes as f64 / 1e6
    );
    let start = Instant::now();
    let form = reqwest::multipart::Form::new()
        .text("kind", "contact")
        .part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name("contacts.csv"),
        );
    let made = send(ctx.http.post(&imports).multipart(form), &admin, "upload").await?;
    let upload = start.elapsed();
    let id = made["id"].as_str().context("import id")?.to_string();
    if made["row_count"].as_u64() != Some(rows.len() as u64) {
        bail!("the import counted {} rows", made["row_count"]);
    }
    send(
        ctx.http.patch(format!("{imports}/{id}")).json(&json!({
            "mapping": MAPPING,
            "dedupe": {"match": "email", "action": "skip"},
        })),
        &admin,
        "mapping",
    )
    .await?;
    server.wait_idle(Duration::from_millis(500));
    server.reset_peak();
    let rss_before = server.rss();

    let start = Instant::now();
    send(
        ctx.http
            .post(format!("{imports}/{id}/run"))
            .json(&json!({})),
        &admin,
        "run",
    )
    .await?;
    let (done, finished) = loop {
        let i = send(ctx.http.get(format!("{imports}/{id}")), &admin, "progress").await?;
        match i["state"].as_str() {
            Some("done") => break (i, true),
            Some("queued" | "running") => {}
            other => bail!("the import ended {other:?}: {}", i["error"]),
        }
        if start.elapsed() > CUT_OFF {
            eprintln!(
                "import: cut off after {} s at {} rows",
                CUT_OFF.as_secs(),
                i["progress"]["rows_done"]
            );
            break (i, false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let run = start.elapsed();
    if !finished {
        send(
            ctx.http
                .post(format!("{imports}/{id}/cancel"))
                .json(&json!({})),
            &admin,
            "cancel",
        )
        .await?;
    }
    let rss_peak = server.peak_rss().max(server.rss());
    let job_secs = stamp_secs(&done["started_at"])
        .zip(stamp_secs(&done["finished_at"]))
        .map(|(a, b)| b - a);
    server.stop()?;
    Ok(ImportFigures {
        rows: rows.len(),
        rows_done: done["progress"]["rows_done"].as_u64().unwrap_or(0) as usize,
        finished,
        bytes,
        duplicates,
        upload,
        run,
        job_secs,
        report: done["report"].clone(),
        rss_before,
        rss_peak,
    })
}
