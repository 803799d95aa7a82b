//! Backups through the real binary: made while the server writes, verified,
//! restored into an empty directory with every row equal; damage and a wrong
//! key refused clearly; one organization restored under a new slug.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn harmonia(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("HARMONIA_LOG", "warn")
        .env_remove("HARMONIA_BACKUP_KEY_FILE")
        .output()
        .expect("run harmonia")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Every row of every table, as text, sorted per table.
fn dump(db: &Path) -> BTreeMap<String, Vec<String>> {
    let c = rusqlite::Connection::open(db).expect("open");
    let mut stmt = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .expect("tables");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("names");
    let mut out = BTreeMap::new();
    for t in tables {
        let mut stmt = c
            .prepare(&format!("SELECT * FROM \"{t}\""))
            .expect("select");
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| format!("{v:?}"))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values");
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// The databases of a data directory, by their path inside it.
fn databases(data_dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut dbs = BTreeMap::new();
    dbs.insert("harmonia.db".to_string(), data_dir.join("harmonia.db"));
    for e in std::fs::read_dir(data_dir.join("tenants")).expect("tenants") {
        let e = e.expect("entry");
        let db = e.path().join("crm.db");
        if db.exists() {
            dbs.insert(
                format!("tenants/{}/crm.db", e.file_name().to_string_lossy()),
                db,
            );
        }
    }
    dbs
}

#[tokio::test]
async fn a_backup_made_during_writes_verifies_and_restores_every_row() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for i in 0..20 {
        let (status, body) = owner
            .post(
                "/api/v1/orgs/acme/contacts",
                sample_contact(&format!("Ada{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _) = owner
        .post("/api/v1/orgs/acme/companies", json!({"name": "Globex"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let data = app.dir.path().to_path_buf();
    let work = tempfile::tempdir().expect("work");

    // Writes go on while the real binary backs up.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (owner, stop) = (owner.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let (status, _) = owner
                    .post(
                        "/api/v1/orgs/acme/contacts",
                        sample_contact(&format!("Bo{n}")),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED);
                n += 1;
            }
            n
        })
    };
    let during = work.path().join("during.hbk");
    let out = {
        let (data, during) = (data.clone(), during.clone());
        tokio::task::spawn_blocking(move || harmonia(&data, &["backup", "--out", s(&during)]))
            .await
            .expect("backup")
    };
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.expect("writer");
    assert!(ok(&out).contains("instance backup of 1 organization"));
    assert!(written > 0, "writes went on during the backup");
    assert!(data.join("backup.key").exists(), "the key was created");

    let verified = ok(&harmonia(&data, &["backup", "verify", s(&during)]));
    assert!(verified.starts_with("OK"), "{verified}");
    let restored = work.path().join("restored-during");
    let key = data.join("backup.key");
    ok(&harmonia(
        &restored,
        &["restore", s(&during), "--backup-key-file", s(&key)],
    ));
    // A consistent moment: every contact restored is exactly as in the live
    // database, and the 20 written before the backup are all there.
    let live = databases(&data);
    let back = databases(&restored);
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        back.keys().collect::<Vec<_>>()
    );
    for (name, path) in &back {
        let (restored_rows, live_rows) = (dump(path), dump(&live[name]));
        for table in ["contacts", "companies", "users", "orgs"] {
            if let Some(rows) = restored_rows.get(table) {
                for row in rows {
                    assert!(live_rows[table].contains(row), "{name}/{table}: {row}");
                }
            }
        }
        if let Some(contacts) = restored_rows.get("contacts") {
            assert!(contacts.len() >= 20, "{}", contacts.len());
        }
    }

    // Once the server stops, a backup restores to exactly the same rows.
    let (dir, _config) = app.stop().await;
    let data = dir.path().to_path_buf();
    // Organizations' files (attachments) travel too, byte for byte.
    let org_dir = std::fs::read_dir(data.join("tenants"))
        .expect("tenants")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("crm.db").exists())
        .expect("org dir");
    let attachment = org_dir.join("files").join("ab").join("cdef0123");
    std::fs::create_dir_all(attachment.parent().expect("parent")).expect("mkdir");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&attachment, &content).expect("file");
    let quiet = work.path().join("quiet.hbk");
    ok(&harmonia(&data, &["backup", "--out", s(&quiet)]));
    let restored = work.path().join("restored-quiet");
    ok(&harmonia(
        &restored,
        &["restore", s(&quiet), "--backup-key-file", s(&key)],
    ));
    let (live, back) = (databases(&data), databases(&restored));
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        back.keys().collect::<Vec<_>>()
    );
    for (name, path) in &live {
        let mut original = dump(path);
        let mut copy = dump(&back[name]);
        assert!(original.contains_key("contacts") || name == "harmonia.db");
        if name == "harmonia.db" {
            // The platform's audit log notes the backup (in the live data,
            // after the snapshot) and the restore (in the copy): equal up to
            // those last entries.
            let last =
                |d: &mut BTreeMap<String, Vec<String>>| d.get_mut("audit_log").and_then(Vec::pop);
            let made = last(&mut original).expect("backup entry");
            let restore = last(&mut copy).expect("restore entry");
            assert!(made.contains("backup.created"), "{made}");
            assert!(restore.contains("backup.restored"), "{restore}");
        }
        assert_eq!(original, copy, "{name}");
    }
    let rel = attachment.strip_prefix(&data).expect("inside");
    assert_eq!(
        std::fs::read(restored.join(rel)).expect("restored file"),
        content
    );
    let org_rel = org_dir.strip_prefix(&data).expect("inside");
    assert!(org_dir.join("index").exists());
    assert!(
        !restored.join(org_rel).join("index").exists(),
        "the search index is rebuilt, not copied"
    );
    assert!(
        !restored.join("backup.key").exists(),
        "the key is never inside a backup"
    );
}

#[tokio::test]
async fn damage_and_a_wrong_key_are_refused_clearly() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    let data = app.dir.path().to_path_buf();
    let work = tempfile::tempdir().expect("work");
    let good = work.path().join("good.hbk");
    ok(&harmonia(&data, &["backup", "--out", s(&good)]));

    let mut bytes = std::fs::read(&good).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let bad = work.path().join("bad.hbk");
    std::fs::write(&bad, &bytes).expect("write");
    let err = failed(&harmonia(&data, &["backup", "verify", s(&bad)]));
    assert!(err.contains("damaged or was altered"), "{err}");
    let target = work.path().join("target");
    let key = data.join("backup.key");
    let err = failed(&harmonia(
        &target,
        &["restore", s(&bad), "--backup-key-file", s(&key)],
    ));
    assert!(err.contains("damaged or was altered"), "{err}");
    assert!(err.contains("nothing was restored"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&target)
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");

    // Cut short: the end is missing.
    let cut = work.path().join("cut.hbk");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).expect("write");
    let err = failed(&harmonia(
        &data,
        &["backup", "verify", s(&good.with_file_name("cut.hbk"))],
    ));
    assert!(
        err.contains("damaged") || err.contains("truncated"),
        "{err}"
    );

    let other_key = work.path().join("other.key");
    ok(&harmonia(
        &data,
        &[
            "backup",
            "--out",
            s(&work.path().join("x.hbk")),
            "--backup-key-file",
            s(&other_key),
        ],
    ));
    let err = failed(&harmonia(
        &data,
        &[
            "backup",
            "verify",
            s(&good),
            "--backup-key-file",
            s(&other_key),
        ],
    ));
    assert!(err.contains("made with another backup key"), "{err}");
    let err = failed(&harmonia(
        &target,
        &["restore", s(&good), "--backup-key-file", s(&other_key)],
    ));
    assert!(err.contains("made with another backup key"), "{err}");
    let err = failed(&harmonia(&target, &["restore", s(&good)]));
    assert!(err.contains("no backup key at"), "{err}");
    // A whole instance goes only into an empty directory.
    let err = failed(&harmonia(
        &data,
        &["restore", s(&good), "--backup-key-file", s(&key)],
    ));
    assert!(err.contains("is not empty"), "{err}");
}

#[tokio::test]
async fn one_organization_restores_under_a_new_slug() {
    let app = spawn_app().await;
    let owner = app.setup_owner().await;
    for name in ["Ada", "Grace", "Linus"] {
        owner
            .post("/api/v1/orgs/acme/contacts", sample_contact(name))
            .await;
    }
    let data = app.dir.path().to_path_buf();
    let file = data.with_file_name(format!(
        "{}-acme.hbk",
        data.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    ok(&harmonia(
        &data,
        &["backup", "--out", s(&file), "--org", "acme"],
    ));
    let verified = ok(&harmonia(&data, &["backup", "verify", s(&file)]));
    assert!(
        verified.contains("org backup of 1 organization"),
        "{verified}"
    );
    let (dir, config) = app.stop().await;

    let err = failed(&harmonia(
        dir.path(),
        &["restore", s(&file), "--org", "acme", "--as", "Bad Slug"],
    ));
    assert!(err.contains("not a valid slug"), "{err}");
    let out = ok(&harmonia(
        dir.path(),
        &["restore", s(&file), "--org", "acme", "--as", "acme-copy"],
    ));
    assert!(out.contains("with 1 member(s)"), "{out}");
    let _ = std::fs::remove_file(&file);

    let app = start(dir, config).await;
    let owner = app.login("owner@example.com", PASSWORD).await;
    assert_eq!(contact_count(&owner, "acme-copy").await, 3);
    assert_eq!(contact_count(&owner, "acme").await, 3);
    let (status, body) = owner.get("/api/v1/orgs/acme-copy/search?q=grace").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The daily backup is a job: it runs at its time of day, writes a backup
/// that verifies, and deletes scheduled backups past their retention.
#[tokio::test]
async fn the_daily_backup_runs_at_its_time_and_prunes_old_ones() {
    let backups = tempfile::tempdir().expect("backups");
    let dir = backups.path().to_path_buf();
    let app = spawn_app_with(|c| {
        c.backup.backup_dir = Some(dir.clone());
        c.backup.backup_at = "03:00".into();
        c.backup.backup_time_zone = "Europe/Paris".into();
        c.backup.backup_keep_days = 30;
    })
    .await;
    app.setup_owner().await;
    let old = backups.path().join("harmonia-20260101T020000Z.hbk");
    std::fs::write(&old, b"old").expect("old");
    let clock = Arc::new(harmonia::clock::TestClock::at(time::macros::datetime!(
        2026-03-01 01:59 UTC
    )));
    let runner = harmonia::housekeeping::runner(&app.state, clock.clone(), |b| b).expect("runner");
    runner.run_due().await;
    let files = || {
        let mut v: Vec<String> = std::fs::read_dir(backups.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(), vec!["harmonia-20260101T020000Z.hbk"]);
    clock.set(time::macros::datetime!(2026-03-01 02:00 UTC)); // 03:00 in Paris
    runner.run_due().await;
    assert_eq!(files(), vec!["harmonia-20260301T020000Z.hbk"]);
    let made = backups.path().join("harmonia-20260301T020000Z.hbk");
    let verified = ok(&harmonia(app.dir.path(), &["backup", "verify", s(&made)]));
    assert!(verified.starts_with("OK"), "{verified}");
    let resp = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("readyz");
    assert_eq!(resp.status(), StatusCode::OK);
}
