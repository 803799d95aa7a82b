//! Upgrades through the real binary: `migrate --dry-run`, a pending migration
//! applied after a snapshot, and a database newer than the binary refused.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::PASSWORD;

/// How long a command may run: a `serve` that should have refused to start
/// would otherwise keep serving, and the suite would hang on it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn harmonia(data_dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("HARMONIA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run harmonia");
    let drain = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            from.read_to_end(&mut bytes).expect("read its output");
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let until = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for harmonia") {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`harmonia {}` still ran after {RUN_LIMIT:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The last migration of an organization's database in this build.
fn newest_tenant_migration() -> refinery::Migration {
    harmonia::db::Schema::Tenant
        .migrations()
        .get_migrations()
        .iter()
        .max_by_key(|m| m.version())
        .cloned()
        .expect("migrations")
}

fn setup(data: &Path) -> std::path::PathBuf {
    let pw = data.with_extension("pw");
    std::fs::write(&pw, PASSWORD).expect("pw");
    stdout(&harmonia(
        data,
        &[
            "setup",
            "--org-name",
            "Acme",
            "--email",
            "owner@example.com",
            "--password-file",
            pw.to_str().expect("path"),
        ],
    ));
    let tenants: Vec<_> = std::fs::read_dir(data.join("tenants"))
        .expect("tenants")
        .flatten()
        .collect();
    tenants[0].path().join("crm.db")
}

#[test]
fn a_pending_migration_is_listed_then_applied_after_a_snapshot() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let crm = setup(&data);
    let plan = stdout(&harmonia(&data, &["migrate", "--dry-run"]));
    assert!(plan.contains("control database: up to date"), "{plan}");
    assert!(plan.contains("organization acme: up to date"), "{plan}");

    // As if this organization's database came from before the newest
    // migration: made afresh by every migration but the last.
    let newest = newest_tenant_migration();
    std::fs::remove_file(&crm).expect("remove");
    let mut c = rusqlite::Connection::open(&crm).expect("open");
    c.execute_batch("PRAGMA journal_mode=WAL;").expect("wal");
    // Older migrations' backfills call Harmonia's own SQL functions.
    harmonia::order::register_sql(&c).expect("functions");
    harmonia::db::Schema::Tenant
        .migrations()
        .set_target(refinery::Target::Version(newest.version() - 1))
        .run(&mut c)
        .expect("older schema");
    drop(c);
    let plan = stdout(&harmonia(&data, &["migrate", "--dry-run"]));
    assert!(
        plan.contains("organization acme: at schema version"),
        "{plan}"
    );
    assert!(plan.contains(&format!("would apply {newest}")), "{plan}");

    stdout(&harmonia(&data, &["migrate"]));
    let plan = stdout(&harmonia(&data, &["migrate", "--dry-run"]));
    assert!(plan.contains("organization acme: up to date"), "{plan}");
    let snapshots: Vec<String> = std::fs::read_dir(crm.parent().expect("dir"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("crm.db.pre-migration-"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
}

#[test]
fn a_database_newer_than_the_binary_stops_the_server_from_starting() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let crm = setup(&data);
    let c = rusqlite::Connection::open(&crm).expect("open");
    c.execute(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
        [],
    )
    .expect("future");
    drop(c);
    let out = harmonia(&data, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema version 99, newer than this Harmonia"),
        "{err}"
    );
    let out = harmonia(&data, &["migrate", "--dry-run"]);
    assert!(!out.status.success());
}

#[test]
fn a_missing_organization_database_is_reported_not_recreated() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let crm = setup(&data);
    std::fs::remove_file(&crm).expect("remove");
    let out = harmonia(&data, &["migrate"]);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("organization database is missing"), "{log}");
    assert!(
        !crm.exists(),
        "no empty database stands in for the lost one"
    );
}

/// `harmonia jobs` lists every job and exits non-zero while one failed its
/// last run (usable from a monitoring script).
#[test]
fn the_jobs_command_lists_jobs_and_fails_on_a_failed_one() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    setup(&data);
    let listed = stdout(&harmonia(&data, &["jobs"]));
    assert!(listed.starts_with("where"), "{listed}");
    let c = rusqlite::Connection::open(data.join("harmonia.db")).expect("open");
    c.execute(
        "INSERT INTO jobs (name, handler, schedule, next_run_at, attempts, last_finished_at,
             last_outcome, last_error, created_at)
         VALUES ('backup.scheduled', 'backup.scheduled', 'daily 03:00 UTC',
             '2026-12-05T03:00:00.000000Z', 2, '2026-12-04T03:00:01.000000Z', 'failed',
             'No space left on device', '2026-12-01T00:00:00.000000Z')",
        [],
    )
    .expect("a failed job");
    drop(c);
    let out = harmonia(&data, &["jobs"]);
    assert!(!out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("(platform)  backup.scheduled"), "{listed}");
    assert!(
        listed.contains("FAILED (2x): No space left on device"),
        "{listed}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 job(s) failed their last run"));
}

/// A migration that fails on a real database (here: a view stands where
/// its table goes) stops the server with the migration named; the database stays as
/// it was and its snapshot is kept.
#[test]
fn a_failing_migration_stops_the_server_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let crm = setup(&data);
    let c = rusqlite::Connection::open(&crm).expect("open");
    // The newest migration, forgotten but not undone: applying it again
    // runs into what it made the first time.
    let newest = newest_tenant_migration();
    c.execute(
        "DELETE FROM refinery_schema_history WHERE version = ?1",
        [newest.version()],
    )
    .expect("forget it");
    c.execute_batch("CREATE TABLE kept (note TEXT); INSERT INTO kept VALUES ('still here');")
        .expect("prepare a migration that will fail");
    drop(c);
    let before = std::fs::read(&crm).expect("read");

    let out = harmonia(&data, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("migration {newest} failed")), "{err}");
    assert!(err.contains("The database is unchanged"), "{err}");
    assert!(err.contains("will not start"), "{err}");

    let c = rusqlite::Connection::open(&crm).expect("open");
    let note: String = c
        .query_row("SELECT note FROM kept", [], |r| r.get(0))
        .expect("data intact");
    assert_eq!(note, "still here");
    let has_runs: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM refinery_schema_history WHERE version = ?1)",
            [newest.version()],
            |r| r.get(0),
        )
        .expect("schema");
    assert!(!has_runs, "the failed migration is not recorded");
    drop(c);
    assert_eq!(before.len(), std::fs::read(&crm).expect("read").len());
    let snapshots = std::fs::read_dir(crm.parent().expect("dir"))
        .expect("dir")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("crm.db.pre-migration-")
        })
        .count();
    assert_eq!(snapshots, 1);
}
