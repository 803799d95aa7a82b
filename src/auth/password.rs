//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! always on the blocking pool because one hash takes tens of milliseconds,
//! and never more at once than there are cores: a flood of sign-in or invite
//! requests waits in line instead of taking 19 MiB and a thread each.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{AppError, AppResult};

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

/// Verified against when the email is unknown, so that a wrong email costs the
/// same time as a wrong password and the answer reveals nothing.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("harmonia dummy password").unwrap_or_else(|_| String::new()));

static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    Arc::new(Semaphore::new(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    ))
});

pub fn check_strength(field: &str, password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(AppError::field(
            field,
            format!("use at least {MIN_LENGTH} characters"),
        ));
    }
    if chars > MAX_LENGTH {
        return Err(AppError::field(
            field,
            format!("use at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing password: {e}")))
}

fn verify_blocking(password: &str, hash: Option<&str>) -> bool {
    let stored = hash.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && hash.is_some()
}

pub async fn hash(password: String) -> AppResult<String> {
    // The permit travels with the work: a cancelled request does not free it
    // while the hash is still running.
    let turn = (*HASHING)
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hash queue: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        hash_blocking(&password)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("hash task: {e}")))?
}

/// True when `password` matches `hash`; with no hash (unknown user) it still
/// spends the time of one verification and answers false.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    let Ok(turn) = (*HASHING).clone().acquire_owned().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        verify_blocking(&password, hash.as_deref())
    })
    .await
    .unwrap_or(false)
}

/// For the CLI, which is not inside the async runtime.
pub fn hash_now(password: &str) -> AppResult<String> {
    hash_blocking(password)
}

/// Warm the dummy hash at start-up so the first failed login is not faster.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash_blocking("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse battery", Some(&h)));
        assert!(!verify_blocking("wrong horse battery", Some(&h)));
        assert!(!verify_blocking("harmonia dummy password", None));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("password", "123456789").is_err());
        assert!(check_strength("password", "1234567890").is_ok());
    }
}
