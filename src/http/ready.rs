//! `/readyz`: whether this instance can do its work. Each check is named in
//! the JSON body; 503 names the failing ones (with a short reason, never a
//! secret: the answer needs no sign-in). `/healthz` only says the process answers.

use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn pass(name: &'static str) -> Check {
        Check {
            name,
            ok: true,
            detail: None,
        }
    }
    fn fail(name: &'static str, detail: String) -> Check {
        Check {
            name,
            ok: false,
            detail: Some(detail),
        }
    }
}

/// Bytes available to an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs writes into the struct we pass; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The data directory accepts a new file (it may be read-only, full, or not
/// ours any more): the control database and new organizations live there.
fn data_dir_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(".readyz-probe");
    let result = std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe));
    result.map_err(|e| format!("cannot write in the data directory: {}", e.kind()))
}

/// Every check, run off the async runtime (they touch the disk).
pub async fn checks(state: &AppState) -> Vec<Check> {
    let mut checks = Vec::new();
    let control = state
        .control
        .write(|c| {
            // A real write transaction: it fails when the file, its journal
            // or the disk refuse writes.
            c.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS readyz_probe (x); DELETE FROM readyz_probe;",
            )?;
            Ok(())
        })
        .await;
    checks.push(match control {
        Ok(()) => Check::pass("control_db"),
        Err(e) => {
            tracing::error!(error = %e, "readiness: the control database refuses writes");
            Check::fail(
                "control_db",
                "the control database does not accept writes".into(),
            )
        }
    });
    let config = state.config.clone();
    let disk = tokio::task::spawn_blocking(move || {
        let dir = data_dir_writable(&config.data_dir);
        let free = free_bytes(&config.data_dir);
        let key = config.backup.backup_dir.as_ref().map(|_| {
            let file = config.backup.key_file(&config.data_dir);
            std::fs::metadata(&file)
                .map(|m| m.is_file() && m.len() > 0)
                .unwrap_or(false)
        });
        (dir, free, config.min_free_bytes, key)
    })
    .await;
    match disk {
        Ok((dir, free, min, key)) => {
            checks.push(match dir {
                Ok(()) => Check::pass("data_dir_writable"),
                Err(e) => Check::fail("data_dir_writable", e),
            });
            checks.push(match free {
                Ok(free) if free >= min => Check::pass("free_space"),
                Ok(free) => Check::fail(
                    "free_space",
                    format!(
                        "{} MiB free in the data directory, below the {} MiB minimum (--min-free-space-mb)",
                        free >> 20,
                        min >> 20
                    ),
                ),
                Err(e) => Check::fail("free_space", format!("cannot read free space: {}", e.kind())),
            });
            match key {
                None => {}
                Some(true) => checks.push(Check::pass("backup_key")),
                Some(false) => checks.push(Check::fail(
                    "backup_key",
                    "scheduled backups are on but the backup key file is missing".into(),
                )),
            }
        }
        Err(_) => checks.push(Check::fail(
            "data_dir_writable",
            "the check did not finish".into(),
        )),
    }
    // The master key was loaded and checked at start-up; it must still be
    // in its file, or the next start would refuse.
    let st = state.clone();
    let key_present = tokio::task::spawn_blocking(move || st.vault.key_file_present())
        .await
        .unwrap_or(false);
    checks.push(if key_present {
        Check::pass("master_key")
    } else {
        Check::fail(
            "master_key",
            "the vault's master key file is missing or changed since start-up: restore it before the next restart".into(),
        )
    });
    checks.push(match crate::jobs::routes::failing_jobs(state).await {
        Ok(None) => Check::pass("jobs"),
        Ok(Some(detail)) => Check::fail("jobs", detail),
        Err(_) => Check::fail("jobs", "the job list cannot be read".into()),
    });
    checks
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let checks = checks(&state).await;
    let failing: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if failing.is_empty() { "ok" } else { "unavailable" },
        "failing": failing,
        "checks": checks,
    });
    (status, axum::Json(body)).into_response()
}
