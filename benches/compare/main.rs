//! The benchmark: Harmonia side by side with PocketBase, TrailBase (when its
//! binary is there) and raw SQLite,
//! how costs grow with the data, and what many organizations cost — in one run
//! that prints a markdown table.
//!
//!     cargo bench --bench compare                 # the full run (docs/benchmarks.md)
//!     cargo bench --bench compare -- --smoke      # tiny sizes; fails if any scenario errors
//!
//! Servers run as child processes; load comes from this process over loopback.

mod backup;
mod data;
mod deals;
mod exports;
mod files;
mod harmonia;
mod hook_cost;
mod imports;
mod lists;
mod load;
mod metrics;
mod pocketbase;
mod raw;
mod records;
mod report;
mod server;
mod storm;
mod trailbase;
mod webhooks;
mod work;

use anyhow::{Context, bail};
use clap::Parser;
use load::{MakeRequest, Measured, Plan};
use report::{OrgFigures, Report, Row};
use server::Server;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Harmonia vs PocketBase vs TrailBase vs raw SQLite, growth and organizations")]
struct Args {
    /// Tiny sizes and durations: checks every scenario still runs (CI).
    #[arg(long)]
    smoke: bool,
    /// Contacts in the organization for the side-by-side scenarios.
    #[arg(long, default_value_t = 100_000)]
    size: usize,
    /// Organization sizes for the growth table.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    growth: Vec<usize>,
    /// Contacts in the organization backed up and restored (the backup part).
    #[arg(long, default_value_t = 1_000_000)]
    backup_size: usize,
    /// Contacts in the organization exported to CSV (the export part).
    #[arg(long, default_value_t = 1_000_000)]
    export_size: usize,
    /// Active organizations at which to read the server's memory.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    orgs: Vec<usize>,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds measured per scenario [default: 10; smoke: 1].
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of warm-up before each scenario [default: 2; smoke: 1.5, as a
    /// debug build's first phone-number parse alone takes most of a second].
    #[arg(long)]
    warmup: Option<f64>,
    /// Which parts to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "compare,records,lists,deals,work,limit,growth,orgs,backup,files,webhooks,create-hooks,storm,import,export,metrics"
    )]
    parts: Vec<Part>,
    /// Where generated data sets and PocketBase are kept between runs (and
    /// where the TrailBase binary is looked for: <cache>/trailbase/tbpeer).
    #[arg(long, default_value = "target/bench-data")]
    cache: PathBuf,
    /// The TrailBase peer's server binary (built by
    /// ../shared/peers/trailbase) [default: <cache>/trailbase/tbpeer]. When
    /// it is absent TrailBase is skipped.
    #[arg(long, env = "TRAILBASE_BIN")]
    trailbase_bin: Option<PathBuf>,
    /// Pin the servers to these CPUs (taskset list, e.g. "0").
    #[arg(long)]
    server_cpus: Option<String>,
    /// Pin this load generator to these CPUs (e.g. "1").
    #[arg(long)]
    load_cpus: Option<String>,
    /// Only these side-by-side scenarios (labels' first words, e.g. "create,get").
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Keep the work folder (server logs, data copies) and print where it is.
    #[arg(long)]
    keep: bool,
    /// Also write the table to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also run Harmonia's side-by-side scenarios with this binary (e.g. the
    /// previous commit's release build) on a data set it generates itself,
    /// and report before/after.
    #[arg(long)]
    baseline_bin: Option<PathBuf>,
    /// Run Harmonia's side-by-side scenarios this many times (with a
    /// baseline, alternately: this build first in odd rounds, the baseline
    /// first in even ones) and report each scenario's median round, with
    /// every round's after / before. This VM's noise between two servers
    /// run one after the other is ±20 %; one round cannot show less.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Compare,
    Records,
    Lists,
    Deals,
    Work,
    Limit,
    Growth,
    Orgs,
    Backup,
    Files,
    Webhooks,
    /// Contact create with two webhooks subscribed and without (issue 17).
    CreateHooks,
    /// A minute of creates, then the server's memory for 30 s (issue 21).
    Storm,
    /// A CSV import of `--size` contacts through the import API (issue 18).
    Import,
    /// A CSV export of `--export-size` contacts (issue 18).
    Export,
    /// Get-contact throughput with metrics recorded and not.
    Metrics,
}

/// The side-by-side scenarios, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scenario {
    SignIn,
    Get,
    ListFirst,
    ListDeep,
    ListStage,
    SearchPrefix,
    SearchWord,
    SearchTypo,
    Create,
    Update,
    StageUpdate,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::SignIn,
        Scenario::Get,
        Scenario::ListFirst,
        Scenario::ListDeep,
        Scenario::ListStage,
        Scenario::SearchPrefix,
        Scenario::SearchWord,
        Scenario::SearchTypo,
        Scenario::Create,
        Scenario::Update,
        Scenario::StageUpdate,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Scenario::SignIn => "sign in",
            Scenario::Get => "get contact by id",
            Scenario::ListFirst => "list, first page (by name)",
            Scenario::ListDeep => "list, deep cursor page (by name)",
            Scenario::ListStage => "list, filtered by stage (by name)",
            Scenario::SearchPrefix => "search, 3-letter prefix",
            Scenario::SearchWord => "search, whole word",
            Scenario::SearchTypo => "search, with a typo",
            Scenario::Create => "create contact",
            Scenario::Update => "update contact",
            Scenario::StageUpdate => "update contact stage",
        }
    }
    fn writes(self) -> bool {
        matches!(
            self,
            Scenario::Create | Scenario::Update | Scenario::StageUpdate | Scenario::SignIn
        )
    }
}

impl Args {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.unwrap_or(10.0))
    }
    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.unwrap_or(2.0))
    }
}

fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    if args.smoke {
        args.size = 300;
        args.growth = vec![100, 300];
        args.backup_size = 300;
        args.export_size = 300;
        args.orgs = vec![1, 3, 5];
        args.connections = args.connections.min(8);
        args.duration = args.duration.or(Some(1.0));
        args.warmup = args.warmup.or(Some(1.5));
    }
    if let Some(cpus) = &args.load_cpus {
        let pinned = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
            .stdout(std::process::Stdio::null())
            .status();
        if !matches!(pinned, Ok(s) if s.success()) {
            eprintln!("error: could not pin the load generator to CPUs {cpus}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            let text = report.markdown();
            println!("{text}");
            if let Some(out) = &args.out
                && let Err(e) = std::fs::write(out, &text)
            {
                eprintln!("error: writing {}: {e}", out.display());
                return std::process::ExitCode::FAILURE;
            }
            let failures = report.failures(args.smoke);
            if failures.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                for f in failures {
                    eprintln!("error: {f}");
                }
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) args: &'a Args,
    pub bin: PathBuf,
    pub work: PathBuf,
    pub http: reqwest::Client,
}

impl Ctx<'_> {
    fn plan(&self, server: &Server) -> Plan {
        Plan {
            addr: server.addr,
            connections: self.args.connections,
            warmup: self.args.warmup(),
            duration: self.args.duration(),
        }
    }
    fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| {
                let slug = format!("{s:?}").to_lowercase();
                self.args.only.is_empty()
                    || self
                        .args
                        .only
                        .iter()
                        .any(|o| slug.starts_with(&o.to_lowercase()))
            })
            .collect()
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.work.join(format!("{name}.log"))
    }
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    // reqwest here has no crypto provider of its own (Cargo.toml): ring, as
    // in the server.
    ::harmonia::crypto::install_default_provider();
    let tmp = tempfile::tempdir()?;
    let (tmp, kept) = if args.keep {
        let kept = tmp.keep();
        eprintln!("work folder (kept): {}", kept.display());
        (None, kept)
    } else {
        (Some(tmp), PathBuf::new())
    };
    let ctx = Ctx {
        args,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_harmonia")),
        work: tmp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or(kept),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?,
    };
    std::fs::create_dir_all(&args.cache)?;
    let mut report = Report::new(
        args.connections,
        args.duration().as_secs_f64(),
        args.warmup().as_secs_f64(),
        args.server_cpus.clone(),
    );
    let dataset = data::ensure(&ctx.bin, &args.cache, args.size)?;
    let rows = Arc::new(data::read_contacts(&dataset.tenant_db()?, args.size)?);
    if rows.is_empty() {
        bail!("the demo data set has no contacts");
    }
    let words = Arc::new(data::words(&rows));
    report.size = rows.len();

    if args.parts.contains(&Part::Compare) {
        let baseline = match &args.baseline_bin {
            Some(old) => {
                let old_data = data::ensure(old, &args.cache.join("baseline"), args.size)?;
                // Its own rows: ids are made when the data set is generated.
                let old_rows = Arc::new(data::read_contacts(&old_data.tenant_db()?, args.size)?);
                Some((old, old_data, old_rows))
            }
            None => None,
        };
        let (mut after, mut before) = (Vec::new(), Vec::new());
        for round in 0..args.rounds.max(1) {
            if args.rounds > 1 {
                eprintln!("round {} of {}", round + 1, args.rounds);
            }
            let baseline_first = round % 2 == 1;
            for run_baseline in [baseline_first, !baseline_first] {
                match (&baseline, run_baseline) {
                    (Some((old, old_data, old_rows)), true) => {
                        eprintln!("baseline: {}", old.display());
                        before.push(compare_harmonia(&ctx, old, old_data, old_rows, &words).await?);
                    }
                    (_, false) => {
                        after.push(compare_harmonia(&ctx, &ctx.bin, &dataset, &rows, &words).await?)
                    }
                    (None, true) => {}
                }
            }
        }
        report.round_ratios = report::round_ratios(&after, &before);
        report.harmonia = report::median_rounds(after);
        report.baseline = report::median_rounds(before);
        compare_pocketbase(&ctx, &rows, &words, &mut report).await?;
        compare_trailbase(&ctx, &rows, &words, &mut report).await?;
    }
    if args.parts.contains(&Part::Records) {
        report.records = Some(records::run(&ctx, &dataset).await?);
    }
    if args.parts.contains(&Part::Lists) {
        report.lists = Some(lists::run(&ctx, &dataset).await?);
    }
    if args.parts.contains(&Part::Deals) {
        let open = if args.smoke { 300 } else { 10_000 };
        report.deals = Some(deals::run(&ctx, &dataset, open).await?);
    }
    if args.parts.contains(&Part::Work) {
        report.work = Some(work::run(&ctx, &dataset).await?);
    }
    if args.parts.contains(&Part::Limit) {
        eprintln!("raw SQLite: inserts and point reads");
        let d = args.duration();
        report.raw_insert = Some(raw::inserts(&ctx.work.join("raw.db"), &rows, d)?);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        report.raw_get = Some(raw::reads(&dataset.tenant_db()?, &ids, threads, d)?);
        report.raw_threads = threads;
    }
    if args.parts.contains(&Part::Growth) {
        for &n in &args.growth {
            growth(&ctx, n, &mut report).await?;
        }
    }
    if args.parts.contains(&Part::Orgs) {
        report.orgs = Some(orgs(&ctx).await?);
    }
    if args.parts.contains(&Part::Backup) {
        report.backup = Some(backup::run(&ctx, args.backup_size).await?);
    }
    if args.parts.contains(&Part::Files) {
        report.files = Some(files::run(&ctx).await?);
    }
    if args.parts.contains(&Part::Webhooks) {
        report.webhooks = Some(webhooks::run(&ctx, &dataset).await?);
    }
    // These long parts also print their table as soon as they end, so that
    // a later part's failure does not lose them.
    if args.parts.contains(&Part::CreateHooks) {
        let h = hook_cost::run(&ctx, &dataset, &rows, &words).await?;
        eprintln!("{}", report::section(|o| h.markdown(o)));
        report.hook_cost = Some(h);
    }
    if args.parts.contains(&Part::Storm) {
        let s = storm::run(&ctx, &dataset, &rows, &words).await?;
        eprintln!("{}", report::section(|o| s.markdown(o)));
        report.storm = Some(s);
    }
    if args.parts.contains(&Part::Import) {
        let i = imports::run(&ctx, &rows).await?;
        eprintln!("{}", report::section(|o| i.markdown(o)));
        report.import = Some(i);
    }
    if args.parts.contains(&Part::Export) {
        let e = exports::run(&ctx).await?;
        eprintln!("{}", report::section(|o| e.markdown(o)));
        report.export = Some(e);
    }
    if args.parts.contains(&Part::Metrics) {
        report.metrics = Some(metrics::run(&ctx, &dataset, &rows, &words).await?);
    }
    Ok(report)
}

/// Writes every dirty page on the machine to disk before a window opens,
/// so that no window pays for the writeback of what ran before it: a
/// create storm leaves hundreds of megabytes of WAL and database pages,
/// and the next server (the baseline runs right after this build) met the
/// kernel writing them back.
async fn settle_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    let _ = tokio::task::spawn_blocking(|| unsafe { libc::sync() }).await;
}

/// Runs one scenario against a server: its figures plus the server's peak
/// RSS and CPU seconds over the measured window.
pub(crate) async fn measure(ctx: &Ctx<'_>, server: &Server, make: MakeRequest) -> Row {
    measure_with(server, ctx.plan(server), make).await
}

/// `measure` with a plan of its own (a longer window).
pub(crate) async fn measure_with(server: &Server, plan: load::Plan, make: MakeRequest) -> Row {
    settle_disk().await;
    server.reset_peak();
    let cpu_start = std::cell::Cell::new(0.0);
    let m: Measured = load::run(&plan, make, || cpu_start.set(server.cpu_secs())).await;
    Row {
        cpu_secs: server.cpu_secs() - cpu_start.get(),
        peak_rss: server.peak_rss(),
        measured: m,
    }
}

async fn compare_harmonia(
    ctx: &Ctx<'_>,
    bin: &std::path::Path,
    dataset: &data::Dataset,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
) -> anyhow::Result<Vec<(Scenario, Row)>> {
    let copy = data::copy(dataset, &ctx.work.join("harmonia"))?;
    let (server, key) = harmonia::start_ready(
        &ctx.http,
        bin,
        &copy.dir,
        &ctx.log("harmonia"),
        ctx.args.server_cpus.as_deref(),
    )
    .await?;
    let base = format!("http://{}", server.addr);
    let deep_cursor = harmonia::cursor_at(&ctx.http, &base, &key, rows.len() / 2).await?;
    let target = harmonia::Target {
        host: server.addr.to_string(),
        key,
        ids: Arc::new(rows.iter().map(|r| r.id.clone()).collect()),
        rows: rows.clone(),
        deep_cursor,
    };
    let mut out = Vec::new();
    for (s, make) in harmonia::scenarios(&target, words, &ctx.scenarios()) {
        eprintln!("harmonia: {}", s.label());
        let row = measure(ctx, &server, make).await;
        if s.writes() {
            server.wait_idle(Duration::from_millis(500));
        }
        out.push((s, row));
    }
    server.stop()?;
    Ok(out)
}

async fn compare_pocketbase(
    ctx: &Ctx<'_>,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bin = pocketbase::install(&ctx.args.cache)?;
    let dir = ctx.work.join("pb_data");
    let log = ctx.log("pocketbase");
    eprintln!("pocketbase: loading {} contacts", rows.len());
    let ids = pocketbase::prepare(&ctx.http, &bin, &dir, &log, rows).await?;
    let (server, _) = pocketbase::start(&bin, &dir, &log, ctx.args.server_cpus.as_deref())?;
    let base = format!("http://{}", server.addr);
    let token = pocketbase::member_token(&ctx.http, &base).await?;
    let deep_after = pocketbase::keyset_at(rows, &ids, rows.len() / 2 - 1);
    let target = pocketbase::Target {
        host: server.addr.to_string(),
        token,
        ids: Arc::new(ids),
        rows: rows.clone(),
        deep_after,
    };
    for (s, make) in pocketbase::scenarios(&target, words, &ctx.scenarios()) {
        eprintln!("pocketbase: {}", s.label());
        let row = measure(ctx, &server, make).await;
        if s.writes() {
            server.wait_idle(Duration::from_millis(500));
        }
        report.pocketbase.push((s, row));
    }
    report.pocketbase_version = pocketbase::VERSION;
    server.stop()
}

async fn compare_trailbase(
    ctx: &Ctx<'_>,
    rows: &Arc<Vec<data::DemoContact>>,
    words: &Arc<data::Words>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bin = match &ctx.args.trailbase_bin {
        Some(b) => b.clone(),
        None => trailbase::default_bin(&ctx.args.cache),
    };
    if !bin.is_file() {
        let note = format!(
            "trailbase: skipped (binary not found at {}, see ../shared/peers/trailbase/README.md)",
            bin.display()
        );
        eprintln!("{note}");
        report.trailbase_skipped = Some(note);
        return Ok(());
    }
    let dir = ctx.work.join("trailbase");
    let log = ctx.log("trailbase");
    eprintln!("trailbase: loading {} contacts", rows.len());
    let ids = trailbase::prepare(&bin, &dir, &log, rows)?;
    let (server, _) = trailbase::start(&bin, &dir, &log, ctx.args.server_cpus.as_deref())?;
    let target = trailbase::Target {
        host: server.addr.to_string(),
        ids: Arc::new(ids),
        rows: rows.clone(),
        deep_after: trailbase::keyset_at(rows, (rows.len() / 2).saturating_sub(1)),
    };
    trailbase::check(&ctx.http, &target).await?;
    report.trailbase_version = trailbase::VERSION;
    for (s, make) in trailbase::scenarios(&target, words, &ctx.scenarios()) {
        let make = match make {
            Ok(make) => make,
            Err(why) => {
                eprintln!("trailbase: {}: — ({why})", s.label());
                report.trailbase_missing.push((s, why));
                continue;
            }
        };
        eprintln!("trailbase: {}", s.label());
        let row = measure(ctx, &server, make).await;
        if s.writes() {
            server.wait_idle(Duration::from_millis(500));
        }
        report.trailbase.push((s, row));
    }
    server.stop()
}

/// Get, list and search at one organization size, and its bytes on disk.
async fn growth(ctx: &Ctx<'_>, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let dataset = data::ensure(&ctx.bin, &ctx.args.cache, n)?;
    let rows = Arc::new(data::read_contacts(&dataset.tenant_db()?, n)?);
    let words = Arc::new(data::words(&rows));
    // Read-only scenarios: the cached data set serves as it is (its index,
    // built on the first run, is kept).
    let (server, key) = harmonia::start_ready(
        &ctx.http,
        &ctx.bin,
        &dataset.dir,
        &ctx.log("growth"),
        ctx.args.server_cpus.as_deref(),
    )
    .await?;
    let target = harmonia::Target {
        host: server.addr.to_string(),
        key,
        ids: Arc::new(rows.iter().map(|r| r.id.clone()).collect()),
        rows: rows.clone(),
        deep_cursor: None,
    };
    let mut figures = Vec::new();
    for (s, make) in harmonia::scenarios(
        &target,
        &words,
        &[Scenario::Get, Scenario::ListFirst, Scenario::SearchPrefix],
    ) {
        eprintln!("growth {n}: {}", s.label());
        figures.push((s, measure(ctx, &server, make).await));
    }
    server.stop()?;
    let dir = dataset.tenant_dir()?;
    let index = server::disk_bytes(&dir.join("index"));
    let db = server::disk_bytes(&dir) - index;
    report.growth.push(report::Growth {
        contacts: rows.len(),
        figures,
        db_bytes: db,
        index_bytes: index,
    });
    Ok(())
}

/// Memory with 1, 100, 1,000 organizations active, idle memory, and start-up
/// time with all of them on disk.
async fn orgs(ctx: &Ctx<'_>) -> anyhow::Result<OrgFigures> {
    let most = ctx.args.orgs.iter().copied().max().unwrap_or(1);
    let dir = ctx.work.join("orgs");
    let pw = ctx.work.join("orgs-password");
    std::fs::write(&pw, "benchmark password 1")?;
    let ok = Command::new(&ctx.bin)
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "setup",
            "--org-name",
            "Org 1",
            "--email",
            "bench@example.com",
            "--password-file",
        ])
        .arg(&pw)
        .env("HARMONIA_LOG", "warn")
        .status()?
        .success();
    if !ok {
        bail!("harmonia setup failed");
    }
    // Every organization stays open: the default keeps the 256 most recent.
    let open = (most + 24).to_string();
    let extra = ["--max-open-tenants", open.as_str()];
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, _) = harmonia::start(&ctx.bin, &dir, &ctx.log("orgs"), cpus, &extra)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut figures = OrgFigures {
        idle_rss: server.rss(),
        ..OrgFigures::default()
    };
    let base = format!("http://{}", server.addr);
    let session = harmonia::sign_in(
        &ctx.http,
        &base,
        "bench@example.com",
        "benchmark password 1",
    )
    .await?;
    eprintln!("organizations: creating {most}");
    let mut slugs = vec![
        ctx.http
            .get(format!("{base}/api/v1/orgs"))
            .header("cookie", &session.cookie)
            .send()
            .await?
            .json::<serde_json::Value>()
            .await?["items"][0]["slug"]
            .as_str()
            .context("no organization after setup")?
            .to_string(),
    ];
    for i in 2..=most {
        let slug = format!("bench-{i}");
        harmonia::post(
            &ctx.http,
            &base,
            &session,
            "/orgs",
            serde_json::json!({"name": format!("Org {i}"), "slug": slug}),
        )
        .await?;
        slugs.push(slug);
    }
    let mut targets = ctx.args.orgs.clone();
    targets.sort_unstable();
    let mut touched = 0;
    for n in targets {
        while touched < n {
            let resp = ctx
                .http
                .get(format!("{base}/api/v1/orgs/{}/contacts", slugs[touched]))
                .header("cookie", &session.cookie)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!("listing contacts of {}: {}", slugs[touched], resp.status());
            }
            touched += 1;
        }
        server.wait_idle(Duration::from_millis(500));
        figures.rss_active.push((n, server.rss()));
    }
    server.stop()?;
    let (server, startup) = harmonia::start(&ctx.bin, &dir, &ctx.log("orgs"), cpus, &extra)?;
    figures.startup = startup;
    figures.on_disk = most;
    server.stop()?;
    Ok(figures)
}

/// Used by `report` to say where the figures came from.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| format!("{} GB", kb / 1024 / 1024))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}")
}
