//! The `harmonia` command: serve (the default), setup, migrate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use harmonia::auth::users;
use harmonia::config::{Config, ServeArgs};
use harmonia::platform::{orgs, setup};
use harmonia::state::AppState;

mod process;
use process::{return_big_buffers_to_the_system, return_freed_memory_soon};

#[derive(Parser)]
#[command(
    name = "harmonia",
    version,
    about = "A self-hosted CRM in one executable"
)]
struct Cli {
    /// Where the databases live (created if missing).
    #[arg(
        long,
        env = "HARMONIA_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    data_dir: PathBuf,
    /// Log lines as text (for people) or JSON (one object a line, for log collectors).
    #[arg(
        long,
        env = "HARMONIA_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (what `harmonia` with no subcommand does).
    Serve(ServeArgs),
    /// Create the first organization and its owner without a browser.
    Setup {
        #[arg(long)]
        org_name: String,
        #[arg(long)]
        email: String,
        /// A file holding the password (a trailing newline is ignored).
        #[arg(long)]
        password_file: PathBuf,
        /// The owner's display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
    },
    /// Ask the server at --listen (HARMONIA_LISTEN) whether it answers
    /// /healthz; exits non-zero when not (container health checks).
    Health {
        /// The server's address (a wildcard address is asked through loopback).
        #[arg(long, env = "HARMONIA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Set (as for serve): the server speaks HTTPS, so ask over TLS.
        #[arg(long, env = "HARMONIA_TLS_CERT")]
        tls_cert: Option<PathBuf>,
    },
    /// Check a data directory and say, line by line, what is fine and what is
    /// wrong with its fix (changes nothing; exits non-zero on a failure).
    Doctor {
        /// Free space below this (MiB) is a failure (as `serve --min-free-space-mb`).
        #[arg(long, env = "HARMONIA_MIN_FREE_SPACE_MB", default_value_t = 256)]
        min_free_space_mb: u64,
        #[command(flatten)]
        backup: harmonia::config::BackupArgs,
        /// The vault's master key. Default: <data-dir>/master.key.
        #[arg(long, env = "HARMONIA_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
    },
    /// Apply pending database migrations to the control database and every organization.
    Migrate {
        /// Only list what would be applied, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make an encrypted backup (safe while the server runs), or check one.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        action: Option<BackupAction>,
        /// The backup file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only this organization (its slug).
        #[arg(long)]
        org: Option<String>,
        /// The backup key (created on first use). Default: <data-dir>/backup.key.
        #[arg(long, env = "HARMONIA_BACKUP_KEY_FILE")]
        backup_key_file: Option<PathBuf>,
    },
    /// Restore a backup: the whole instance into an empty --data-dir, or one
    /// organization (--org) into the instance at --data-dir (server stopped).
    Restore {
        file: PathBuf,
        /// Restore only this organization (its slug in the backup).
        #[arg(long)]
        org: Option<String>,
        /// Give the restored organization this slug instead.
        #[arg(long = "as", requires = "org")]
        as_slug: Option<String>,
        /// The key the backup was made with. Default: <data-dir>/backup.key.
        #[arg(long, env = "HARMONIA_BACKUP_KEY_FILE")]
        backup_key_file: Option<PathBuf>,
    },
    /// Load a whole-organization export (Settings → Organization → Export
    /// everything) into a new organization. Safe while the server runs.
    ImportOrg {
        /// The archive (.zip) as downloaded.
        archive: PathBuf,
        /// The new organization's slug.
        #[arg(long)]
        slug: String,
        /// An existing account to own it. Default: the archive's owners who
        /// have an account here.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Make a one-time password reset link (valid one hour) for an account and
    /// print it; using it ends every session of the account.
    ResetPassword {
        /// The account's email.
        #[arg(long)]
        email: String,
        /// The URL people use to reach this server (as `serve --public-url`), for the link.
        #[arg(long, env = "HARMONIA_PUBLIC_URL")]
        public_url: Option<url::Url>,
    },
    /// Re-encrypt every secret of the vault under a new master key (created
    /// in --new-key-file when that file does not exist), then put the new key
    /// in place of the current one. Stop the server first; safe to run again
    /// after an interruption.
    RotateKey {
        /// The new key (64 hex digits), or where to create it.
        #[arg(long)]
        new_key_file: PathBuf,
        /// The current key. Default: <data-dir>/master.key.
        #[arg(long, env = "HARMONIA_MASTER_KEY_FILE")]
        master_key_file: Option<PathBuf>,
    },
    /// List the background jobs with their last run, outcome and next run
    /// (exits non-zero when one failed its last run).
    Jobs,
    /// The audit logs (tamper-evident, hash-chained).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Rebuild the search index from the database (all organizations, or one).
    /// Stop the server first.
    Reindex {
        /// Only this organization (its slug).
        #[arg(long)]
        org: Option<String>,
    },
    /// Create an organization full of realistic generated data (offline, from a
    /// fixed seed), print the demo sign-in, and serve it.
    Demo {
        /// How many contacts to generate (up to 5,000,000).
        #[arg(long, default_value_t = 300)]
        contacts: usize,
        /// How many companies (default: one for every five contacts, at least 20).
        #[arg(long)]
        companies: Option<usize>,
        /// The same seed makes the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Only generate the data; do not start the server.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Walk the hash chains (the platform's and every organization's, or one
    /// organization's) and report the first broken link of each; exits
    /// non-zero when one is broken. Read-only: safe while the server runs.
    Verify {
        /// Only this organization (its slug).
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand)]
enum BackupAction {
    /// Decrypt a backup, check every checksum and each database's integrity.
    Verify {
        file: PathBuf,
        /// The key the backup was made with. Default: <data-dir>/backup.key.
        #[arg(long, env = "HARMONIA_BACKUP_KEY_FILE")]
        backup_key_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    return_big_buffers_to_the_system();
    return_freed_memory_soon();
    harmonia::crypto::install_default_provider();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARMONIA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The server's lines go out in batches; a command's at once, as they
    // interleave with what it prints.
    let serving = matches!(cli.command, None | Some(Command::Serve(_)));
    let log = harmonia::log_output::LogOutput::new(
        std::io::stdout(),
        if serving {
            harmonia::log_output::Batching::On
        } else {
            harmonia::log_output::Batching::Off
        },
    );
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_writer(log.clone())
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_target(false)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(log.clone())
            .init(),
    }
    // Before any command opens a database (SQLite takes it only then).
    harmonia::db::prepare_sqlite();
    let result = match cli.command {
        None => serve(cli.data_dir, cli.serve),
        Some(Command::Serve(args)) => serve(cli.data_dir, args),
        Some(Command::Setup {
            org_name,
            email,
            password_file,
            name,
        }) => setup_cli(cli.data_dir, org_name, email, password_file, name),
        Some(Command::Doctor {
            min_free_space_mb,
            backup,
            master_key_file,
        }) => doctor(cli.data_dir, min_free_space_mb, backup, master_key_file),
        Some(Command::Health { listen, tls_cert }) => harmonia::probe::check(
            harmonia::probe::target(listen),
            tls_cert.is_some(),
            std::time::Duration::from_secs(5),
        )
        .map(|status| println!("{status}")),
        Some(Command::Migrate { dry_run: false }) => migrate(cli.data_dir),
        Some(Command::Migrate { dry_run: true }) => harmonia::upgrade::dry_run(
            &cli.data_dir,
            &harmonia::db::Schema::Control.migrations(),
            &harmonia::db::Schema::Tenant.migrations(),
        )
        .map(|lines| {
            for line in lines {
                println!("{line}");
            }
        }),
        Some(Command::Reindex { org }) => reindex(cli.data_dir, org),
        Some(Command::Jobs) => jobs(cli.data_dir),
        Some(Command::Audit {
            action: AuditAction::Verify { org },
        }) => audit_verify(cli.data_dir, org),
        Some(Command::RotateKey {
            new_key_file,
            master_key_file,
        }) => rotate_key(cli.data_dir, new_key_file, master_key_file),
        Some(Command::ResetPassword { email, public_url }) => {
            reset_password(cli.data_dir, email, public_url)
        }
        Some(Command::Backup {
            action,
            out,
            org,
            backup_key_file,
        }) => backup(cli.data_dir, action, out, org, backup_key_file),
        Some(Command::Restore {
            file,
            org,
            as_slug,
            backup_key_file,
        }) => restore(cli.data_dir, file, org, as_slug, backup_key_file),
        Some(Command::ImportOrg {
            archive,
            slug,
            owner,
        }) => import_org(cli.data_dir, archive, slug, owner),
        Some(Command::Demo {
            contacts,
            companies,
            seed,
            no_serve,
            serve: args,
        }) => demo(cli.data_dir, contacts, companies, seed, no_serve, args),
    };
    // The last lines gathered (the shutdown's) before the process ends.
    let _ = log.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(data_dir: PathBuf, args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // A wrong certificate or key stops the start before anything else.
    let certificates = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(harmonia::http::tls::Certificates::load(cert, key)?),
        _ => None,
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        // With port 0 the real port is known only now; links must carry it.
        let mut bound = args.clone();
        bound.listen = listener.local_addr()?;
        let config = Config::new(data_dir, &bound);
        let state = harmonia::open_state(config.clone())?;
        // An upgrade either completes for every database or the server does
        // not start (each failed database is left as it was).
        migrate_orgs(&state)?;
        harmonia::auth::password::warm_up();
        if let Some(token) = state.issue_setup_token()? {
            tracing::info!(
                "first run: open {} to create the first organization (link valid for one hour)",
                config.link(&format!("/setup?token={token}"))
            );
        }
        tracing::info!(
            address = %listener.local_addr()?,
            tls = certificates.is_some(),
            data_dir = %config.data_dir.display(),
            "Harmonia {} is serving",
            env!("CARGO_PKG_VERSION")
        );
        harmonia::http::serve::reload_on_sighup(certificates.clone())?;
        if let Some(addr) = args.redirect_http {
            let plain = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} for --redirect-http"))?;
            tracing::info!(address = %plain.local_addr()?, "redirecting plain HTTP to HTTPS");
            let app =
                harmonia::http::serve::redirect_app(args.public_url.clone(), bound.listen.port());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(plain, app).await {
                    tracing::error!(error = %e, "the redirect listener stopped");
                }
            });
        }
        // Scheduled backups need their key: make it now, so /readyz can
        // insist on it and the first backup does not find it missing.
        if config.backup.backup_dir.is_some() {
            harmonia::backup::BackupKey::load(&config.backup.key_file(&config.data_dir), true)?;
        }
        if config.metrics_token.is_some() || args.metrics_listen.is_some() {
            harmonia::metrics::enable();
        }
        if let Some(addr) = args.metrics_listen {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} for metrics"))?;
            tracing::info!(address = %metrics.local_addr()?, "serving /metrics");
            let app = harmonia::http::metrics_route::listener_app(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics, app).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        let jobs = harmonia::housekeeping::runner(
            &state,
            std::sync::Arc::new(harmonia::clock::SystemClock),
            |b| b,
        )?
        .spawn(std::time::Duration::from_secs(1));
        let app = harmonia::app(state.clone());
        match certificates {
            Some(certificates) => {
                harmonia::http::serve::https(listener, app, certificates, shutdown_signal()).await?
            }
            None => {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown_signal())
                .await?
            }
        }
        jobs.abort();
        state
            .tenants
            .close_all_and_wait(std::time::Duration::from_secs(10))
            .await;
        tracing::info!("stopped; databases closed");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

fn setup_cli(
    data_dir: PathBuf,
    org_name: String,
    email: String,
    password_file: PathBuf,
    name: Option<String>,
) -> anyhow::Result<()> {
    let password = std::fs::read_to_string(&password_file)
        .with_context(|| format!("reading {}", password_file.display()))?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("Owner").to_string());
    let (name, email, org) =
        harmonia::platform::account::check_account_and_org(&name, &email, &password, &org_name)
            .map_err(describe)?;
    let state = harmonia::open_state(Config::for_data_dir(data_dir))?;
    let hash = harmonia::auth::password::hash_now(&password).map_err(describe)?;
    let st = state.clone();
    let (user, org) = state
        .control
        .write_now(|tx| {
            if users::any_exist(tx)? {
                return Err(harmonia::error::AppError::Conflict(
                    "setup is already done: this data directory has users".into(),
                ));
            }
            setup::create_first_owner(tx, &st, &name, &email, &hash, org)
        })
        .map_err(describe)?;
    println!(
        "Created organization \"{}\" (slug {}) with owner {} <{}>.",
        org.name, org.slug, user.name, user.email
    );
    Ok(())
}

fn reset_password(
    data_dir: PathBuf,
    email: String,
    public_url: Option<url::Url>,
) -> anyhow::Result<()> {
    let mut config = Config::for_data_dir(data_dir);
    if let Some(u) = public_url {
        config.public_url = u;
    }
    let state = harmonia::open_state(config.clone())?;
    let email = email.trim().to_lowercase();
    let link = state
        .control
        .write_now(|tx| {
            let (user, _) = users::by_email(tx, &email)?.ok_or_else(|| {
                harmonia::error::AppError::Conflict(format!("no account has the email {email}"))
            })?;
            let link = harmonia::auth::reset::create(tx, &user.id, "cli", &config)?;
            let from = harmonia::auth::session::Client {
                ip: "command line".into(),
                user_agent: "harmonia reset-password".into(),
            };
            harmonia::auth::activity::record(
                tx,
                &user.id,
                harmonia::auth::activity::Event::PasswordResetLinkCreated,
                &from,
                Some("command line"),
            )?;
            Ok(link)
        })
        .map_err(describe)?;
    println!(
        "Password reset link for {email} (one use, valid until {}):",
        link.expires_at
    );
    println!("{}", link.url);
    Ok(())
}

fn demo(
    data_dir: PathBuf,
    contacts: usize,
    companies: Option<usize>,
    seed: u64,
    no_serve: bool,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let companies = companies.unwrap_or((contacts / 5).max(20));
    harmonia::demo::check_sizes(contacts, companies).map_err(describe)?;
    let config = Config::new(data_dir.clone(), &args);
    {
        let state = harmonia::open_state(config.clone())?;
        let started = std::time::Instant::now();
        if harmonia::demo::generate(&state, contacts, companies, seed)? {
            eprintln!(
                "Generated {contacts} contacts and {companies} companies in {:.1} s.",
                started.elapsed().as_secs_f64()
            );
        } else {
            eprintln!("The demo organization exists already; using it as it is.");
        }
        state.tenants.close_all();
    }
    println!(
        "Demo: open {} and sign in as {} with the password {}",
        config.link(&format!("/o/{}/contacts", harmonia::demo::DEMO_SLUG)),
        harmonia::demo::DEMO_EMAIL,
        harmonia::demo::DEMO_PASSWORD
    );
    if no_serve {
        return Ok(());
    }
    serve(data_dir, args)
}

fn doctor(
    data_dir: PathBuf,
    min_free_space_mb: u64,
    backup: harmonia::config::BackupArgs,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    use harmonia::doctor::{Level, Options, examine};
    let findings = examine(&Options {
        data_dir,
        min_free_bytes: min_free_space_mb.saturating_mul(1 << 20),
        backup,
        master_key_file,
    });
    for f in &findings {
        println!("{f}");
    }
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    let warned = findings.iter().filter(|f| f.level == Level::Warn).count();
    if failed > 0 {
        anyhow::bail!("{failed} problem(s) found, {warned} warning(s)");
    }
    println!("no problems found ({warned} warning(s))");
    Ok(())
}

fn audit_verify(data_dir: PathBuf, org: Option<String>) -> anyhow::Result<()> {
    let reports = harmonia::audit::verify::verify_data_dir(&data_dir, org.as_deref())?;
    let mut broken = 0;
    for r in &reports {
        match &r.outcome {
            Ok(n) => println!("OK {}: {n} entries, every link holds", r.name),
            Err(b) => {
                broken += 1;
                println!("BROKEN {}: {b}", r.name);
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} audit log(s) failed verification");
    }
    Ok(())
}

fn reindex(data_dir: PathBuf, only: Option<String>) -> anyhow::Result<()> {
    let state = harmonia::open_state(Config::for_data_dir(data_dir))?;
    let all = state
        .control
        .read_blocking(|c| {
            let mut stmt = c.prepare("SELECT id, slug FROM orgs ORDER BY slug")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .map_err(describe)?;
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(_, slug)| only.as_deref().is_none_or(|o| o == slug))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("no organization with the slug {}", only.unwrap_or_default());
    }
    for (id, slug) in chosen {
        let db = state.tenants.open_db_blocking(&id)?;
        let search = harmonia::search::TenantSearch::open(
            state.tenants.dir(&id).join("index"),
            &db,
            harmonia::crm::tenant_hooks().sources,
        );
        let started = std::time::Instant::now();
        let shown = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let done = search
            .rebuild(&db, &|done, total| {
                let pct = done * 100 / total.max(1);
                if shown.swap(pct, std::sync::atomic::Ordering::Relaxed) != pct {
                    let bar = harmonia::demo::progress_bar(pct);
                    eprint!("\r{slug:<16} [{bar}] {pct:>3}% {done}/{total}");
                }
            })
            .map_err(describe)?;
        eprintln!();
        println!(
            "{slug}: {done} records indexed in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn import_org(
    data_dir: PathBuf,
    archive: PathBuf,
    slug: String,
    owner: Option<String>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let done =
        harmonia::crm::archive::load::import_org(&data_dir, &archive, &slug, owner.as_deref())?;
    println!(
        "imported {} as {} ({}) in {:.1} s",
        archive.display(),
        done.slug,
        done.name,
        started.elapsed().as_secs_f64()
    );
    for (kind, rows) in &done.records {
        println!("  {kind:<10} {rows}");
    }
    println!("  files      {}", done.files);
    println!("  members    {}", done.members.join(", "));
    if !done.unmatched.is_empty() {
        println!(
            "  no account here (their records show a former member): {}",
            done.unmatched.join(", ")
        );
    }
    Ok(())
}

fn key_path(data_dir: &std::path::Path, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| harmonia::backup::default_key_file(data_dir))
}

fn backup(
    data_dir: PathBuf,
    action: Option<BackupAction>,
    out: Option<PathBuf>,
    org: Option<String>,
    key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    use harmonia::backup::{self, BackupKey};
    if let Some(BackupAction::Verify {
        file,
        backup_key_file,
    }) = action
    {
        let key = BackupKey::load(&key_path(&data_dir, backup_key_file), false)?;
        let summary = backup::verify(&file, &key)
            .with_context(|| format!("{} failed verification", file.display()))?;
        println!(
            "OK: {summary}; every checksum matches and every database passed its integrity check."
        );
        return Ok(());
    }
    let out = out.context("--out FILE is required (or: harmonia backup verify FILE)")?;
    let key = BackupKey::load(&key_path(&data_dir, key_file), true)?;
    // The server may be answering requests from the same machine.
    backup::priority::lower_this_thread();
    let summary = backup::create(&data_dir, &out, &key, org.as_deref())?;
    harmonia::audit::record_in_file(
        &data_dir.join("harmonia.db"),
        &harmonia::audit::Entry::new(harmonia::audit::command_line(), "backup.created")
            .target("backup", "", &out.display().to_string())
            .after(serde_json::json!({"org": org, "summary": summary.to_string()})),
    )?;
    println!("Wrote {}: {summary}", out.display());
    Ok(())
}

fn restore(
    data_dir: PathBuf,
    file: PathBuf,
    org: Option<String>,
    as_slug: Option<String>,
    key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    use harmonia::backup::{BackupKey, restore};
    let key = BackupKey::load(&key_path(&data_dir, key_file), false)?;
    match org {
        None => {
            let summary = restore::instance(&file, &key, &data_dir).with_context(|| {
                format!("restoring {} failed; nothing was restored", file.display())
            })?;
            harmonia::audit::record_in_file(
                &data_dir.join("harmonia.db"),
                &harmonia::audit::Entry::new(harmonia::audit::command_line(), "backup.restored")
                    .target("backup", "", &file.display().to_string())
                    .after(serde_json::json!({"summary": summary.to_string()})),
            )?;
            println!("Restored into {}: {summary}", data_dir.display());
        }
        Some(slug) => {
            let done = restore::org(&file, &key, &data_dir, &slug, as_slug.as_deref())
                .with_context(|| {
                    format!(
                        "restoring {slug} from {} failed; nothing was changed",
                        file.display()
                    )
                })?;
            harmonia::audit::record_in_file(
                &data_dir.join("harmonia.db"),
                &harmonia::audit::Entry::new(harmonia::audit::command_line(), "org.restored")
                    .target("organization", &done.org_id, &done.slug)
                    .after(serde_json::json!({"from": file.display().to_string(),
                                              "members": done.members})),
            )?;
            println!(
                "Restored organization {} (id {}) with {} member(s) who have an account here.",
                done.slug, done.org_id, done.members
            );
            if let Some(previous) = done.previous {
                println!("Its previous data is kept in {}.", previous.display());
            }
            if done.members == 0 {
                println!("Nobody here belongs to it yet: a platform admin must add its owner.");
            }
        }
    }
    Ok(())
}

fn rotate_key(
    data_dir: PathBuf,
    new_key_file: PathBuf,
    master_key_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let key_file = master_key_file.unwrap_or_else(|| harmonia::vault::default_key_file(&data_dir));
    if !data_dir.join("harmonia.db").exists() {
        anyhow::bail!("{} holds no Harmonia data", data_dir.display());
    }
    let done = harmonia::vault::rotate(&data_dir, &key_file, &new_key_file)?;
    println!(
        "Re-encrypted {} secret(s) ({} already under the new key); {} now holds key {}.",
        done.rotated,
        done.already,
        key_file.display(),
        done.new_key_id
    );
    println!(
        "Keep a copy of the new key somewhere safe (backups do not contain it); {} can then be deleted.",
        new_key_file.display()
    );
    Ok(())
}

fn jobs(data_dir: PathBuf) -> anyhow::Result<()> {
    use harmonia::jobs::store;
    let state = harmonia::open_state(Config::for_data_dir(data_dir))?;
    let (platform, orgs) = state
        .control
        .read_blocking(|c| Ok((store::list(c)?, store::org_jobs(c, false)?)))
        .map_err(describe)?;
    print!("{}", harmonia::jobs::report::table(&platform, &orgs));
    let failed = platform
        .iter()
        .chain(orgs.iter().map(|o| &o.job))
        .filter(|j| j.last_outcome.as_deref() == Some("failed"))
        .count();
    if failed > 0 {
        anyhow::bail!("{failed} job(s) failed their last run");
    }
    Ok(())
}

fn migrate(data_dir: PathBuf) -> anyhow::Result<()> {
    let state = harmonia::open_state(Config::for_data_dir(data_dir))?;
    let n = migrate_orgs(&state)?;
    println!("Control database and {n} organization(s) are up to date.");
    Ok(())
}

/// Opens (and so migrates, after a snapshot) every organization's database;
/// the first failure stops everything with its message.
fn migrate_orgs(state: &AppState) -> anyhow::Result<usize> {
    let ids = state
        .control
        .read_blocking(orgs::all_ids)
        .map_err(describe)?;
    for id in &ids {
        // A missing file is that organization's problem (it answers errors
        // until restored), not a reason to create an empty one or to keep
        // every other organization offline.
        let db = state.tenants.dir(id).join("crm.db");
        if !db.exists() {
            tracing::error!(org = %id, db = %db.display(),
                "organization database is missing: restore it with `harmonia restore FILE --org SLUG`");
            continue;
        }
        state
            .tenants
            .open_db_blocking(id)
            .with_context(|| format!("migrating organization {id}"))?;
    }
    Ok(ids.len())
}

/// Turns an API error into a sentence for the terminal.
fn describe(e: harmonia::error::AppError) -> anyhow::Error {
    match e {
        harmonia::error::AppError::Validation { fields, .. } => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}
