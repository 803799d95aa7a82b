//! Browser sessions: a random token in an HttpOnly cookie, its SHA-256 in the
//! control database, an idle and an absolute expiry.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum_extra::extract::cookie::{Cookie, SameSite};
use rusqlite::{Connection, OptionalExtension, params};

use crate::auth::tokens;
use crate::auth::users::{self, User};
use crate::clock;
use crate::config::Config;
use crate::error::AppResult;

pub const COOKIE_NAME: &str = "harmonia_session";
pub const DEVICE_COOKIE: &str = "harmonia_device";

/// Creates a session for `user_id` and returns its secret token.
pub fn create(conn: &Connection, user_id: &str, config: &Config) -> AppResult<String> {
    let token = tokens::random_token();
    let now = clock::now_stamp();
    let absolute = time::Duration::try_from(config.session_absolute).unwrap_or(time::Duration::DAY);
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        params![
            tokens::sha256(&token),
            user_id,
            now,
            clock::stamp_in(absolute)
        ],
    )?;
    Ok(token)
}

pub struct Found {
    pub user: User,
    pub last_seen_at: String,
}

/// The live session behind a token, if any (expired ones count as absent).
pub fn find(conn: &Connection, token: &str, config: &Config) -> AppResult<Option<Found>> {
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::DAY);
    let now = clock::now();
    let idle_cutoff = clock::stamp(now - idle);
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {}, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.last_seen_at > ?3",
            users::COLUMNS
        ))?
        .query_row(
            params![tokens::sha256(token), clock::stamp(now), idle_cutoff],
            |r| {
                Ok(Found {
                    user: users::from_row(r, 0)?,
                    last_seen_at: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub fn touch(conn: &Connection, token_hash: &[u8]) -> AppResult<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
        params![token_hash, clock::now_stamp()],
    )?;
    Ok(())
}

pub fn revoke(conn: &Connection, token: &str) -> AppResult<()> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = ?1",
        [tokens::sha256(token)],
    )?;
    Ok(())
}

/// Ends every session of a user except `keep` (a token), if given.
pub fn revoke_all(conn: &Connection, user_id: &str, keep: Option<&str>) -> AppResult<usize> {
    let keep_hash = keep.map(tokens::sha256).unwrap_or_default();
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2",
        params![user_id, keep_hash],
    )?)
}

pub fn purge_expired(conn: &Connection, config: &Config) -> AppResult<usize> {
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::DAY);
    let now = clock::now();
    Ok(conn.execute(
        "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
        params![clock::stamp(now), clock::stamp(now - idle)],
    )?)
}

/// Remembers a browser that signed in successfully; returns its cookie token.
pub fn remember_device(conn: &Connection, user_id: &str) -> AppResult<String> {
    let token = tokens::random_token();
    conn.execute(
        "INSERT INTO known_devices (token_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
        params![tokens::sha256(&token), user_id, clock::now_stamp()],
    )?;
    Ok(token)
}

pub fn is_known_device(conn: &Connection, user_id: &str, token: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM known_devices WHERE token_hash = ?1 AND user_id = ?2)",
        )?
        .query_row(params![tokens::sha256(token), user_id], |r| r.get(0))?)
}

/// How long a device cookie lives (and so its row matters).
pub const DEVICE_LIFETIME: time::Duration = time::Duration::days(365);

/// Forgets devices whose cookie has expired: each sign-in adds one, so the
/// table would otherwise grow for ever.
pub fn purge_expired_devices(conn: &Connection) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM known_devices WHERE created_at <= ?1",
        [clock::stamp(clock::now() - DEVICE_LIFETIME)],
    )?)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| Cookie::parse(c.trim().to_string()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

pub fn session_cookie(token: String, config: &Config) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .build()
}

pub fn device_cookie(token: String, config: &Config) -> Cookie<'static> {
    Cookie::build((DEVICE_COOKIE, token))
        .path("/api/v1/auth")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(config.secure_cookies())
        .max_age(DEVICE_LIFETIME)
        .build()
}

pub fn clear_session_cookie(config: &Config) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .max_age(time::Duration::ZERO)
        .build()
}
