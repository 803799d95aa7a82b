//! The jobs the server runs by itself, registered on the job runner at
//! start-up. This is the one place that knows both the runner and the
//! features whose upkeep it does; the runner itself imports none of them.

use std::sync::Arc;

use crate::audit;
use crate::clock::Clock;
use crate::jobs::{JobSpec, OpenFuture, OrgDb, Orgs, Runner, RunnerBuilder, Schedule};
use crate::state::AppState;
use crate::tenant::Tenant;

pub const SESSIONS: &str = "housekeeping.sessions";
pub const THROTTLE: &str = "housekeeping.throttle";
pub const IDLE_ORGS: &str = "housekeeping.idle_orgs";
pub const TRASH: &str = "housekeeping.trash";
pub const STATISTICS: &str = "housekeeping.statistics";
pub const BACKUP: &str = "backup.scheduled";
pub const SNAPSHOTS: &str = "housekeeping.snapshots";
pub const CLOSURES: &str = "orgs.closures";
pub const ARCHIVES: &str = "orgs.archives";
pub const SIGNIN_ACTIVITY: &str = "housekeeping.signin_activity";
pub const REMINDERS: &str = "notifications.reminders";
pub const FILES: &str = "files.upkeep";
pub const WEBHOOK_PRUNE: &str = "webhooks.prune";
pub const AUDIT: &str = "audit.retention";
pub const ORG_AUDIT: &str = "audit.org_retention";
pub const API_REQUESTS: &str = "audit.api_requests";

/// The runner with every built-in job; `extra` may add more (the tests add
/// their own handlers this way). Fails on a backup schedule that does not
/// parse, so the server refuses to start rather than never back up.
pub fn runner(
    state: &AppState,
    clock: Arc<dyn Clock>,
    extra: impl FnOnce(RunnerBuilder) -> RunnerBuilder,
) -> anyhow::Result<Runner> {
    let builder = Runner::builder(state.control.clone(), clock.clone())
        .orgs(Arc::new(TenantDbs(state.clone())))
        .platform_job(JobSpec::new(SESSIONS, Schedule::every(300)))
        .handler(SESSIONS, {
            let state = state.clone();
            move |_| {
                let state = state.clone();
                async move {
                    let config = state.config.clone();
                    state
                        .control
                        .write(move |tx| {
                            crate::auth::session::purge_expired(tx, &config)?;
                            crate::auth::mfa::purge_expired_challenges(tx)?;
                            crate::auth::reset::purge_old(tx)?;
                            crate::auth::passkey::purge_expired_ceremonies(tx)?;
                            crate::auth::session::purge_expired_devices(tx)
                        })
                        .await?;
                    Ok(())
                }
            }
        })
        // Sign-in activity is kept 12 months (auth::activity::RETENTION).
        .platform_job(JobSpec::new(SIGNIN_ACTIVITY, Schedule::every(24 * 3600)))
        .handler(SIGNIN_ACTIVITY, {
            let (state, clock) = (state.clone(), clock.clone());
            move |_| {
                let (state, now) = (state.clone(), clock.now());
                async move {
                    let removed = state
                        .control
                        .write(move |tx| crate::auth::activity::purge_old(tx, now))
                        .await?;
                    if removed > 0 {
                        tracing::info!(removed, "forgot sign-in activity older than a year");
                    }
                    Ok(())
                }
            }
        })
        // Audit entries are kept 12 months (audit::RETENTION); the purge
        // logs itself and leaves the chain verifiable.
        .platform_job(JobSpec::new(AUDIT, Schedule::every(24 * 3600)))
        .handler(AUDIT, {
            let (state, clock) = (state.clone(), clock.clone());
            move |_| {
                let (state, now) = (state.clone(), clock.now());
                async move {
                    let removed = state
                        .control
                        .write(move |tx| audit::purge_old(tx, now))
                        .await?;
                    if removed > 0 {
                        tracing::info!(removed, "purged platform audit entries older than a year");
                    }
                    // The API request log is kept 30 days.
                    audit::requests::flush(&state.api_requests, &state.control).await?;
                    let removed = state
                        .control
                        .write(move |tx| audit::requests::purge_old(tx, now))
                        .await?;
                    if removed > 0 {
                        tracing::info!(removed, "purged API requests older than 30 days");
                    }
                    Ok(())
                }
            }
        })
        .org_job(JobSpec::new(ORG_AUDIT, Schedule::every(24 * 3600)))
        .handler(ORG_AUDIT, {
            let (state, clock) = (state.clone(), clock.clone());
            move |ctx| {
                let (state, now) = (state.clone(), clock.now());
                async move {
                    let org_id = ctx.org_id.ok_or_else(|| {
                        anyhow::anyhow!("the audit job of organizations belongs to one")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    let removed = tenant.db.write(move |tx| audit::purge_old(tx, now)).await?;
                    if removed > 0 {
                        tracing::info!(org = %org_id, removed, "purged audit entries older than a year");
                    }
                    Ok(())
                }
            }
        })
        // Task reminders fire within seconds of their time.
        .platform_job(JobSpec::new(REMINDERS, Schedule::every(5)))
        .handler(REMINDERS, {
            let (state, clock) = (state.clone(), clock.clone());
            move |_| {
                let (state, now) = (state.clone(), clock.now());
                async move {
                    let fired = crate::crm::tasks::fire_reminders(&state, now).await?;
                    if fired > 0 {
                        tracing::debug!(fired, "task reminders");
                    }
                    Ok(())
                }
            }
        })
        .platform_job(JobSpec::new(THROTTLE, Schedule::every(60)))
        .handler(THROTTLE, {
            let state = state.clone();
            move |_| {
                state.throttle.prune();
                state.rate_limits.prune(std::time::Instant::now());
                async { Ok(()) }
            }
        })
        // Requests to organizations' routes, noted in memory, are written
        // in batches.
        .platform_job(JobSpec::new(API_REQUESTS, Schedule::every(5)))
        .handler(API_REQUESTS, {
            let state = state.clone();
            move |_| {
                let state = state.clone();
                async move {
                    audit::requests::flush(&state.api_requests, &state.control).await?;
                    Ok(())
                }
            }
        })
        .platform_job(JobSpec::new(IDLE_ORGS, Schedule::every(30)))
        .handler(IDLE_ORGS, {
            let state = state.clone();
            move |_| {
                let closed = state.tenants.close_idle(state.config.tenant_idle);
                if closed > 0 {
                    tracing::debug!(closed, "closed idle organizations");
                }
                async { Ok(()) }
            }
        })
        .platform_job(JobSpec::new(SNAPSHOTS, Schedule::every(6 * 3600)))
        .handler(SNAPSHOTS, {
            let (data_dir, clock) = (state.config.data_dir.clone(), clock.clone());
            move |_| {
                let (data_dir, now) = (data_dir.clone(), clock.now());
                async move {
                    let removed = tokio::task::spawn_blocking(move || {
                        crate::upgrade::prune_snapshots(&data_dir, now)
                    })
                    .await??;
                    if removed > 0 {
                        tracing::info!(removed, "removed old migration snapshots");
                    }
                    Ok(())
                }
            }
        })
        // Closed organizations: exports still to prepare, erasures due.
        .platform_job(JobSpec::new(CLOSURES, Schedule::every(60)))
        .handler(CLOSURES, {
            let (state, clock) = (state.clone(), clock.clone());
            move |_| {
                let (state, now) = (state.clone(), clock.now());
                async move { crate::platform::closure::run_job(&state, now).await }
            }
        })
        // Whole-organization archives: ones still to prepare, expired ones.
        .platform_job(JobSpec::new(ARCHIVES, Schedule::every(60)))
        .handler(ARCHIVES, {
            let (state, clock) = (state.clone(), clock.clone());
            move |_| {
                let (state, now) = (state.clone(), clock.now());
                async move { crate::crm::archive::prepare::run_job(&state, now).await }
            }
        })
        .org_job(JobSpec::new(TRASH, Schedule::every(3600)))
        .handler(TRASH, {
            let state = state.clone();
            move |ctx| {
                let state = state.clone();
                async move {
                    let org_id = ctx.org_id.ok_or_else(|| {
                        anyhow::anyhow!("the trash job belongs to an organization")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    state.tenants.purge_trash(&tenant).await?;
                    Ok(())
                }
            }
        })
        // Files: blobs and temporary files no row accounts for (a crash,
        // an interrupted upload, erased files), thumbnails still missing.
        .org_job(JobSpec::new(FILES, Schedule::every(3600)))
        .handler(FILES, {
            let state = state.clone();
            move |ctx| {
                let state = state.clone();
                async move {
                    let org_id = ctx.org_id.ok_or_else(|| {
                        anyhow::anyhow!("the files job belongs to an organization")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    let store = crate::crm::files::routes::store(&state, &org_id);
                    let (removed, made) = crate::crm::files::upkeep(&tenant.db, &store).await?;
                    if removed + made > 0 {
                        tracing::info!(org = %org_id, removed, thumbnails = made, "file upkeep");
                    }
                    Ok(())
                }
            }
        })
        // Webhook deliveries: woken by every event written, again at the
        // next pending retry; every minute as a safety net.
        .org_job(JobSpec::new(
            crate::events::DELIVER_JOB,
            Schedule::every(60),
        ))
        .handler(crate::events::DELIVER_JOB, {
            let (state, clock) = (state.clone(), clock.clone());
            move |ctx| {
                let (state, clock) = (state.clone(), clock.clone());
                async move {
                    let org_id = ctx.org_id.clone().ok_or_else(|| {
                        anyhow::anyhow!("the webhooks job belongs to an organization")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    let next =
                        crate::crm::webhooks::deliver::run(&state, &tenant, clock.now()).await?;
                    if let Some(at) = next {
                        ctx.run_again_at(at);
                    }
                    Ok(())
                }
            }
        })
        // Webhook events a week old, finished retries, the 30-day log.
        .org_job(JobSpec::new(WEBHOOK_PRUNE, Schedule::every(3600)))
        .handler(WEBHOOK_PRUNE, {
            let (state, clock) = (state.clone(), clock.clone());
            move |ctx| {
                let (state, now) = (state.clone(), clock.now());
                async move {
                    let org_id = ctx.org_id.ok_or_else(|| {
                        anyhow::anyhow!("the webhook prune job belongs to an organization")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    tenant
                        .write(move |tx| crate::crm::webhooks::queue::prune(tx, now))
                        .await?;
                    Ok(())
                }
            }
        })
        // Imports run as one-off jobs the import routes create (`import:<id>`).
        .handler(crate::crm::imports::JOB, {
            let state = state.clone();
            move |ctx| crate::crm::imports::run::job(state.clone(), ctx)
        })
        // Planner statistics follow the data as it grows (an import, a new
        // custom field's index): bounded work, only where they are stale.
        .org_job(JobSpec::new(STATISTICS, Schedule::every(24 * 3600)))
        .handler(STATISTICS, {
            let state = state.clone();
            move |ctx| {
                let state = state.clone();
                async move {
                    let org_id = ctx.org_id.ok_or_else(|| {
                        anyhow::anyhow!("the statistics job belongs to an organization")
                    })?;
                    let tenant = state.tenants.get(&org_id).await?;
                    tenant.db.write(crate::db::refresh_statistics).await?;
                    Ok(())
                }
            }
        });
    let builder = match &state.config.backup.backup_dir {
        None => builder,
        Some(dir) => {
            let args = &state.config.backup;
            let schedule = Schedule::daily(&args.backup_at, &args.backup_time_zone)
                .map_err(|e| anyhow::anyhow!("--backup-at/--backup-time-zone: {e}"))?;
            let plan = crate::backup::scheduled::Plan {
                data_dir: state.config.data_dir.clone(),
                dir: dir.clone(),
                key_file: args.key_file(&state.config.data_dir),
                keep_days: args.backup_keep_days,
            };
            let control = state.control.clone();
            builder
                .platform_job(JobSpec::new(BACKUP, schedule))
                .handler(BACKUP, move |_| {
                    let (plan, clock) = (plan.clone(), clock.clone());
                    let control = control.clone();
                    async move {
                        let summary =
                            crate::backup::priority::run_in_background("backup", move || {
                                crate::backup::scheduled::run(&plan, clock.now())
                            })
                            .await?;
                        tracing::info!("{summary}");
                        let entry =
                            audit::Entry::new(audit::Actor::system("schedule"), "backup.created")
                                .after(serde_json::json!({"summary": summary.to_string()}));
                        control.write(move |tx| audit::record(tx, &entry)).await?;
                        Ok(())
                    }
                })
        }
    };
    Ok(extra(builder).build())
}

/// Organizations' databases for the runner, from the registry of open ones.
struct TenantDbs(AppState);

fn org_db(tenant: Arc<Tenant>) -> OrgDb {
    OrgDb {
        org_id: tenant.org_id.clone(),
        db: tenant.db.clone(),
        keep_open: tenant,
    }
}

impl Orgs for TenantDbs {
    fn open_now(&self) -> Vec<OrgDb> {
        self.0
            .tenants
            .open_tenants()
            .into_iter()
            .map(org_db)
            .collect()
    }

    fn open(&self, org_id: String) -> OpenFuture {
        let state = self.0.clone();
        Box::pin(async move { Ok(org_db(state.tenants.get(&org_id).await?)) })
    }

    fn woken(&self) -> Vec<String> {
        self.0.tenants.take_woken()
    }
}
