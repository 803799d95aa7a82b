//! The persisted job runner: background work that survives restarts and
//! never fails silently.
//!
//! A job is a row in a `jobs` table — in the control database for platform
//! work, in an organization's database for that organization's work — naming
//! a handler and a schedule. A runner takes due jobs under a lease (its owner
//! id and an expiry), so that two runners never run one job at once and a
//! job whose process died is taken again once the lease runs out. Failures
//! are retried with exponential back-off; every run is recorded (`job_runs`,
//! the last few dozen per job), and the last outcome stays on the job for
//! `/readyz`, the admin pages and `harmonia jobs`. Because a job may run again
//! after a crash, handlers must be idempotent.
//!
//! The runner knows no CRM module: handlers are registered by name at
//! start-up by the layer that owns the work, and organizations' databases are
//! handed in through [`Orgs`].

pub mod backoff;
pub mod builder;
pub mod report;
pub mod routes;
pub mod runner;
pub mod schedule;
pub mod store;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use builder::RunnerBuilder;
pub use runner::Runner;
pub use schedule::Schedule;

use crate::db::Db;
use crate::error::AppResult;

/// What a handler is given for one run.
pub struct JobContext {
    pub job: String,
    /// The organization whose job this is; None for platform jobs.
    pub org_id: Option<String>,
    /// The database the job lives in (the control database for platform jobs).
    pub db: Arc<Db>,
    pub args: serde_json::Value,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: i64,
    /// A successful run may ask to run again sooner than its schedule
    /// (e.g. at the next pending retry of a webhook delivery).
    pub again_at: Arc<std::sync::Mutex<Option<time::OffsetDateTime>>>,
}

impl JobContext {
    /// Runs the job again at `at` if that is before its next regular time.
    pub fn run_again_at(&self, at: time::OffsetDateTime) {
        let mut slot = self.again_at.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(slot.map_or(at, |t| t.min(at)));
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A job handler: an async function of its context. An error fails the run
/// (and schedules a retry); so does a panic.
pub type Handler = Arc<dyn Fn(JobContext) -> JobFuture + Send + Sync>;

/// A job the application wants to exist, created or updated at start-up.
#[derive(Clone, Debug)]
pub struct JobSpec {
    pub name: String,
    pub handler: String,
    pub schedule: Schedule,
    pub args: serde_json::Value,
}

impl JobSpec {
    /// A job named like its handler, without arguments.
    pub fn new(handler: &str, schedule: Schedule) -> JobSpec {
        JobSpec {
            name: handler.to_string(),
            handler: handler.to_string(),
            schedule,
            args: serde_json::Value::Object(Default::default()),
        }
    }
}

/// An organization's open database, and whatever keeps it open while one of
/// its jobs runs (the tenant handle, for the registry).
#[derive(Clone)]
pub struct OrgDb {
    pub org_id: String,
    pub db: Arc<Db>,
    pub keep_open: Arc<dyn Any + Send + Sync>,
}

pub type OpenFuture = Pin<Box<dyn Future<Output = AppResult<OrgDb>> + Send>>;

/// How the runner reaches organizations' databases (handed in at start-up).
pub trait Orgs: Send + Sync + 'static {
    /// The organizations open right now: their jobs are looked at every poll.
    fn open_now(&self) -> Vec<OrgDb>;
    /// Opens one that has a job due while it is closed.
    fn open(&self, org_id: String) -> OpenFuture;
    /// Organizations a write made a job due in since the last call (looked
    /// at on the next poll, before the mirror catches up).
    fn woken(&self) -> Vec<String> {
        Vec::new()
    }
}
