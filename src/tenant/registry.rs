//! Open organizations. Each organization's database is opened on first use and
//! kept in a least-recently-used set of bounded size; one that falls out of the
//! set, or sits idle, is closed (its writer and read pool go away once the
//! last request using it finishes), so memory and file handles stay bounded
//! with thousands of organizations on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::db::{Db, DbOptions, Schema};
use crate::error::{AppError, AppResult};
use crate::search::index::MIN_COMMIT_INTERVAL;
use crate::search::{Sources, TenantSearch};
use crate::tenant::people::{self, Person};
use tokio::sync::Notify;

pub struct Tenant {
    pub org_id: String,
    pub db: Arc<Db>,
    pub search: TenantSearch,
    last_used: AtomicU64,
    /// Its registry's set of organizations whose jobs a write made due.
    woken: Woken,
    /// A write may have left notices in the outbox (see `take_notices`).
    /// True when opened: a crash may have left some behind.
    notices: AtomicBool,
}

type Woken = Arc<Mutex<std::collections::HashSet<String>>>;

impl Tenant {
    /// A write to the organization's database; afterwards the indexer is told
    /// to look at the outbox (the write put its rows there in the same commit).
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> AppResult<T> + Send + 'static,
    {
        self.write_with(f, false).await
    }

    /// The same as `write` for a bulk job in a transaction of its own
    /// (`Db::write_alone`: an import batch).
    pub async fn write_alone<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> AppResult<T> + Send + 'static,
    {
        self.write_with(f, true).await
    }

    async fn write_with<T, F>(&self, f: F, alone: bool) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> AppResult<T> + Send + 'static,
    {
        let job = move |c: &rusqlite::Connection| {
            take_jobs_due();
            let out = f(c)?;
            Ok((out, take_jobs_due(), take_notices_queued()))
        };
        let result = if alone {
            self.db.write_alone(job).await
        } else {
            self.db.write(job).await
        };
        self.search.poke();
        let (out, due, notices) = result?;
        if notices {
            self.notices.store(true, Ordering::Release);
        }
        if due {
            self.woken
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(self.org_id.clone());
        }
        Ok(out)
    }
}

impl Tenant {
    /// True when a write since the last call may have left notices in the
    /// outbox; the caller delivers them, and says so again with
    /// `notices_waiting` if it could not take them all. Writes that queue
    /// none (nearly all) then cost no read of the outbox.
    pub fn take_notices(&self) -> bool {
        self.notices.swap(false, Ordering::AcqRel)
    }

    /// Some notices are still in the outbox: the next delivery looks again.
    pub fn notices_waiting(&self) {
        self.notices.store(true, Ordering::Release);
    }
}

thread_local! {
    /// Set by a write that made one of its organization's jobs due now.
    static JOBS_DUE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set by a write that put a notice in its organization's outbox.
    static NOTICES_QUEUED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Called inside a write transaction that queued a notice (an assignment, a
/// mention): after the commit the organization's outbox is delivered.
pub fn notices_after_commit() {
    NOTICES_QUEUED.with(|d| d.set(true));
}

/// Whether the write just run queued a notice. A flag left by a write that
/// failed only makes the next delivery look at an empty outbox.
fn take_notices_queued() -> bool {
    NOTICES_QUEUED.with(|d| d.replace(false))
}

/// Called inside a write transaction that made an organization job due now
/// (e.g. a webhook delivery): after the commit the job runner is told to look
/// at this organization on its next poll instead of at its mirrored time.
pub fn jobs_due_after_commit() {
    JOBS_DUE.with(|d| d.set(true));
}

fn take_jobs_due() -> bool {
    JOBS_DUE.with(|d| d.replace(false))
}

/// What the tenant layer needs to know of the record kinds above it, handed
/// in at start-up: the searchable kinds, and how to empty the trash.
#[derive(Clone, Copy)]
pub struct TenantHooks {
    pub sources: Sources,
    /// Erases the records that stayed in the trash past their time.
    pub purge_trash: fn(&rusqlite::Connection) -> AppResult<usize>,
    /// Run once a database has opened and migrated: what the kinds' schema
    /// needs that SQL migrations cannot do (custom fields' indexes).
    pub after_migrations: fn(&rusqlite::Connection) -> AppResult<()>,
}

/// Opens (and migrates) an organization's database, then runs the kinds'
/// own step (`TenantHooks::after_migrations`).
fn open_migrated(path: &Path, opts: &DbOptions, hooks: TenantHooks) -> anyhow::Result<Db> {
    let db = Db::open(path, Schema::Tenant, opts)?;
    db.write_blocking(move |c| (hooks.after_migrations)(c))
        .map_err(|e| anyhow::anyhow!("preparing {}: {e}", path.display()))?;
    Ok(db)
}

pub struct Tenants {
    root: PathBuf,
    opts: DbOptions,
    hooks: TenantHooks,
    open: Mutex<LruCache<String, Arc<Tenant>>>,
    /// Every organization still alive somewhere (a request or its indexer may
    /// hold one that fell out of `open`): reused rather than opened twice, so
    /// one database never has two writers nor one index two indexers.
    alive: Mutex<HashMap<String, Weak<Tenant>>>,
    /// Serializes opening so two requests never open the same file twice.
    opening: tokio::sync::Mutex<()>,
    started: Instant,
    woken: Woken,
    /// Where the members' names come from (the control database; installed
    /// by `AppState::open`, which owns it).
    people: std::sync::OnceLock<PeopleSource>,
}

/// An organization's members, read from wherever names live.
pub type PeopleSource = Arc<dyn Fn(&str) -> AppResult<Vec<Person>> + Send + Sync>;

impl Tenants {
    /// The organizations whose jobs a write made due since the last call
    /// (the job runner looks at them on its next poll).
    pub fn take_woken(&self) -> Vec<String> {
        std::mem::take(&mut *self.woken.lock().unwrap_or_else(|p| p.into_inner()))
            .into_iter()
            .collect()
    }

    pub fn new(root: PathBuf, capacity: usize, opts: DbOptions, hooks: TenantHooks) -> Tenants {
        let cap =
            std::num::NonZeroUsize::new(capacity.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        Tenants {
            root,
            opts,
            hooks,
            open: Mutex::new(LruCache::new(cap)),
            alive: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
            started: Instant::now(),
            woken: Woken::default(),
            people: std::sync::OnceLock::new(),
        }
    }

    pub fn dir(&self, org_id: &str) -> PathBuf {
        self.root.join(org_id)
    }

    fn db_path(&self, org_id: &str) -> PathBuf {
        self.dir(org_id).join("crm.db")
    }

    fn tick(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<Tenant>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, org_id: &str) -> Option<Arc<Tenant>> {
        let t = self.cache().get(org_id).cloned();
        if let Some(t) = &t {
            t.last_used.store(self.tick(), Ordering::Relaxed);
        }
        t
    }

    /// The open tenant of an organization that exists in the control plane.
    /// Callers reach this only through an authorization check (`OrgAccess`).
    pub async fn get(&self, org_id: &str) -> AppResult<Arc<Tenant>> {
        if let Some(t) = self.cached(org_id) {
            return Ok(t);
        }
        let _guard = self.opening.lock().await;
        if let Some(t) = self.cached(org_id) {
            return Ok(t);
        }
        let still_alive = {
            let mut alive = self.alive.lock().unwrap_or_else(|p| p.into_inner());
            alive.retain(|_, w| w.strong_count() > 0);
            alive.get(org_id).and_then(Weak::upgrade)
        };
        if let Some(t) = still_alive {
            t.last_used.store(self.tick(), Ordering::Relaxed);
            let evicted = self.cache().push(org_id.to_string(), t.clone());
            drop(evicted);
            return Ok(t);
        }
        let path = self.db_path(org_id);
        let index_dir = self.dir(org_id).join("index");
        let opts = self.opts.clone();
        let hooks = self.hooks;
        let (db, search) = tokio::task::spawn_blocking(move || {
            if !path.exists() {
                anyhow::bail!("organization database {} is missing", path.display());
            }
            let db = open_migrated(&path, &opts, hooks)?;
            let search = TenantSearch::open(index_dir, &db, hooks.sources);
            Ok((db, search))
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("open task: {e}")))??;
        let tenant = Arc::new(Tenant {
            org_id: org_id.to_string(),
            db: Arc::new(db),
            search,
            last_used: AtomicU64::new(self.tick()),
            woken: self.woken.clone(),
            notices: AtomicBool::new(true),
        });
        // Its indexer: catches up with the outbox (or rebuilds) right away,
        // then follows writes; it ends when the organization closes.
        tokio::spawn(run_indexer(
            Arc::downgrade(&tenant),
            tenant.search.notifier(),
        ));
        self.alive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(org_id.to_string(), Arc::downgrade(&tenant));
        let evicted = self.cache().push(org_id.to_string(), tenant.clone());
        drop(evicted); // closes outside the lock once no request holds it
        drop(_guard);
        if let Err(e) = self.sync_people(&tenant).await {
            tracing::warn!(org = %tenant.org_id, error = %e, "copying members' names failed");
        }
        // An organization that was closed for long empties its old trash
        // at once; a failure here is the trash job's to report.
        if let Err(e) = self.purge_trash(&tenant).await {
            tracing::warn!(org = %tenant.org_id, error = %e, "emptying the trash failed");
        }
        Ok(tenant)
    }

    /// Creates a new organization's folder, database and (empty) search
    /// index (blocking).
    pub fn create_blocking(&self, org_id: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.dir(org_id))?;
        let db = Db::open(&self.db_path(org_id), Schema::Tenant, &self.opts)?;
        TenantSearch::create_empty(&self.dir(org_id).join("index"), &db)
            .map_err(|e| anyhow::anyhow!("creating the search index: {e}"))?;
        Ok(())
    }

    /// Opens (and so migrates) an organization's database outside the set of
    /// open organizations, with no indexer (CLI tools, the demo generator).
    pub fn open_db_blocking(&self, org_id: &str) -> anyhow::Result<Db> {
        open_migrated(&self.db_path(org_id), &self.opts, self.hooks)
    }

    /// Closes organizations nobody has used for `idle`.
    pub fn close_idle(&self, idle: Duration) -> usize {
        let now = self.tick();
        let mut cache = self.cache();
        let stale: Vec<String> = cache
            .iter()
            .filter(|(_, t)| {
                now.saturating_sub(t.last_used.load(Ordering::Relaxed)) >= idle.as_secs()
            })
            .map(|(k, _)| k.clone())
            .collect();
        let closed: Vec<_> = stale.iter().filter_map(|k| cache.pop(k)).collect();
        drop(cache);
        closed.len()
    }

    /// Installs where members' names come from (once, at start-up).
    pub fn set_people_source(&self, source: PeopleSource) {
        if self.people.set(source).is_err() {
            tracing::warn!("the members' names source was installed twice");
        }
    }

    /// Copies an open organization's members' names in again after someone
    /// joined or renamed themselves. One that is closed does it when it
    /// opens.
    pub async fn people_changed(&self, org_id: &str) -> AppResult<()> {
        let open = self.cache().peek(org_id).cloned().or_else(|| {
            let alive = self.alive.lock().unwrap_or_else(|p| p.into_inner());
            alive.get(org_id).and_then(Weak::upgrade)
        });
        match open {
            Some(tenant) => self.sync_people(&tenant).await,
            None => Ok(()),
        }
    }

    /// Writes the names that differ from the control database's.
    async fn sync_people(&self, tenant: &Arc<Tenant>) -> AppResult<()> {
        let Some(source) = self.people.get().cloned() else {
            return Ok(());
        };
        let org_id = tenant.org_id.clone();
        let people = crate::db::off_runtime(move || source(&org_id)).await?;
        let todo = tenant.db.read(move |c| people::changed(c, people)).await?;
        if todo.is_empty() {
            return Ok(());
        }
        tenant.db.write(move |c| people::save(c, &todo)).await?;
        Ok(())
    }

    /// The organizations open right now (for periodic upkeep).
    pub fn open_tenants(&self) -> Vec<Arc<Tenant>> {
        self.cache().iter().map(|(_, t)| t.clone()).collect()
    }

    pub fn open_count(&self) -> usize {
        self.cache().len()
    }

    /// Closes every organization and waits (up to `limit`) until none is
    /// alive anywhere — in particular until their indexers have finished the
    /// batch they were applying — so the files can be opened afresh.
    pub async fn close_all_and_wait(&self, limit: Duration) {
        self.close_all();
        let start = Instant::now();
        loop {
            let alive = {
                let mut alive = self.alive.lock().unwrap_or_else(|p| p.into_inner());
                alive.retain(|_, w| w.strong_count() > 0);
                alive.len()
            };
            if alive == 0 || start.elapsed() >= limit {
                if alive > 0 {
                    tracing::warn!(alive, "organizations still busy at shutdown");
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes one organization for good (it is being erased) and waits, up
    /// to `limit`, until nothing holds it; false if something still does.
    pub async fn forget(&self, org_id: &str, limit: Duration) -> bool {
        let popped = self.cache().pop(org_id);
        drop(popped);
        let start = Instant::now();
        loop {
            let alive = {
                let mut alive = self.alive.lock().unwrap_or_else(|p| p.into_inner());
                alive.retain(|_, w| w.strong_count() > 0);
                alive.contains_key(org_id)
            };
            if !alive {
                return true;
            }
            if start.elapsed() >= limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn close_all(&self) {
        let drained: Vec<_> = {
            let mut cache = self.cache();
            let mut v = Vec::new();
            while let Some(entry) = cache.pop_lru() {
                v.push(entry);
            }
            v
        };
        drop(drained);
    }

    /// Erases records that have stayed in the trash past their time (the
    /// trash job runs it hourly); how many.
    pub async fn purge_trash(&self, tenant: &Tenant) -> AppResult<usize> {
        let n = tenant.db.write(self.hooks.purge_trash).await?;
        if n > 0 {
            tracing::info!(org = %tenant.org_id, erased = n, "emptied old trash");
        }
        Ok(n)
    }
}

/// The indexer of one open organization: runs until the organization closes.
async fn run_indexer(tenant: Weak<Tenant>, notify: Arc<Notify>) {
    loop {
        let Some(t) = tenant.upgrade() else { return };
        let result = tokio::task::spawn_blocking(move || t.search.work(&t.db)).await;
        let failed = match result {
            Ok(Ok(())) => false,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "indexing failed; retrying");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "indexer panicked; retrying");
                true
            }
        };
        if failed {
            // Usually brief (another writer still finishing): try again soon.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            continue;
        }
        tokio::time::sleep(MIN_COMMIT_INTERVAL).await;
        // Woken by writes; the timeout catches rows written by other processes
        // (the CLI).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), notify.notified()).await;
    }
}
