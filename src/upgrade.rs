//! Migrating a database safely. Before any pending migration runs, the
//! database is copied next to itself with SQLite's online backup API
//! (`<file>.pre-migration-<time>`); all pending migrations then run in one
//! transaction. If one fails, the database is left (or put back) exactly as
//! it was, and the error names the migration, so the server refuses to start
//! with a message that says what happened and what to do. A database that a
//! newer Harmonia has migrated is refused before anything touches it.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use refinery::{Migration, Runner};
use rusqlite::Connection;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::backup::archive;

const SNAPSHOT: &str = ".pre-migration-";
const STAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
/// Migration snapshots are deleted by a job after this long.
pub const SNAPSHOT_DAYS: i64 = 7;

/// What migrating a database would do.
#[derive(Debug)]
pub struct Plan {
    /// The last migration applied; None for a new database.
    pub current: Option<i64>,
    /// Names of the migrations to apply, in order (`V5__jobs`).
    pub pending: Vec<String>,
}

fn last_applied(conn: &Connection) -> anyhow::Result<Option<i64>> {
    let has_history: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'refinery_schema_history')",
        [],
        |r| r.get(0),
    )?;
    if !has_history {
        return Ok(None);
    }
    Ok(conn.query_row(
        "SELECT MAX(version) FROM refinery_schema_history",
        [],
        |r| r.get(0),
    )?)
}

fn applied_versions(conn: &Connection) -> anyhow::Result<Vec<i64>> {
    if last_applied(conn)?.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT version FROM refinery_schema_history")?;
    let versions = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(versions)
}

/// Reads, without changing anything, which migrations `runner` would apply;
/// Err when the database is newer than every migration this binary knows.
pub fn plan(conn: &Connection, path: &Path, runner: &Runner) -> anyhow::Result<Plan> {
    let current = last_applied(conn)?;
    let known = runner.get_migrations();
    let newest = known
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0);
    if let Some(v) = current
        && v > newest
    {
        bail!(
            "{} is at schema version {v}, newer than this Harmonia {} knows (up to {newest}): \
             a newer version of Harmonia has used it. Run that version again, or restore a \
             backup made before the upgrade",
            path.display(),
            env!("CARGO_PKG_VERSION")
        );
    }
    let applied = applied_versions(conn)?;
    let pending: Vec<&Migration> = known
        .iter()
        .filter(|m| !applied.contains(&i64::from(m.version())))
        .collect();
    // A gap below the current version cannot be filled in order: such a
    // file comes from a development build that numbered migrations apart.
    if let (Some(v), Some(gap)) = (
        current,
        pending
            .iter()
            .find(|m| i64::from(m.version()) < current.unwrap_or(0)),
    ) {
        bail!(
            "{} is at schema version {v} but lacks the earlier migration {gap}: it was made by a \
             build whose migrations differ from this one. Restore it from a backup made with \
             this version, or start from a new data directory",
            path.display()
        );
    }
    let pending = pending.iter().map(|m| m.to_string()).collect();
    Ok(Plan { current, pending })
}

pub fn snapshot_path(db: &Path, at: OffsetDateTime) -> PathBuf {
    let stamp = at.format(STAMP).unwrap_or_else(|_| "snapshot".into());
    db.with_file_name(format!(
        "{}{SNAPSHOT}{stamp}",
        db.file_name().and_then(|n| n.to_str()).unwrap_or("db")
    ))
}

/// Applies the pending migrations of `runner` to the database at `path`
/// (whose writer connection is `conn`), as described in the module comment.
pub fn migrate(conn: &mut Connection, path: &Path, runner: Runner) -> anyhow::Result<()> {
    let plan = plan(conn, path, &runner)?;
    if plan.pending.is_empty() {
        return Ok(());
    }
    // A new database has nothing to protect.
    let snapshot = match plan.current {
        None => None,
        Some(_) => {
            let to = snapshot_path(path, crate::clock::now());
            archive::snapshot(path, &to)
                .with_context(|| format!("snapshotting {} before migrating it", path.display()))?;
            Some(to)
        }
    };
    let migrations = runner.get_migrations().clone();
    match runner.set_grouped(true).run(conn) {
        Ok(report) => {
            for m in report.applied_migrations() {
                tracing::info!(db = %path.display(), migration = %m, "applied migration");
            }
            Ok(())
        }
        Err(e) => {
            let failing = which_fails(snapshot.as_deref(), &migrations)
                .unwrap_or_else(|| plan.pending.join(", "));
            if last_applied(conn)? != plan.current
                && let Some(snap) = &snapshot
            {
                put_back(snap, conn)?;
            }
            let kept = match &snapshot {
                Some(s) => format!("; a copy taken before is at {}", s.display()),
                None => String::new(),
            };
            bail!(
                "migration {failing} failed on {}: {e}. The database is unchanged (schema version {}){kept}. \
                 Harmonia will not start on it: free disk space if it was full, or go back to the \
                 previous version of Harmonia, and report this error",
                path.display(),
                plan.current.map_or("none".to_string(), |v| v.to_string())
            )
        }
    }
}

/// Finds the failing migration by applying them one at a time to an
/// in-memory copy of the snapshot (or of an empty database).
fn which_fails(snapshot: Option<&Path>, migrations: &[Migration]) -> Option<String> {
    let mut copy = Connection::open_in_memory().ok()?;
    crate::order::register_sql(&copy).ok()?;
    if let Some(snap) = snapshot {
        let from = Connection::open(snap).ok()?;
        rusqlite::backup::Backup::new(&from, &mut copy)
            .ok()?
            .step(-1)
            .ok()?;
    }
    let before = last_applied(&copy).ok()?;
    let runner = Runner::new(migrations).set_grouped(false);
    let e = runner.run(&mut copy).err()?;
    let done = e.report().map_or(0, |r| r.applied_migrations().len());
    migrations
        .iter()
        .filter(|m| before.is_none_or(|v| i64::from(m.version()) > v))
        .nth(done)
        .map(|m| m.to_string())
}

/// Copies the snapshot back over the database through its own connection.
fn put_back(snapshot: &Path, conn: &mut Connection) -> anyhow::Result<()> {
    let from = Connection::open(snapshot)?;
    let backup = rusqlite::backup::Backup::new(&from, conn)?;
    backup.step(-1)?;
    Ok(())
}

/// `harmonia migrate --dry-run`: one line per database saying what would
/// run, without changing anything. The migrations are handed in (the
/// database layer owns them and calls this module to apply them).
pub fn dry_run(
    data_dir: &Path,
    control_migrations: &refinery::Runner,
    tenant_migrations: &refinery::Runner,
) -> anyhow::Result<Vec<String>> {
    let control = data_dir.join(crate::backup::CONTROL_DB);
    if !control.exists() {
        return Ok(vec![format!(
            "{}: no databases yet; the first start creates them",
            data_dir.display()
        )]);
    }
    let mut dbs = vec![(
        "control database".to_string(),
        control.clone(),
        control_migrations,
    )];
    for org in archive::read_orgs(&control)? {
        let path = data_dir.join("tenants").join(&org.id).join("crm.db");
        dbs.push((
            format!("organization {}", org.slug),
            path,
            tenant_migrations,
        ));
    }
    let mut lines = Vec::new();
    for (label, path, runner) in dbs {
        let conn = archive::open_existing(&path)?;
        let p = plan(&conn, &path, runner)?;
        let version = p.current.map_or("none".to_string(), |v| v.to_string());
        lines.push(if p.pending.is_empty() {
            format!("{label}: up to date (schema version {version})")
        } else {
            format!(
                "{label}: at schema version {version}; would apply {}",
                p.pending.join(", ")
            )
        });
    }
    Ok(lines)
}

/// Deletes migration snapshots (of the control database and every
/// organization's) taken more than `SNAPSHOT_DAYS` before `now`.
pub fn prune_snapshots(data_dir: &Path, now: OffsetDateTime) -> anyhow::Result<usize> {
    let cutoff = now - time::Duration::days(SNAPSHOT_DAYS);
    let mut dirs = vec![data_dir.to_path_buf()];
    if let Ok(tenants) = std::fs::read_dir(data_dir.join("tenants")) {
        dirs.extend(tenants.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let mut removed = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let name = entry.file_name();
            let Some(taken) = name
                .to_str()
                .and_then(|n| n.split_once(SNAPSHOT))
                .and_then(|(_, stamp)| time::PrimitiveDateTime::parse(stamp, STAMP).ok())
                .map(|t| t.assume_utc())
            else {
                continue;
            };
            if taken < cutoff {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn set(migrations: &[(&str, &str)]) -> Runner {
        let ms: Vec<Migration> = migrations
            .iter()
            .map(|(name, sql)| Migration::unapplied(name, sql).expect("migration"))
            .collect();
        Runner::new(&ms)
    }

    const V1: (&str, &str) = (
        "V1__contacts",
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO contacts VALUES (1, 'Ada');",
    );
    const V2: (&str, &str) = (
        "V2__companies",
        "CREATE TABLE companies (id INTEGER PRIMARY KEY);",
    );
    const V3_BROKEN: (&str, &str) = (
        "V3__broken",
        "ALTER TABLE contacts ADD COLUMN email TEXT; INSERT INTO no_such_table VALUES (1);",
    );

    fn open(path: &Path) -> Connection {
        let c = Connection::open(path).expect("open");
        c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .expect("wal");
        c
    }

    #[test]
    fn a_failing_migration_leaves_the_database_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("crm.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, set(&[V1])).expect("first migration");
        let err = migrate(&mut conn, &path, set(&[V1, V2, V3_BROKEN]))
            .expect_err("broken set")
            .to_string();
        assert!(err.contains("migration V3__broken failed"), "{err}");
        assert!(err.contains("unchanged (schema version 1)"), "{err}");
        assert!(err.contains("will not start"), "{err}");
        drop(conn);

        // The old binary's view: version 1, its data, nothing of V2 or V3.
        let conn = open(&path);
        assert_eq!(last_applied(&conn).expect("version"), Some(1));
        let name: String = conn
            .query_row("SELECT name FROM contacts WHERE id = 1", [], |r| r.get(0))
            .expect("row");
        assert_eq!(name, "Ada");
        let companies: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'companies')",
                [],
                |r| r.get(0),
            )
            .expect("exists");
        assert!(!companies);
        assert_eq!(
            conn.prepare("SELECT * FROM contacts")
                .expect("select")
                .column_count(),
            2
        );
        let snapshots: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(SNAPSHOT))
            .collect();
        assert_eq!(snapshots.len(), 1, "the snapshot stays next to it");
        let snap = Connection::open(snapshots[0].path()).expect("snapshot");
        assert_eq!(last_applied(&snap).expect("version"), Some(1));
    }

    #[test]
    fn put_back_restores_the_snapshot_over_a_changed_database() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("crm.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, set(&[V1])).expect("v1");
        let snap = dir.path().join("snap");
        archive::snapshot(&path, &snap).expect("snapshot");
        conn.execute_batch("DELETE FROM contacts; CREATE TABLE junk (x);")
            .expect("damage");
        put_back(&snap, &mut conn).expect("put back");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
        assert!(conn.prepare("SELECT * FROM junk").is_err());
    }

    #[test]
    fn a_database_newer_than_the_binary_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("crm.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, set(&[V1, V2])).expect("v2");
        let err = migrate(&mut conn, &path, set(&[V1]))
            .expect_err("older binary")
            .to_string();
        assert!(err.contains("schema version 2, newer than"), "{err}");
        assert_eq!(last_applied(&conn).expect("version"), Some(2));
    }

    #[test]
    fn a_gap_below_the_current_version_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("crm.db");
        let mut conn = open(&path);
        migrate(&mut conn, &path, set(&[V1, V3_LATER])).expect("v1 and v3");
        let err = migrate(&mut conn, &path, set(&[V1, V2, V3_LATER]))
            .expect_err("v2 came later")
            .to_string();
        assert!(
            err.contains("lacks the earlier migration V2__companies"),
            "{err}"
        );
    }

    const V3_LATER: (&str, &str) = ("V3__notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY);");

    #[test]
    fn plans_list_pending_migrations_and_new_databases_need_no_snapshot() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("crm.db");
        let mut conn = open(&path);
        let p = plan(&conn, &path, &set(&[V1, V2])).expect("plan");
        assert_eq!(p.current, None);
        assert_eq!(p.pending, vec!["V1__contacts", "V2__companies"]);
        migrate(&mut conn, &path, set(&[V1])).expect("v1");
        let p = plan(&conn, &path, &set(&[V1, V2])).expect("plan");
        assert_eq!(p.pending, vec!["V2__companies"]);
        assert!(
            std::fs::read_dir(dir.path())
                .expect("dir")
                .flatten()
                .all(|e| { !e.file_name().to_string_lossy().contains(SNAPSHOT) })
        );
        migrate(&mut conn, &path, set(&[V1, V2])).expect("v2");
        assert!(
            plan(&conn, &path, &set(&[V1, V2]))
                .expect("plan")
                .pending
                .is_empty()
        );
    }

    #[test]
    fn old_snapshots_are_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let org = dir.path().join("tenants").join("org-1");
        std::fs::create_dir_all(&org).expect("mkdir");
        let old = snapshot_path(&org.join("crm.db"), datetime!(2026-01-01 00:00 UTC));
        let recent = snapshot_path(
            &dir.path().join("harmonia.db"),
            datetime!(2026-01-07 00:00 UTC),
        );
        for f in [&old, &recent, &org.join("crm.db")] {
            std::fs::write(f, b"x").expect("write");
        }
        let removed = prune_snapshots(dir.path(), datetime!(2026-01-10 00:00 UTC)).expect("prune");
        assert_eq!(removed, 1);
        assert!(!old.exists());
        assert!(recent.exists());
        assert!(org.join("crm.db").exists());
    }
}
