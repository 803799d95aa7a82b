//! Backup and restore (issue "Operations that never fail silently"): how
//! fast an online backup of a large organization runs, how fast it restores,
//! and what it costs the server's readers while it runs — get-contact p99
//! during the backup against the same load with no backup, one server, one run.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Ctx;
use crate::data::{self, Dataset};
use crate::load::{MakeRequest, Plan, request};
use crate::report::Row;

use ::harmonia as harmonia_crate;

pub struct BackupFigures {
    pub contacts: usize,
    /// Bytes of the parts backed up (databases and files, before encryption).
    pub plain_bytes: u64,
    pub encrypted_bytes: u64,
    /// The backup on its own (server idle).
    pub backup_alone: Duration,
    /// The same backup while the server answers the load below.
    pub backup_under_load: Duration,
    pub restore: Duration,
    pub idle: Row,
    pub during: Row,
}

impl BackupFigures {
    pub fn mb_per_s(bytes: u64, d: Duration) -> f64 {
        bytes as f64 / 1_000_000.0 / d.as_secs_f64().max(1e-9)
    }
}

fn harmonia_cli(ctx: &Ctx<'_>, args: &[std::ffi::OsString]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = Command::new(&ctx.bin)
        .args(args)
        .env("HARMONIA_LOG", "warn")
        .output()
        .context("running harmonia")?;
    if !out.status.success() {
        bail!(
            "harmonia {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(start.elapsed())
}

pub async fn run(ctx: &Ctx<'_>, size: usize) -> anyhow::Result<BackupFigures> {
    let dataset: Dataset = data::ensure(&ctx.bin, &ctx.args.cache, size)?;
    let copy = data::copy(&dataset, &ctx.work.join("backup"))?;
    let ids: Arc<Vec<String>> = Arc::new(
        data::read_contacts(&copy.tenant_db()?, size.min(200_000))?
            .into_iter()
            .map(|r| r.id)
            .collect(),
    );
    let cpus = ctx.args.server_cpus.as_deref();
    let (server, key) =
        crate::harmonia::start_ready(&ctx.http, &ctx.bin, &copy.dir, &ctx.log("backup"), cpus)
            .await?;
    let archive = ctx.work.join("bench.backup");
    let key_file = ctx.work.join("backup.key");
    let backup_args = |out: &std::path::Path| -> Vec<std::ffi::OsString> {
        vec![
            "--data-dir".into(),
            copy.dir.clone().into_os_string(),
            "backup".into(),
            "--out".into(),
            out.as_os_str().to_owned(),
            "--backup-key-file".into(),
            key_file.clone().into_os_string(),
        ]
    };

    eprintln!("backup: {} contacts, alone", ids.len());
    let alone_args = backup_args(&archive);
    let backup_alone = harmonia_cli(ctx, &alone_args)?;
    let encrypted_bytes = std::fs::metadata(&archive)?.len();
    let plain_bytes = plain_size(&copy.dir)?;

    // Readers with no backup, for as long as the backup took…
    let host = server.addr.to_string();
    let auth = format!("Bearer {key}");
    let contacts = format!("/api/v1/orgs/{}/contacts", harmonia_crate::demo::DEMO_SLUG);
    let make: MakeRequest = {
        let (ids, host, auth) = (ids.clone(), host.clone(), auth.clone());
        Arc::new(move |rng| {
            let path = format!("{contacts}/{}", rng.pick(&ids));
            request("GET", &host, &path, &auth, None)
        })
    };
    let window = backup_alone.max(Duration::from_secs_f64(
        ctx.args.duration().as_secs_f64().min(3.0),
    ));
    let plan = Plan {
        addr: server.addr,
        connections: ctx.args.connections,
        warmup: ctx.args.warmup(),
        duration: window,
    };
    eprintln!("backup: readers, idle ({:.1} s)", window.as_secs_f64());
    let idle = measure_plan(&server, make.clone(), &plan).await;

    // …then the same readers while a second backup runs. The load starts
    // after its warm-up, so the backup starts with the warm-up too.
    eprintln!("backup: readers, during a backup");
    let second = ctx.work.join("bench-2.backup");
    let during_args = backup_args(&second);
    let bin = ctx.bin.clone();
    let warmup = plan.warmup;
    let backup = std::thread::spawn(move || -> anyhow::Result<Duration> {
        std::thread::sleep(warmup);
        let start = Instant::now();
        let out = Command::new(bin)
            .args(&during_args)
            .env("HARMONIA_LOG", "warn")
            .output()?;
        if !out.status.success() {
            bail!(
                "backup under load failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(start.elapsed())
    });
    let during = measure_plan(&server, make, &plan).await;
    let backup_under_load = backup
        .join()
        .map_err(|_| anyhow::anyhow!("backup thread panicked"))??;
    server.stop()?;

    eprintln!("backup: restore");
    let target = ctx.work.join("restored");
    let restore_args: Vec<std::ffi::OsString> = vec![
        "restore".into(),
        archive.clone().into_os_string(),
        "--data-dir".into(),
        target.clone().into_os_string(),
        "--backup-key-file".into(),
        key_file.clone().into_os_string(),
    ];
    let restore = harmonia_cli(ctx, &restore_args)?;
    Ok(BackupFigures {
        contacts: size,
        plain_bytes,
        encrypted_bytes,
        backup_alone,
        backup_under_load,
        restore,
        idle,
        during,
    })
}

async fn measure_plan(server: &crate::server::Server, make: MakeRequest, plan: &Plan) -> Row {
    server.reset_peak();
    let cpu_start = std::cell::Cell::new(0.0);
    let m = crate::load::run(plan, make, || cpu_start.set(server.cpu_secs())).await;
    Row {
        cpu_secs: server.cpu_secs() - cpu_start.get(),
        peak_rss: server.peak_rss(),
        measured: m,
    }
}

/// What a backup copies: the control database, every organization's
/// database and files (WAL files are folded in by the online backup).
fn plain_size(data_dir: &std::path::Path) -> anyhow::Result<u64> {
    let mut total = std::fs::metadata(data_dir.join("harmonia.db"))?.len();
    for org in std::fs::read_dir(data_dir.join("tenants"))? {
        let org = org?.path();
        total += std::fs::metadata(org.join("crm.db"))?.len();
        let files = org.join("files");
        if files.is_dir() {
            for f in std::fs::read_dir(files)? {
                total += f?.metadata()?.len();
            }
        }
    }
    Ok(total)
}
