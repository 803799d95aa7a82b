//! One-time password reset links: made by an owner or admin for a member
//! (or by `harmonia reset-password` on the server), valid one hour, used
//! once. Using one sets the password and ends every session of the account.

use rusqlite::{Connection, OptionalExtension, params};

use crate::auth::tokens;
use crate::clock;
use crate::config::Config;
use crate::error::{AppError, AppResult};

pub const LIFETIME: time::Duration = time::Duration::hours(1);

pub struct Link {
    pub url: String,
    pub expires_at: String,
}

/// A new link for `user_id`; any earlier unused link of theirs stops working.
/// `created_by` is a user id, or `cli` for the command line.
pub fn create(
    conn: &Connection,
    user_id: &str,
    created_by: &str,
    config: &Config,
) -> AppResult<Link> {
    let has_password: Option<bool> = conn
        .query_row(
            "SELECT password_hash IS NOT NULL FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    match has_password {
        None => return Err(AppError::NotFound),
        Some(false) => {
            return Err(AppError::Conflict(
                "this person has not accepted their invitation yet; send the invitation again instead".into(),
            ));
        }
        Some(true) => {}
    }
    conn.execute(
        "DELETE FROM password_resets WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
    )?;
    let token = tokens::random_token();
    let expires_at = clock::stamp_in(LIFETIME);
    conn.execute(
        "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            tokens::sha256(&token),
            user_id,
            created_by,
            clock::now_stamp(),
            expires_at
        ],
    )?;
    Ok(Link {
        url: config.link(&format!("/reset-password?token={token}")),
        expires_at,
    })
}

/// The account a live link is for: (user id, email).
pub fn pending(conn: &Connection, token: &str) -> AppResult<Option<(String, String, String)>> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.email, r.expires_at FROM password_resets r JOIN users u ON u.id = r.user_id
             WHERE r.token_hash = ?1 AND r.used_at IS NULL AND r.expires_at > ?2",
            params![tokens::sha256(token), clock::now_stamp()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// Uses the link up: the user id, for the one caller that does.
pub fn consume(conn: &Connection, token: &str) -> AppResult<Option<String>> {
    let Some((user_id, _, _)) = pending(conn, token)? else {
        return Ok(None);
    };
    let used = conn.execute(
        "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
        params![tokens::sha256(token), clock::now_stamp()],
    )?;
    Ok((used == 1).then_some(user_id))
}

/// Forgets links that can no longer be used.
pub fn purge_old(conn: &Connection) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM password_resets WHERE expires_at <= ?1",
        [clock::now_stamp()],
    )?)
}
