//! Putting a runner together: handlers by name, the jobs that must exist,
//! and how organizations' databases are reached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Handler, JobContext, JobSpec, Orgs};
use crate::clock::Clock;
use crate::db::Db;

/// Everything a runner is given at start-up: where the jobs live, the clock,
/// the handlers by name, and the jobs that must exist.
pub struct RunnerBuilder {
    pub(super) control: Arc<Db>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) owner: String,
    pub(super) lease: Duration,
    pub(super) handlers: HashMap<String, Handler>,
    pub(super) platform: Vec<JobSpec>,
    pub(super) org: Vec<JobSpec>,
    pub(super) orgs: Option<Arc<dyn Orgs>>,
}

impl RunnerBuilder {
    /// This runner's name in leases (default: a fresh id per process).
    pub fn owner(mut self, owner: &str) -> Self {
        self.owner = owner.to_string();
        self
    }

    /// How long a lease lasts without renewal (renewed every third of it
    /// while the job runs); a killed runner's jobs wait this long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    pub fn handler<F, Fut>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.handlers
            .insert(name.to_string(), Arc::new(move |ctx| Box::pin(f(ctx))));
        self
    }

    /// A job of the platform, in the control database.
    pub fn platform_job(mut self, spec: JobSpec) -> Self {
        self.platform.push(spec);
        self
    }

    /// A job every organization has, in its own database.
    pub fn org_job(mut self, spec: JobSpec) -> Self {
        self.org.push(spec);
        self
    }

    pub fn orgs(mut self, orgs: Arc<dyn Orgs>) -> Self {
        self.orgs = Some(orgs);
        self
    }
}
