//! A full disk: the data directory on a small tmpfs, filled to the last
//! byte. Writes answer 507 with the error shape and change nothing, reads
//! keep working, nothing is corrupted, and once space is freed writes work
//! again without a restart. Mounting needs root, which CI has; elsewhere set
//! HARMONIA_SKIP_ROOT_TESTS=1 to skip it knowingly.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use harmonia::config::Config;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// A tmpfs of `mib` MiB, unmounted when dropped.
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    fn mount(mib: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            assert!(
                std::env::var_os("HARMONIA_SKIP_ROOT_TESTS").is_some(),
                "mounting a tmpfs failed: run the tests as root, or set HARMONIA_SKIP_ROOT_TESTS=1 to skip this one"
            );
            return None;
        }
        Some(Tmpfs(dir.path().to_path_buf(), dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` until it refuses another byte.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let block = vec![0x5a_u8; 64 * 1024];
    loop {
        if f.write_all(&block).and_then(|_| f.flush()).is_err() {
            break;
        }
    }
    // Small writes too, so not even a page is left.
    while f.write_all(&[0x5a]).and_then(|_| f.flush()).is_ok() {}
    path
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let Some(fs) = Tmpfs::mount(12) else { return };
    let dir = tempfile::tempdir_in(&fs.0).expect("data dir");
    let config = Config::for_data_dir(dir.path().to_path_buf());
    let app = start(dir, config).await;
    let owner = app.setup_owner().await;
    let (status, body) = owner
        .post(
            "/api/v1/orgs/acme/fields",
            json!({"kind": "contact", "key": "bio", "label": "Bio", "type": "long_text"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, ada) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Ada"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ada_id = ada["id"].as_str().expect("id").to_string();

    let filler = fill(&fs.0);
    // Space the WAL already holds may take a few writes; then the disk is full.
    let mut saved = vec![ada_id.clone()];
    let mut refused = 0;
    for i in 0..400 {
        let (status, body) = owner
            .post(
                "/api/v1/orgs/acme/contacts",
                json!({"first_name": format!("Full{i}"), "last_name": "Disk",
                       "custom": {"bio": "x".repeat(4000)}}),
            )
            .await;
        match status {
            StatusCode::CREATED => saved.push(body["id"].as_str().expect("id").to_string()),
            StatusCode::INSUFFICIENT_STORAGE => {
                assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
                refused += 1;
                if refused >= 5 {
                    break;
                }
            }
            other => panic!("a write on a full disk answered {other}: {body}"),
        }
    }
    assert!(refused >= 5, "the disk never filled up");
    // A refused PATCH changes nothing either.
    let (status, _) = owner
        .patch(
            &format!("/api/v1/orgs/acme/contacts/{ada_id}"),
            json!({"job_title": "Countess", "custom": {"bio": "y".repeat(8000)}}),
        )
        .await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);

    // Reads go on.
    let (status, got) = owner
        .get(&format!("/api/v1/orgs/acme/contacts/{ada_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        got["job_title"], ada["job_title"],
        "the refused PATCH left nothing"
    );
    let (status, _) = owner.get("/api/v1/orgs/acme/contacts?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(contact_count(&owner, "acme").await, saved.len() as i64);

    // Space again: writes work at once, and every acknowledged write is there.
    std::fs::remove_file(&filler).expect("free space");
    let (status, body) = owner
        .post("/api/v1/orgs/acme/contacts", sample_contact("Grace"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    saved.push(body["id"].as_str().expect("id").to_string());
    for id in &saved {
        let (status, _) = owner.get(&format!("/api/v1/orgs/acme/contacts/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id}");
    }
    // The search index catches up with every saved contact.
    let start = std::time::Instant::now();
    loop {
        let (_, found) = owner.get("/api/v1/orgs/acme/search?q=disk&limit=50").await;
        let n = found["items"].as_array().map(Vec::len).unwrap_or(0);
        if n == saved.len() - 2 {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "search found {n} of {}",
            saved.len() - 2
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let org_dir = app.only_org_dir();
    for db in [app.dir.path().join("harmonia.db"), org_dir.join("crm.db")] {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let verdict: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(verdict, "ok", "{}", db.display());
    }
    drop(app);
    drop(fs);
}
