//! Taking due jobs, running them under a lease, and recording the outcome.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::store::{self, Claimed, Finish};
use super::{Handler, JobContext, JobSpec, OrgDb, Orgs, RunnerBuilder, Schedule};
use crate::clock::{self, Clock};
use crate::db::Db;
use crate::error::AppResult;

/// After an organization with due jobs could not be opened, wait this long
/// before trying again (the failure is logged, not repeated every poll).
const REOPEN_AFTER: Duration = Duration::from_secs(300);

impl RunnerBuilder {
    pub fn build(self) -> Runner {
        Runner(Arc::new(Inner {
            control: self.control,
            clock: self.clock,
            owner: self.owner,
            lease: self.lease,
            handlers: self.handlers,
            platform: self.platform,
            org: self.org,
            orgs: self.orgs,
            platform_ensured: AtomicBool::new(false),
            orgs_ensured: Mutex::new(HashSet::new()),
            failed_opens: Mutex::new(HashMap::new()),
        }))
    }
}

#[derive(Clone)]
pub struct Runner(Arc<Inner>);

struct Inner {
    control: Arc<Db>,
    clock: Arc<dyn Clock>,
    owner: String,
    lease: Duration,
    handlers: HashMap<String, Handler>,
    platform: Vec<JobSpec>,
    org: Vec<JobSpec>,
    orgs: Option<Arc<dyn Orgs>>,
    platform_ensured: AtomicBool,
    orgs_ensured: Mutex<HashSet<String>>,
    failed_opens: Mutex<HashMap<String, Instant>>,
}

/// A claimed job and where it lives.
struct Task {
    job: Claimed,
    db: Arc<Db>,
    org: Option<OrgDb>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn after(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    t + time::Duration::try_from(d).unwrap_or(time::Duration::HOUR)
}

impl Runner {
    pub fn builder(control: Arc<Db>, clock: Arc<dyn Clock>) -> RunnerBuilder {
        RunnerBuilder {
            control,
            clock,
            owner: format!("{}:{}", std::process::id(), clock::new_id()),
            lease: Duration::from_secs(300),
            handlers: HashMap::new(),
            platform: Vec::new(),
            org: Vec::new(),
            orgs: None,
        }
    }

    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    /// Runs due jobs every `poll` until the task is aborted. Jobs run side by
    /// side; one still running keeps its lease and is not taken again.
    pub fn spawn(&self, poll: Duration) -> tokio::task::JoinHandle<()> {
        let runner = self.clone();
        tokio::spawn(async move {
            let mut running = JoinSet::new();
            loop {
                for task in runner.claim_due().await {
                    running.spawn(runner.clone().execute(task));
                }
                while running.try_join_next().is_some() {}
                tokio::time::sleep(poll).await;
            }
        })
    }

    /// Takes every job due now and runs them to the end; how many ran.
    pub async fn run_due(&self) -> usize {
        let tasks = self.claim_due().await;
        let n = tasks.len();
        let mut running = JoinSet::new();
        for task in tasks {
            running.spawn(self.clone().execute(task));
        }
        while running.join_next().await.is_some() {}
        n
    }

    async fn claim_due(&self) -> Vec<Task> {
        let mut tasks = Vec::new();
        if let Err(e) = self.ensure_platform().await {
            tracing::error!(error = %e, "cannot create the platform jobs");
        }
        let control = self.0.control.clone();
        tasks.extend(self.claim_all(&control, None).await);
        for org in self.org_dbs().await {
            if let Err(e) = self.ensure_org(&org).await {
                tracing::error!(org = %org.org_id, error = %e, "cannot create the organization's jobs");
                continue;
            }
            let db = org.db.clone();
            tasks.extend(self.claim_all(&db, Some(org)).await);
        }
        tasks
    }

    async fn claim_all(&self, db: &Arc<Db>, org: Option<OrgDb>) -> Vec<Task> {
        let mut tasks = Vec::new();
        let handlers: Vec<String> = self.0.handlers.keys().cloned().collect();
        loop {
            let now = self.0.clock.now();
            let (now, until) = (clock::stamp(now), clock::stamp(after(now, self.0.lease)));
            let (hs, at) = (handlers.clone(), now.clone());
            let due = db
                .read(move |c| {
                    let hs: Vec<&str> = hs.iter().map(String::as_str).collect();
                    store::any_due(c, &hs, &at)
                })
                .await;
            if !matches!(due, Ok(true)) {
                if let Err(e) = due {
                    tracing::error!(db = %db.path().display(), error = %e, "cannot read due jobs");
                }
                return tasks;
            }
            let owner = self.0.owner.clone();
            let hs = handlers.clone();
            let claimed = db
                .write(move |c| {
                    let hs: Vec<&str> = hs.iter().map(String::as_str).collect();
                    store::claim(c, &owner, &hs, &now, &until)
                })
                .await;
            match claimed {
                Ok(Some(job)) => tasks.push(Task {
                    job,
                    db: db.clone(),
                    org: org.clone(),
                }),
                Ok(None) => return tasks,
                Err(e) => {
                    tracing::error!(db = %db.path().display(), error = %e, "cannot take due jobs");
                    return tasks;
                }
            }
        }
    }

    /// The organizations to look at: open ones whose jobs this process has
    /// not created yet, and those with a job due by the mirror (opened if
    /// closed). Organizations with nothing due cost nothing per poll.
    async fn org_dbs(&self) -> Vec<OrgDb> {
        let Some(orgs) = self.0.orgs.clone() else {
            return Vec::new();
        };
        let open = orgs.open_now();
        let mut dbs: Vec<OrgDb> = {
            let ensured = lock(&self.0.orgs_ensured);
            open.iter()
                .filter(|o| !ensured.contains(&o.org_id))
                .cloned()
                .collect()
        };
        let now = clock::stamp(self.0.clock.now());
        let woken = orgs.woken();
        let due = match self.0.control.read(move |c| store::orgs_due(c, &now)).await {
            Ok(mut ids) => {
                ids.extend(woken);
                ids.sort();
                ids.dedup();
                ids
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read organizations' due jobs");
                Vec::new()
            }
        };
        for id in due {
            if dbs.iter().any(|o| o.org_id == id) {
                continue;
            }
            if let Some(o) = open.iter().find(|o| o.org_id == id) {
                dbs.push(o.clone());
                continue;
            }
            let recently_failed = lock(&self.0.failed_opens)
                .get(&id)
                .is_some_and(|t| t.elapsed() < REOPEN_AFTER);
            if recently_failed {
                continue;
            }
            match orgs.open(id.clone()).await {
                Ok(org) => dbs.push(org),
                Err(e) => {
                    tracing::error!(org = %id, error = %e, "cannot open an organization to run its jobs");
                    lock(&self.0.failed_opens).insert(id, Instant::now());
                }
            }
        }
        dbs
    }

    async fn ensure_platform(&self) -> AppResult<()> {
        if self.0.platform_ensured.load(Ordering::Acquire) {
            return Ok(());
        }
        let handlers = self.0.handlers.keys().cloned().collect();
        ensure_all(
            &self.0.control,
            &self.0.platform,
            handlers,
            self.0.clock.now(),
        )
        .await?;
        self.0.platform_ensured.store(true, Ordering::Release);
        Ok(())
    }

    /// Creates the organization's jobs the first time this process sees it,
    /// and mirrors them into the control database.
    async fn ensure_org(&self, org: &OrgDb) -> AppResult<()> {
        if lock(&self.0.orgs_ensured).contains(&org.org_id) {
            return Ok(());
        }
        let handlers = self.0.handlers.keys().cloned().collect();
        ensure_all(&org.db, &self.0.org, handlers, self.0.clock.now()).await?;
        let rows = org.db.read(store::list).await?;
        let id = org.org_id.clone();
        self.0
            .control
            .write(move |c| {
                store::forget_mirror(c, &id)?;
                store::mirror(c, &id, &rows)
            })
            .await?;
        lock(&self.0.orgs_ensured).insert(org.org_id.clone());
        Ok(())
    }

    /// Runs one claimed job, renewing its lease meanwhile, and records how it
    /// ended.
    async fn execute(self, task: Task) {
        let Task { job, db, org } = task;
        let args = serde_json::from_str(&job.args).unwrap_or(serde_json::Value::Null);
        let again_at = Arc::new(std::sync::Mutex::new(None));
        let error = match self.0.handlers.get(&job.handler).cloned() {
            None => Some(format!("no handler named {}", job.handler)),
            Some(handler) => {
                let ctx = JobContext {
                    job: job.name.clone(),
                    org_id: org.as_ref().map(|o| o.org_id.clone()),
                    db: db.clone(),
                    args,
                    attempt: job.attempts + 1,
                    again_at: again_at.clone(),
                };
                // Its own task, so a panic fails this run and nothing else.
                let mut run = tokio::spawn(handler(ctx));
                let mut renew = tokio::time::interval(self.0.lease / 3);
                renew.tick().await;
                let joined = loop {
                    tokio::select! {
                        joined = &mut run => break joined,
                        _ = renew.tick() => self.renew(&db, &job.name).await,
                    }
                };
                match joined {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(format!("{e:#}")),
                    Err(e) if e.is_panic() => Some("the job panicked".to_string()),
                    Err(e) => Some(format!("the job was stopped: {e}")),
                }
            }
        };
        let again = *again_at.lock().unwrap_or_else(|p| p.into_inner());
        self.record(job, db, org, error, again).await;
    }

    async fn renew(&self, db: &Arc<Db>, name: &str) {
        let until = clock::stamp(after(self.0.clock.now(), self.0.lease));
        let (name, owner) = (name.to_string(), self.0.owner.clone());
        match db
            .write(move |c| store::renew(c, &name, &owner, &until))
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!("a job's lease ran out while it was still running"),
            Err(e) => tracing::warn!(error = %e, "renewing a job's lease failed"),
        }
    }

    async fn record(
        &self,
        job: Claimed,
        db: Arc<Db>,
        org: Option<OrgDb>,
        error: Option<String>,
        again: Option<OffsetDateTime>,
    ) {
        let now = self.0.clock.now();
        let schedule = job.schedule.parse::<Schedule>();
        let error = match (&schedule, error) {
            (Err(e), None) => Some(format!("unreadable schedule: {e}")),
            (_, error) => error,
        };
        let (attempts, next) = match (&schedule, &error) {
            (Ok(s), None) => (
                0,
                match (s.next_after(now), again) {
                    (Some(n), Some(a)) => Some(n.min(a.max(now))),
                    (n, _) => n,
                },
            ),
            (Ok(s), Some(_)) => (
                job.attempts + 1,
                super::backoff::retry_at(s, job.attempts + 1, now),
            ),
            (Err(_), _) => (job.attempts + 1, None),
        };
        crate::metrics::get()
            .jobs
            .get_or_create(&crate::metrics::JobLabels {
                outcome: if error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                },
            })
            .inc();
        match &error {
            Some(e) => tracing::warn!(job = %job.name, org = ?org.as_ref().map(|o| &o.org_id),
                attempts, error = %e, "job failed"),
            None => tracing::debug!(job = %job.name, "job done"),
        }
        let owner = self.0.owner.clone();
        let (now, next) = (clock::stamp(now), next.map(clock::stamp));
        let finished = db
            .write(move |c| {
                store::finish(
                    c,
                    &job,
                    &owner,
                    &Finish {
                        error: error.as_deref(),
                        attempts,
                        next_run_at: next.as_deref(),
                        now: &now,
                    },
                )
            })
            .await;
        let row = match finished {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(error = %e, "recording a job's run failed");
                return;
            }
        };
        if let Some(org) = org {
            let id = org.org_id.clone();
            if let Err(e) = self
                .0
                .control
                .write(move |c| store::mirror(c, &id, &[row]))
                .await
            {
                tracing::error!(org = %org.org_id, error = %e, "mirroring a job's state failed");
            }
        }
    }
}

/// Creates or updates the wanted jobs, and retires those whose handler no
/// longer exists (a feature switched off, such as scheduled backups without
/// `--backup-dir`), so a stale failure does not fail readiness for ever.
async fn ensure_all(
    db: &Arc<Db>,
    specs: &[JobSpec],
    handlers: Vec<String>,
    now: OffsetDateTime,
) -> AppResult<()> {
    let specs = specs.to_vec();
    db.write(move |c| {
        let known: Vec<&str> = handlers.iter().map(String::as_str).collect();
        let retired = store::retire_unknown(c, &known)?;
        if retired > 0 {
            tracing::info!(retired, db = %c.path().unwrap_or("?"), "removed jobs that have no handler any more");
        }
        for s in &specs {
            store::ensure(
                c,
                &s.name,
                &s.handler,
                &s.schedule.to_string(),
                &s.args.to_string(),
                s.schedule.first(now).map(clock::stamp).as_deref(),
                &clock::stamp(now),
            )?;
        }
        Ok(())
    })
    .await
}
