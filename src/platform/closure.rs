//! Closing an organization. Its owner closes it; from then on it is
//! read-only for everyone, an export of all its data is prepared for its
//! owners, and it can be reopened for 30 days. Then the closure job erases
//! it: the control rows (members, API keys, invitations, jobs), its database,
//! search index and files, and the export. Scheduled backups that still hold
//! it age out by their own retention.
//!
//! The export is the one-organization backup archive (the organization's
//! SQLite database, its files and a manifest with checksums), kept encrypted
//! with the backup key on the server and decrypted as an owner downloads it:
//! a tar file that any SQLite tool reads, no Harmonia needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use time::OffsetDateTime;

use crate::backup::BackupKey;
use crate::clock;
use crate::error::AppResult;
use crate::state::AppState;

/// How long a closed organization can be reopened before it is erased.
pub const GRACE_DAYS: i64 = 30;

/// An organization's closure as its members and the platform admin see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Closure {
    pub org_id: String,
    pub slug: String,
    pub name: String,
    pub closed_at: String,
    /// The user who closed it.
    pub closed_by: String,
    /// When the closure job erases it, unless it is reopened before.
    pub purge_at: String,
    pub export: ExportState,
    /// Set once the organization has been erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExportState {
    /// `preparing`, `ready` or `failed` (a failed export is tried again).
    pub status: String,
    /// Size in bytes of the download, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

const COLUMNS: &str = "org_id, slug, name, closed_at, closed_by, purge_at, export_status, \
                       export_size, export_ready_at, export_error, purged_at, export_file";

/// A closure row with where its export lies (never sent to clients).
pub struct Row {
    pub closure: Closure,
    pub export_file: Option<String>,
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        closure: Closure {
            org_id: r.get(0)?,
            slug: r.get(1)?,
            name: r.get(2)?,
            closed_at: r.get(3)?,
            closed_by: r.get(4)?,
            purge_at: r.get(5)?,
            export: ExportState {
                status: r.get(6)?,
                size: r.get(7)?,
                ready_at: r.get(8)?,
                error: r.get(9)?,
            },
            purged_at: r.get(10)?,
        },
        export_file: r.get(11)?,
    })
}

/// The closure of a live organization, if it is closed.
pub fn of_org(conn: &Connection, org_id: &str) -> AppResult<Option<Row>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM org_closures WHERE org_id = ?1 AND purged_at IS NULL"
        ))?
        .query_row([org_id], from_row)
        .optional()?)
}

/// Closures not yet erased, and those erased in the last 90 days (platform admin).
pub fn recent(conn: &Connection, now: OffsetDateTime) -> AppResult<Vec<Closure>> {
    let since = clock::stamp(now - time::Duration::days(90));
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM org_closures WHERE purged_at IS NULL OR purged_at >= ?1
         ORDER BY purge_at, org_id"
    ))?;
    let rows = stmt
        .query_map([since], from_row)?
        .map(|r| r.map(|row| row.closure))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn close(
    conn: &Connection,
    org: &crate::platform::orgs::Org,
    user_id: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    // A closure left from an earlier, reopened closure was deleted on reopen;
    // one still here means the organization is already closed.
    conn.execute(
        "INSERT INTO org_closures (org_id, slug, name, closed_at, closed_by, purge_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            org.id,
            org.slug,
            org.name,
            clock::stamp(now),
            user_id,
            clock::stamp(now + time::Duration::days(GRACE_DAYS)),
        ],
    )?;
    Ok(())
}

/// Reopens: the closure row goes; its export file is the caller's to delete.
pub fn reopen(conn: &Connection, org_id: &str) -> AppResult<Option<String>> {
    let file: Option<Option<String>> = conn
        .query_row(
            "DELETE FROM org_closures WHERE org_id = ?1 AND purged_at IS NULL RETURNING export_file",
            [org_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(file.flatten())
}

fn pending_exports(conn: &Connection) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM org_closures
         WHERE purged_at IS NULL AND export_status IN ('preparing', 'failed') ORDER BY closed_at"
    ))?;
    let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

fn due(conn: &Connection, now: OffsetDateTime) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM org_closures WHERE purged_at IS NULL AND purge_at <= ?1
         ORDER BY purge_at"
    ))?;
    let rows = stmt
        .query_map([clock::stamp(now)], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The folder of an organization's exports.
pub fn export_dir(data_dir: &Path, org_id: &str) -> PathBuf {
    data_dir.join("exports").join(org_id)
}

/// Serializes export preparation: the close request starts it at once and
/// the closure job looks again every minute; the two never build one twice.
static PREPARING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Prepares every export still missing. Idempotent: a file of an export
/// that was interrupted is replaced.
pub async fn prepare_exports(state: &AppState) -> anyhow::Result<usize> {
    let _turn = PREPARING.lock().await;
    let pending = state.control.read(pending_exports).await?;
    let mut done = 0;
    for row in pending {
        let c = row.closure;
        let data_dir = state.config.data_dir.clone();
        let key_file = state.config.backup.key_file(&data_dir);
        let (org_id, slug) = (c.org_id.clone(), c.slug.clone());
        let made = crate::backup::priority::run_in_background("closure-export", move || {
            let key = BackupKey::load(&key_file, true)?;
            let dir = export_dir(&data_dir, &org_id);
            std::fs::create_dir_all(&dir)?;
            let name = format!("{slug}-{}.harmonia-export", clock::new_id());
            let out = dir.join(&name);
            crate::backup::create(&data_dir, &out, &key, Some(&slug))?;
            crate::backup::verify(&out, &key)?;
            let size = plain_size(&out, &key)?;
            Ok((name, size as i64))
        })
        .await;
        let org_id = c.org_id.clone();
        match made {
            Ok((name, size)) => {
                let now = clock::now_stamp();
                let old = state
                    .control
                    .write(move |tx| {
                        let old: Option<Option<String>> = tx
                            .query_row(
                                "SELECT export_file FROM org_closures WHERE org_id = ?1",
                                [&org_id],
                                |r| r.get(0),
                            )
                            .optional()?;
                        let kept = tx.execute(
                            "UPDATE org_closures SET export_status = 'ready', export_file = ?2,
                                 export_size = ?3, export_ready_at = ?4, export_error = NULL
                             WHERE org_id = ?1 AND purged_at IS NULL",
                            params![org_id, name, size, now],
                        )? == 1;
                        // Reopened (or erased) while it was being made: the
                        // new file is nobody's, like the one it replaces.
                        Ok(if kept {
                            old.flatten().into_iter().collect::<Vec<_>>()
                        } else {
                            old.flatten().into_iter().chain([name]).collect()
                        })
                    })
                    .await?;
                let dir = export_dir(&state.config.data_dir, &c.org_id);
                for file in old {
                    let _ = std::fs::remove_file(dir.join(file));
                }
                tracing::info!(org = %c.slug, bytes = size, "closed organization's export is ready");
                done += 1;
            }
            Err(e) => {
                tracing::warn!(org = %c.slug, error = ?e, "preparing the export failed");
                let msg = format!("{e:#}");
                state
                    .control
                    .write(move |tx| {
                        tx.execute(
                            "UPDATE org_closures SET export_status = 'failed', export_error = ?2
                             WHERE org_id = ?1 AND purged_at IS NULL",
                            params![org_id, msg],
                        )?;
                        Ok(())
                    })
                    .await?;
                return Err(e.context(format!("preparing the export of {}", c.slug)));
            }
        }
    }
    Ok(done)
}

/// The size of the decrypted archive, read through once (which also checks
/// every chunk's authentication).
fn plain_size(file: &Path, key: &BackupKey) -> anyhow::Result<u64> {
    let f = std::fs::File::open(file)?;
    let mut plain = crate::backup::crypt::DecryptReader::new(std::io::BufReader::new(f), key)?;
    Ok(std::io::copy(&mut plain, &mut std::io::sink())?)
}

/// Erases every closed organization whose time has come. Each step can run
/// again: a purge interrupted halfway finishes on the next run.
pub async fn purge_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let due = state.control.read(move |c| due(c, now)).await?;
    let mut erased = 0;
    for row in due {
        let c = row.closure;
        let org_id = c.org_id.clone();
        // First the control rows: from here on nobody reaches it, and no
        // job of it is due (its `org_jobs` mirror goes with the cascade).
        state
            .control
            .write(move |tx| {
                tx.execute("DELETE FROM orgs WHERE id = ?1", [&org_id])?;
                // Its secrets in the vault go with it.
                crate::vault::Vault::delete_org(tx, &org_id)?;
                Ok(())
            })
            .await?;
        if !state
            .tenants
            .forget(&c.org_id, Duration::from_secs(10))
            .await
        {
            anyhow::bail!("organization {} is still busy; erasing it later", c.slug);
        }
        let tenant_dir = state.tenants.dir(&c.org_id);
        let exports = export_dir(&state.config.data_dir, &c.org_id);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            for dir in [tenant_dir, exports] {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(anyhow::anyhow!("removing {}: {e}", dir.display())),
                }
            }
            Ok(())
        })
        .await??;
        let (org_id, stamp, slug) = (c.org_id.clone(), clock::stamp(now), c.slug.clone());
        state
            .control
            .write(move |tx| {
                tx.execute(
                    "UPDATE org_closures SET purged_at = ?2, export_file = NULL WHERE org_id = ?1",
                    params![org_id, stamp],
                )?;
                crate::audit::requests::forget_org(tx, &org_id)?;
                crate::audit::record(
                    tx,
                    &crate::audit::Entry::new(crate::audit::Actor::system("closure"), "org.erased")
                        .target("organization", &org_id, &slug),
                )?;
                Ok(())
            })
            .await?;
        tracing::info!(org = %c.slug, "erased closed organization");
        erased += 1;
    }
    Ok(erased)
}

/// The closure job: exports still to prepare, then organizations to erase.
pub async fn run_job(state: &AppState, now: OffsetDateTime) -> anyhow::Result<()> {
    let prepared = prepare_exports(state).await;
    let erased = purge_due(state, now).await?;
    if erased > 0 {
        tracing::info!(erased, "erased closed organizations");
    }
    prepared.map(|_| ())
}
