//! The secrets vault's master key: a server without it, or with another
//! one, refuses to start with a clear message; `harmonia rotate-key`
//! re-encrypts every secret and can be re-run after an interruption.

use std::path::Path;
use std::process::Command;

use harmonia::Config;

fn harmonia(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harmonia"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HARMONIA_LOG", "warn")
        .env_remove("HARMONIA_MASTER_KEY_FILE")
        .output()
        .expect("run harmonia")
}

/// A data directory holding two secrets of two organizations.
fn with_secrets(data: &Path) -> Vec<(String, String, String, String)> {
    let state = harmonia::open_state(Config::for_data_dir(data.to_path_buf())).expect("state");
    let wanted = [
        ("org-a", "webhook:1", "whsec_first-secret-value"),
        ("org-b", "webhook:2", "whsec_second-secret-value"),
    ];
    let mut out = Vec::new();
    for (org, purpose, plain) in wanted {
        let st = state.clone();
        let id = state
            .control
            .write_blocking(move |tx| st.vault.put(tx, org, purpose, plain))
            .expect("put");
        out.push((id, org.into(), purpose.into(), plain.into()));
    }
    out
}

fn reveal_all(data: &Path, secrets: &[(String, String, String, String)]) {
    let state = harmonia::open_state(Config::for_data_dir(data.to_path_buf())).expect("opens");
    for (id, org, purpose, plain) in secrets {
        let st = state.clone();
        let (id, org, purpose) = (id.clone(), org.clone(), purpose.clone());
        let got = state
            .control
            .read_blocking(move |c| st.vault.reveal(c, &id, &org, &purpose))
            .expect("reveal");
        assert_eq!(got.as_str(), plain);
    }
}

fn serve_fails(data: &Path) -> String {
    let out = harmonia(data, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success(), "the server must refuse to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_or_wrong_master_key_stops_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let secrets = with_secrets(&data);
    let key = data.join("master.key");
    let right = std::fs::read(&key).expect("key was created");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let doctor = harmonia(&data, &["doctor", "--min-free-space-mb", "0"]);
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert!(said.contains("opens all 2 secret(s)"), "{said}");

    std::fs::remove_file(&key).expect("remove");
    let err = serve_fails(&data);
    assert!(
        err.contains("master key") && err.contains("is missing"),
        "{err}"
    );
    assert!(
        !key.exists(),
        "no new key is made while secrets need the old one"
    );
    let doctor = harmonia(&data, &["doctor", "--min-free-space-mb", "0"]);
    assert!(!doctor.status.success());
    assert!(String::from_utf8_lossy(&doctor.stdout).contains("is missing"));

    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).expect("wrong key");
    let err = serve_fails(&data);
    assert!(
        err.contains("is not the key the secrets were encrypted with"),
        "{err}"
    );

    std::fs::write(&key, "not a key").expect("garbage");
    let err = serve_fails(&data);
    assert!(err.contains("is not a master key"), "{err}");

    std::fs::write(&key, &right).expect("restore");
    reveal_all(&data, &secrets);
}

#[test]
fn rotate_key_reencrypts_everything_and_survives_an_interruption() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let secrets = with_secrets(&data);
    let key = data.join("master.key");
    let first = std::fs::read(&key).expect("key");

    let new = dir.path().join("new.key");
    let out = harmonia(
        &data,
        &["rotate-key", "--new-key-file", new.to_str().expect("path")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Re-encrypted 2 secret(s)"), "{said}");
    assert_eq!(
        std::fs::read(&key).expect("key"),
        std::fs::read(&new).expect("new")
    );
    assert_ne!(std::fs::read(&key).expect("key"), first);
    reveal_all(&data, &secrets);
    // The old key opens nothing any more.
    let second = std::fs::read(&key).expect("key");
    std::fs::write(&key, &first).expect("old key back");
    let err = serve_fails(&data);
    assert!(err.contains("rotate-key"), "{err}");

    // An interrupted rotation: the secrets moved to the third key but the
    // key file still holds the second (the final rename never happened).
    std::fs::write(&key, &second).expect("second");
    let third = dir.path().join("third.key");
    let out = harmonia(
        &data,
        &[
            "rotate-key",
            "--new-key-file",
            third.to_str().expect("path"),
        ],
    );
    assert!(out.status.success());
    std::fs::write(&key, &second).expect("as if interrupted");
    let err = serve_fails(&data);
    assert!(err.contains("run it again"), "{err}");
    let out = harmonia(
        &data,
        &[
            "rotate-key",
            "--new-key-file",
            third.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Re-encrypted 0 secret(s) (2 already under the new key)"),
        "{said}"
    );
    reveal_all(&data, &secrets);
}

/// The key file deleted (or replaced) under a running server: /readyz
/// fails its master_key check, since the next start would refuse.
#[tokio::test]
async fn readyz_fails_when_the_key_file_goes_away() {
    use crate::helpers::spawn_app;
    let app = spawn_app().await;
    let check = |body: &serde_json::Value| {
        body["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == "master_key"))
            .cloned()
            .unwrap_or_default()
    };
    let (status, body) = app.anon().send(reqwest::Method::GET, "/readyz", None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(check(&body).is_object(), "{body}");
    let key = app.dir.path().join("master.key");
    let saved = std::fs::read(&key).expect("key");
    std::fs::remove_file(&key).expect("remove");
    let (status, body) = app.anon().send(reqwest::Method::GET, "/readyz", None).await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.to_string().contains("master key"), "{body}");
    std::fs::write(&key, format!("{}\n", "cd".repeat(32))).expect("another key");
    let (status, _) = app.anon().send(reqwest::Method::GET, "/readyz", None).await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    std::fs::write(&key, saved).expect("back");
    let (status, _) = app.anon().send(reqwest::Method::GET, "/readyz", None).await;
    assert_eq!(status, reqwest::StatusCode::OK);
}
