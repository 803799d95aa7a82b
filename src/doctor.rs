//! `harmonia doctor`: reads a data directory (changing nothing) and says, line
//! by line, what is fine and what is wrong with how to fix it: permissions,
//! free space, every database's integrity and schema version, search indexes,
//! the backup key and backups, failing jobs. Safe while the server runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};

use crate::config::BackupArgs;
use crate::search::index::{IndexHealth, inspect};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub fix: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag}  {}", self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
}

fn ok(what: String) -> Finding {
    Finding {
        level: Level::Ok,
        what,
        fix: None,
    }
}

fn warn(what: String, fix: String) -> Finding {
    Finding {
        level: Level::Warn,
        what,
        fix: Some(fix),
    }
}

fn fail(what: String, fix: String) -> Finding {
    Finding {
        level: Level::Fail,
        what,
        fix: Some(fix),
    }
}

pub struct Options {
    pub data_dir: PathBuf,
    pub min_free_bytes: u64,
    pub backup: BackupArgs,
    /// The vault's master key (None: <data-dir>/master.key).
    pub master_key_file: Option<PathBuf>,
}

/// Every finding, in the order a person would look.
pub fn examine(opts: &Options) -> Vec<Finding> {
    let dir = &opts.data_dir;
    let mut out = Vec::new();
    let Ok(meta) = std::fs::metadata(dir) else {
        out.push(fail(
            format!("data directory {}: does not exist", dir.display()),
            "give the right --data-dir (HARMONIA_DATA_DIR), or restore a backup into it".into(),
        ));
        return out;
    };
    permissions(dir, &meta, &mut out);
    free_space(dir, opts.min_free_bytes, &mut out);
    let control = dir.join(crate::backup::CONTROL_DB);
    let control_ok = database(
        "control database",
        &control,
        &crate::db::Schema::Control.migrations(),
        &mut out,
    );
    if let Some(conn) = control_ok {
        organizations(dir, &conn, &mut out);
        jobs(&conn, &mut out);
        let key = opts
            .master_key_file
            .clone()
            .unwrap_or_else(|| crate::vault::default_key_file(dir));
        master_key(&conn, &key, &mut out);
    }
    backups(dir, &opts.backup, &mut out);
    out
}

fn permissions(dir: &Path, meta: &std::fs::Metadata, out: &mut Vec<Finding>) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mode = meta.permissions().mode() & 0o777;
    if meta.uid() != me {
        out.push(fail(
            format!(
                "data directory {}: owned by uid {}, not by this user (uid {me})",
                dir.display(),
                meta.uid()
            ),
            format!(
                "run doctor and the server as the same user, or chown -R <user>: {}",
                dir.display()
            ),
        ));
    }
    let mut foreign = 0usize;
    let mut first = None;
    walk(dir, &mut |p, m| {
        if m.uid() != me {
            foreign += 1;
            first.get_or_insert_with(|| p.to_path_buf());
        }
    });
    if let Some(first) = &first {
        out.push(fail(
            format!(
                "{foreign} file(s) in the data directory belong to another user (first: {}): the server cannot change them",
                first.display()
            ),
            format!(
                "chown -R <the server's user>: {} (files made by a command run as root)",
                dir.display()
            ),
        ));
    }
    if mode & 0o007 != 0 {
        out.push(warn(
            format!(
                "data directory {}: mode {mode:04o}, other users of the machine can read it",
                dir.display()
            ),
            format!("chmod o-rwx {}", dir.display()),
        ));
    } else if meta.uid() == me && first.is_none() {
        out.push(ok(format!(
            "data directory {}: mode {mode:04o}, every file owned by this user",
            dir.display()
        )));
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = e.metadata() else { continue };
        f(&e.path(), &m);
        if m.is_dir() {
            walk(&e.path(), f);
        }
    }
}

fn free_space(dir: &Path, min: u64, out: &mut Vec<Finding>) {
    match crate::http::ready::free_bytes(dir) {
        Ok(free) if free >= min => out.push(ok(format!(
            "free space: {} MiB available (minimum {} MiB)",
            free >> 20,
            min >> 20
        ))),
        Ok(free) => out.push(fail(
            format!(
                "free space: {} MiB available, below the {} MiB minimum",
                free >> 20,
                min >> 20
            ),
            "free disk space (old backups, logs) or grow the disk; writes stop when it is full"
                .into(),
        )),
        Err(e) => out.push(fail(
            format!("free space: cannot be read ({e})"),
            "check the data directory's file system".into(),
        )),
    }
}

/// Integrity and schema version of one database; the open connection when
/// it is usable.
fn database(
    label: &str,
    path: &Path,
    migrations: &refinery::Runner,
    out: &mut Vec<Finding>,
) -> Option<Connection> {
    if !path.exists() {
        out.push(fail(
            format!("{label} {}: missing", path.display()),
            "restore it from a backup (harmonia restore; docs/operations.md#restore)".into(),
        ));
        return None;
    }
    let restore = format!(
        "stop the server and restore from a backup (docs/operations.md#restore); keep a copy of {} first",
        path.display()
    );
    let conn = match Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => {
            out.push(fail(format!("{label}: cannot be opened ({e})"), restore));
            return None;
        }
    };
    let _ = conn.busy_timeout(Duration::from_secs(10));
    let problems: Result<Vec<String>, _> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match problems {
        Ok(lines) if lines == ["ok"] => {}
        Ok(lines) => {
            out.push(fail(
                format!("{label}: integrity check failed: {}", lines.join("; ")),
                restore,
            ));
            return None;
        }
        Err(e) => {
            out.push(fail(
                format!("{label}: integrity check failed: {e}"),
                restore,
            ));
            return None;
        }
    }
    match crate::upgrade::plan(&conn, path, migrations) {
        Ok(plan) if plan.pending.is_empty() => out.push(ok(format!(
            "{label}: integrity ok, schema version {} (current)",
            plan.current.unwrap_or(0)
        ))),
        Ok(plan) => out.push(warn(
            format!(
                "{label}: integrity ok, schema version {}; pending migrations: {}",
                plan.current.unwrap_or(0),
                plan.pending.join(", ")
            ),
            "restart the server (it migrates at start) or run harmonia migrate with it stopped"
                .into(),
        )),
        Err(e) => out.push(fail(
            format!("{label}: {e:#}"),
            "run the Harmonia version that wrote it".into(),
        )),
    }
    Some(conn)
}

fn organizations(dir: &Path, control: &Connection, out: &mut Vec<Finding>) {
    let orgs: Result<Vec<(String, String)>, _> = control
        .prepare("SELECT id, slug FROM orgs ORDER BY slug")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
    let orgs = match orgs {
        Ok(o) => o,
        Err(e) => {
            out.push(fail(
                format!("organizations: cannot be listed ({e})"),
                "restore the control database from a backup".into(),
            ));
            return;
        }
    };
    if orgs.is_empty() {
        out.push(ok("organizations: none yet".into()));
    }
    let migrations = crate::db::Schema::Tenant.migrations();
    for (id, slug) in orgs {
        let org_dir = dir.join("tenants").join(&id);
        let label = format!("organization {slug}");
        let Some(conn) = database(&label, &org_dir.join("crm.db"), &migrations, out) else {
            continue;
        };
        let reindex = format!(
            "nothing to do: the server rebuilds it when it opens the organization; or, server stopped: harmonia reindex --org {slug}"
        );
        match inspect(&org_dir.join("index"), &conn) {
            IndexHealth::Current { documents } => {
                let queued: i64 = conn
                    .query_row("SELECT count(*) FROM search_outbox", [], |r| r.get(0))
                    .unwrap_or(0);
                out.push(ok(format!(
                    "{label}: search index matches its database ({documents} documents, {queued} change(s) queued)"
                )));
            }
            IndexHealth::Missing => out.push(warn(
                format!("{label}: search index missing (search finds nothing until rebuilt)"),
                reindex,
            )),
            IndexHealth::Unreadable(e) => out.push(warn(
                format!("{label}: search index unreadable ({e})"),
                reindex,
            )),
            IndexHealth::Stale => out.push(warn(
                format!("{label}: search index was built for another generation of its database or by an older version"),
                reindex,
            )),
        }
    }
}

fn jobs(control: &Connection, out: &mut Vec<Finding>) {
    let found = crate::jobs::store::failing(control)
        .and_then(|p| Ok((p, crate::jobs::store::org_jobs(control, true)?)));
    match found {
        Ok((platform, orgs)) if platform.is_empty() && orgs.is_empty() => {
            out.push(ok("background jobs: none failing".into()))
        }
        Ok((platform, orgs)) => {
            for j in &platform {
                out.push(fail(
                    format!(
                        "job {} failed its last run: {}",
                        j.name,
                        j.last_error.as_deref().unwrap_or("(no error recorded)")
                    ),
                    "harmonia jobs shows its runs; it is retried by itself and clears with its next success".into(),
                ));
            }
            for o in &orgs {
                out.push(fail(
                    format!(
                        "job {} of organization {} failed its last run: {}",
                        o.job.name,
                        o.org,
                        o.job.last_error.as_deref().unwrap_or("(no error recorded)")
                    ),
                    "harmonia jobs shows its runs; it is retried by itself and clears with its next success".into(),
                ));
            }
        }
        Err(e) => out.push(fail(
            format!("background jobs: cannot be read ({e})"),
            "restore the control database from a backup".into(),
        )),
    }
}

fn backups(dir: &Path, backup: &BackupArgs, out: &mut Vec<Finding>) {
    let key = backup.key_file(dir);
    let Some(backup_dir) = &backup.backup_dir else {
        out.push(warn(
            "backups: no scheduled backups (--backup-dir is not set)".into(),
            "set HARMONIA_BACKUP_DIR (docs/install.md#6-backups), or run harmonia backup from cron"
                .into(),
        ));
        if key.exists() {
            key_mode(&key, out);
        }
        return;
    };
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(backup_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("harmonia-") && name.ends_with(".hbk")) {
                continue;
            }
            if let Ok(t) = e.metadata().and_then(|m| m.modified())
                && newest.as_ref().is_none_or(|(n, _)| t > *n)
            {
                newest = Some((t, e.path()));
            }
        }
    }
    if !key.exists() {
        out.push(fail(
            format!("backup key {}: missing", key.display()),
            if newest.is_some() {
                "put back your copy of the key: without it the backups there cannot be read, and the server makes a new key that cannot read them either".into()
            } else {
                "start the server once (it creates the key), then keep a copy off the machine".into()
            },
        ));
    } else {
        key_mode(&key, out);
    }
    match newest {
        None => out.push(warn(
            format!("backups: none yet in {}", backup_dir.display()),
            "the first runs at --backup-at; or make one now: harmonia backup --out FILE".into(),
        )),
        Some((t, path)) => {
            let age = SystemTime::now().duration_since(t).unwrap_or_default();
            let hours = age.as_secs() / 3600;
            if age > Duration::from_secs(36 * 3600) {
                out.push(fail(
                    format!(
                        "backups: the newest, {}, is {hours} hours old",
                        path.display()
                    ),
                    "see why the backup.scheduled job fails: harmonia jobs".into(),
                ));
            } else {
                out.push(ok(format!(
                    "backups: the newest, {}, is {hours} hour(s) old",
                    path.display()
                )));
            }
        }
    }
}

/// The vault's master key: there, private, and the one the secrets need.
fn master_key(conn: &Connection, path: &Path, out: &mut Vec<Finding>) {
    let ids = match crate::vault::key_ids(conn) {
        Ok(ids) => ids,
        Err(e) => {
            out.push(fail(
                format!("master key: the vault cannot be read ({e})"),
                "run harmonia migrate".into(),
            ));
            return;
        }
    };
    let secrets: i64 = ids.iter().map(|(_, n)| n).sum();
    let key = match crate::vault::MasterKey::read(path) {
        Ok(k) => k,
        Err(e) => {
            out.push(fail(
                format!("master key {}: {e:#}", path.display()),
                "put back the right key file (64 hex digits)".into(),
            ));
            return;
        }
    };
    if let Some(problem) = crate::vault::mismatch(key.as_ref(), path, &ids) {
        out.push(fail(
            format!("master key: {problem}"),
            "the server will not start until this is fixed".into(),
        ));
        return;
    }
    let Some(key) = key else {
        out.push(warn(
            format!(
                "master key {}: missing (no secret stored yet)",
                path.display()
            ),
            "the server creates it at its next start; then keep a copy off this machine".into(),
        ));
        return;
    };
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    if mode & 0o077 != 0 {
        out.push(warn(
            format!(
                "master key {}: mode {mode:04o}, readable by others",
                path.display()
            ),
            format!("chmod 600 {}", path.display()),
        ));
        return;
    }
    out.push(ok(format!(
        "master key {}: loaded (key {}), opens all {secrets} secret(s); backups do not contain it, keep a copy off this machine",
        path.display(),
        key.id()
    )));
}

fn key_mode(key: &Path, out: &mut Vec<Finding>) {
    match std::fs::metadata(key) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => out.push(warn(
            format!(
                "backup key {}: mode {:04o}, readable by others",
                key.display(),
                m.permissions().mode() & 0o777
            ),
            format!("chmod 600 {}", key.display()),
        )),
        Ok(_) => out.push(ok(format!(
            "backup key {}: present, mode 0600 (keep a copy off this machine)",
            key.display()
        ))),
        Err(e) => out.push(fail(
            format!("backup key {}: cannot be read ({e})", key.display()),
            "check its owner and mode".into(),
        )),
    }
}
