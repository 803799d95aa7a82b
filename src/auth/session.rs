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

/// Where a request comes from, as the sessions list and the sign-in
/// activity show it.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

/// The longest user agent kept: enough for any real browser's.
const MAX_USER_AGENT: usize = 512;

impl Client {
    pub fn new(ip: std::net::IpAddr, user_agent: &str) -> Client {
        Client {
            ip: ip.to_string(),
            user_agent: user_agent.chars().take(MAX_USER_AGENT).collect(),
        }
    }
}

/// Creates a session for `user_id` and returns its secret token.
pub fn create(
    conn: &Connection,
    user_id: &str,
    config: &Config,
    from: &Client,
) -> AppResult<String> {
    let token = tokens::random_token();
    let now = clock::now_stamp();
    let absolute = time::Duration::try_from(config.session_absolute).unwrap_or(time::Duration::DAY);
    conn.execute(
        "INSERT INTO sessions (token_hash, id, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
        params![
            tokens::sha256(&token),
            clock::new_id(),
            user_id,
            now,
            clock::stamp_in(absolute),
            from.ip,
            from.user_agent
        ],
    )?;
    Ok(token)
}

/// One of a user's live sessions, as the account page lists them.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: String,
    /// "Firefox 133", "Chrome 131", … read from the user agent ("Unknown browser" if unreadable).
    pub browser: String,
    /// "Windows", "macOS", "Linux", "Android", "iOS", … ("Unknown system").
    pub os: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// The session making this request.
    pub current: bool,
}

/// The user's live sessions, most recently used first.
pub fn list(
    conn: &Connection,
    user_id: &str,
    current_token: &str,
    config: &Config,
) -> AppResult<Vec<SessionInfo>> {
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::DAY);
    let now = clock::now();
    let mut stmt = conn.prepare(
        "SELECT id, ip, user_agent, created_at, last_seen_at, token_hash = ?2 FROM sessions
         WHERE user_id = ?1 AND expires_at > ?3 AND last_seen_at > ?4
         ORDER BY last_seen_at DESC, id",
    )?;
    let rows = stmt
        .query_map(
            params![
                user_id,
                tokens::sha256(current_token),
                clock::stamp(now),
                clock::stamp(now - idle)
            ],
            |r| {
                let user_agent: String = r.get(2)?;
                let (browser, os) = crate::auth::user_agent::describe(&user_agent);
                Ok(SessionInfo {
                    id: r.get(0)?,
                    browser,
                    os,
                    user_agent,
                    ip: r.get(1)?,
                    created_at: r.get(3)?,
                    last_seen_at: r.get(4)?,
                    current: r.get(5)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Ends one of the user's sessions by its id; false when the user has no such session.
pub fn revoke_by_id(conn: &Connection, user_id: &str, id: &str) -> AppResult<bool> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id = ?2",
        params![user_id, id],
    )? > 0)
}

pub struct Found {
    pub user: User,
    pub last_seen_at: String,
    pub expires_at: String,
}

/// The stamps a live session's must be past now: its expiry must be after
/// `now`, its last use after `idle_cutoff`.
struct Cutoffs {
    now: String,
    idle_cutoff: String,
}

impl Cutoffs {
    fn now(config: &Config) -> Cutoffs {
        let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::DAY);
        let now = clock::now();
        Cutoffs {
            now: clock::stamp(now),
            idle_cutoff: clock::stamp(now - idle),
        }
    }
}

/// The live session behind a token, if any (expired ones count as absent).
pub fn find(conn: &Connection, token: &str, config: &Config) -> AppResult<Option<Found>> {
    let cut = Cutoffs::now(config);
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {}, s.last_seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND s.last_seen_at > ?3",
            users::COLUMNS
        ))?
        .query_row(params![tokens::sha256(token), cut.now, cut.idle_cutoff], |r| {
            Ok(Found {
                user: users::from_row(r, 0)?,
                last_seen_at: r.get(users::WIDTH)?,
                expires_at: r.get(users::WIDTH + 1)?,
            })
        })
        .optional()?)
}

/// Whether a session `find` found earlier is still live now: the same
/// test, on the stamps it read (for callers that keep what it found).
pub fn still_live(expires_at: &str, last_seen_at: &str, config: &Config) -> bool {
    let cut = Cutoffs::now(config);
    expires_at > cut.now.as_str() && last_seen_at > cut.idle_cutoff.as_str()
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
