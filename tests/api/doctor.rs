//! `harmonia doctor` on a healthy data directory, one with a corrupted
//! database, one whose search index was deleted, and one whose backup key is
//! missing: each gives the right finding and fix, and fails only on failures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn doctor(data_dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("doctor")
        .args(["--min-free-space-mb", "0"])
        .args(extra)
        .env("HARMONIA_LOG", "warn")
        .env_remove("HARMONIA_BACKUP_DIR")
        .env_remove("HARMONIA_BACKUP_KEY_FILE")
        .output()
        .expect("run harmonia doctor")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A stopped instance with one organization holding a contact.
async fn instance() -> (tempfile::TempDir, PathBuf) {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/contacts",
            json!({"first_name": "Grace", "last_name": "Hopper"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (dir, _) = app.stop().await;
    let org = std::fs::read_dir(dir.path().join("tenants"))
        .expect("tenants")
        .next()
        .expect("one organization")
        .expect("entry")
        .path();
    (dir, org)
}

#[tokio::test]
async fn a_healthy_data_dir_passes_with_every_check_listed() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _) = instance().await;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = doctor(dir.path(), &[]);
    let t = text(&out);
    // Others may read it: a warning with its fix.
    assert!(t.contains("WARN  data directory "), "{t}");
    assert!(t.contains("fix: chmod o-rwx "), "{t}");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let out = doctor(dir.path(), &[]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for line in [
        "ok    data directory ",
        "ok    free space: ",
        "ok    control database: integrity ok, schema version ",
        "ok    organization acme: integrity ok, schema version ",
        "ok    organization acme: search index matches its database",
        "ok    background jobs: none failing",
        "WARN  backups: no scheduled backups",
    ] {
        assert!(t.contains(line), "missing {line:?} in\n{t}");
    }
    assert!(!t.contains("FAIL"), "{t}");
}

#[tokio::test]
async fn a_corrupted_database_fails_with_a_restore_fix() {
    let (dir, org) = instance().await;
    let db = org.join("crm.db");
    // Overwrite pages after the header: the file still opens as SQLite.
    let mut bytes = std::fs::read(&db).expect("read");
    assert!(bytes.len() > 8192, "database too small to corrupt");
    for b in &mut bytes[4096..8192] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).expect("write");
    let out = doctor(dir.path(), &[]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("FAIL  organization acme:"))
        .unwrap_or_else(|| panic!("no failure for acme in\n{t}"));
    assert!(
        line.contains("integrity check failed") || line.contains("cannot be opened"),
        "{line}"
    );
    assert!(
        t.contains("fix: stop the server and restore from a backup"),
        "{t}"
    );
    // The other database is still reported healthy.
    assert!(t.contains("ok    control database: integrity ok"), "{t}");
}

#[tokio::test]
async fn a_deleted_index_is_reported_with_how_it_comes_back() {
    let (dir, org) = instance().await;
    std::fs::remove_dir_all(org.join("index")).expect("delete index");
    let out = doctor(dir.path(), &[]);
    let t = text(&out);
    // The server rebuilds it by itself: a warning, not a failure.
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("WARN  organization acme: search index missing"),
        "{t}"
    );
    assert!(t.contains("harmonia reindex --org acme"), "{t}");
}

/// Doctor passes with a warning that the organization's index will be rebuilt.
fn assert_reported_stale(dir: &std::path::Path) {
    let out = doctor(dir, &[]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("WARN  organization acme: search index was built for another generation of its database or by an older version"),
        "{t}"
    );
}

#[tokio::test]
async fn an_index_from_an_older_version_is_reported_stale() {
    let (dir, org) = instance().await;
    let index = org.join("index");
    std::fs::remove_dir_all(&index).expect("delete index");
    std::fs::create_dir_all(&index).expect("index dir");
    // Another schema, with the commit payload the database expects: only the
    // schema tells that the server will rebuild it.
    let epoch: String = rusqlite::Connection::open(org.join("crm.db"))
        .expect("open")
        .query_row("SELECT epoch FROM search_state", [], |r| r.get(0))
        .expect("epoch");
    let mut older = tantivy::schema::Schema::builder();
    older.add_text_field("key", tantivy::schema::STRING);
    let old = tantivy::Index::create_in_dir(&index, older.build()).expect("older index");
    let mut w: tantivy::IndexWriter = old.writer_with_num_threads(1, 15_000_000).expect("writer");
    let mut prepared = w.prepare_commit().expect("prepare");
    prepared.set_payload(&epoch);
    prepared.commit().expect("commit");
    drop(w);
    assert_reported_stale(dir.path());
}

/// An index with this schema but the stored-document blocks of builds
/// before 2 KB ones: the server rebuilds it, and doctor says so.
#[tokio::test]
async fn an_index_with_older_settings_is_reported_stale() {
    let (dir, org) = instance().await;
    let healthy = text(&doctor(dir.path(), &[]));
    assert!(!healthy.contains("search index was built"), "{healthy}");
    let meta_path = org.join("index").join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).expect("meta")).expect("json");
    meta["index_settings"]["docstore_blocksize"] = json!(16_384);
    std::fs::write(&meta_path, meta.to_string()).expect("older settings");
    assert_reported_stale(dir.path());
}

#[tokio::test]
async fn a_missing_backup_key_fails_when_backups_need_it() {
    let (dir, _) = instance().await;
    let backups = tempfile::tempdir().expect("dir");
    std::fs::write(
        backups.path().join("harmonia-20260101T020000Z.hbk"),
        b"an old backup",
    )
    .expect("backup file");
    let backup_dir = backups.path().to_str().expect("utf-8").to_string();
    let out = doctor(dir.path(), &["--backup-dir", &backup_dir]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("FAIL  backup key "), "{t}");
    assert!(t.contains("fix: put back your copy of the key"), "{t}");

    // With the key back (and a fresh backup), backups are fine.
    harmonia::backup::BackupKey::load(&dir.path().join("backup.key"), true).expect("key");
    let out = doctor(dir.path(), &["--backup-dir", &backup_dir]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("ok    backup key "), "{t}");
    assert!(t.contains("ok    backups: the newest"), "{t}");
}

/// `harmonia reindex` counts every searchable kind in its progress: with
/// more deals than contacts and companies it once showed more than 100 %
/// and panicked drawing the bar.
#[tokio::test]
async fn reindex_counts_every_kind_it_indexes() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    let (status, body) = owner
        .post("/api/v1/orgs/acme/contacts", json!({"first_name": "Ada"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for title in ["Renewal", "Expansion", "Pilot"] {
        let (status, body) = owner
            .post("/api/v1/orgs/acme/deals", json!({"title": title}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (dir, _) = app.stop().await;
    let out = Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("reindex")
        .env("HARMONIA_LOG", "warn")
        .output()
        .expect("run harmonia reindex");
    let (stdout, stderr) = (text(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("acme: 4 records indexed"), "{stdout}");
    assert!(stderr.contains("100% 4/4"), "{stderr}");
}
