//! One SQLite database (the control plane or one organization's CRM): a single
//! serialized writer plus a small pool of read-only connections.
//!
//! All database work runs on the blocking thread pool; handlers call `read`
//! and `write` with a closure. Writes are `BEGIN IMMEDIATE` on the one writer
//! connection, so concurrent requests queue on a mutex instead of meeting
//! SQLITE_BUSY.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::{AppError, AppResult};

/// Which schema a database file carries.
#[derive(Clone, Copy, Debug)]
pub enum Schema {
    Control,
    Tenant,
}

mod control_migrations {
    refinery::embed_migrations!("migrations/control");
}
mod tenant_migrations {
    refinery::embed_migrations!("migrations/tenant");
}

/// Settings shared by every database the process opens.
#[derive(Clone)]
pub struct DbOptions {
    /// `synchronous=FULL` instead of NORMAL: survives power loss, not just a crash.
    pub synchronous_full: bool,
    pub readers: u32,
    /// r2d2 runs its housekeeping on a thread pool; one shared pool keeps a
    /// thousand open tenants from each owning threads.
    pub pool_threads: Arc<ScheduledThreadPool>,
}

impl DbOptions {
    pub fn new(synchronous_full: bool) -> Self {
        DbOptions {
            synchronous_full,
            readers: 4,
            pool_threads: Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("sqlite-pool-{}")
                    .build(),
            ),
        }
    }
}

pub struct Db {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Pool<SqliteConnectionManager>,
}

fn apply_pragmas(conn: &Connection, synchronous_full: bool) -> rusqlite::Result<()> {
    let sync = if synchronous_full { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync};
         PRAGMA foreign_keys=ON;
         PRAGMA temp_store=MEMORY;
         PRAGMA trusted_schema=OFF;"
    ))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(())
}

impl Db {
    /// Opens (creating if needed) a database and applies pending migrations.
    pub fn open(path: &Path, schema: Schema, opts: &DbOptions) -> anyhow::Result<Db> {
        let mut writer =
            Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        // WAL is a property of the file: set it once here, before the pool
        // opens connections in parallel (see DEPENDENCIES.md).
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            anyhow::bail!("{} refused WAL mode (got {mode})", path.display());
        }
        apply_pragmas(&writer, opts.synchronous_full)?;
        let report = match schema {
            Schema::Control => control_migrations::migrations::runner()
                .set_grouped(true)
                .run(&mut writer),
            Schema::Tenant => tenant_migrations::migrations::runner()
                .set_grouped(true)
                .run(&mut writer),
        }
        .with_context(|| format!("migrating {}", path.display()))?;
        for m in report.applied_migrations() {
            tracing::info!(db = %path.display(), migration = %m, "applied migration");
        }

        let sync_full = opts.synchronous_full;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(move |c| apply_pragmas(c, sync_full));
        let readers = Pool::builder()
            .max_size(opts.readers)
            .min_idle(Some(0))
            .idle_timeout(Some(Duration::from_secs(120)))
            .thread_pool(opts.pool_threads.clone())
            .build(manager)
            .with_context(|| format!("read pool for {}", path.display()))?;
        Ok(Db {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read-only connection, off the async runtime.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = db
                .readers
                .get()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("read pool: {e}")))?;
            f(&conn)
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("read task failed: {e}")))?
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the single writer,
    /// off the async runtime. Commits when `f` returns Ok, rolls back otherwise.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction) -> AppResult<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.write_blocking(f))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("write task failed: {e}")))?
    }

    /// The same as `write`, for callers already on a blocking thread (CLI, demo).
    pub fn write_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Transaction) -> AppResult<T>,
    {
        // A panic while holding the lock poisons it; the connection itself is
        // still consistent (the transaction rolled back on unwind).
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Synchronous read for callers already on a blocking thread.
    pub fn read_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Connection) -> AppResult<T>,
    {
        let conn = self
            .readers
            .get()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("read pool: {e}")))?;
        f(&conn)
    }
}
