//! Passkeys (WebAuthn, through webauthn-rs) below the routes: the relying
//! party built from `--public-url`, the stored credentials, and the
//! ceremonies in progress (the server's half of a registration or sign-in,
//! kept 5 minutes and finished once).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use webauthn_rs::prelude::{Passkey, Url, Webauthn, WebauthnBuilder};

use crate::clock;
use crate::config::Config;
use crate::error::{AppError, AppResult};

pub const CEREMONY_LIFETIME: time::Duration = time::Duration::minutes(5);
/// Sign-ins with a passkey start without an account; this bounds the
/// ceremonies anyone can leave open at once.
pub const MAX_OPEN_CEREMONIES: i64 = 10_000;
pub const MAX_PER_USER: usize = 20;

/// The relying party: its id is the host of `--public-url` and its origin
/// that URL's, so passkeys belong to the address people use.
pub fn relying_party(config: &Config) -> AppResult<Webauthn> {
    let url: &Url = &config.public_url;
    let unavailable = || {
        AppError::Unavailable(
            "passkeys need the server's --public-url to name it by a domain name".into(),
        )
    };
    // Browsers refuse IP addresses as relying party ids.
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(unavailable());
    };
    WebauthnBuilder::new(host, url)
        .and_then(|b| b.rp_name("Harmonia").build())
        .map_err(|_| unavailable())
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

fn info(r: &rusqlite::Row) -> rusqlite::Result<PasskeyInfo> {
    Ok(PasskeyInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        last_used_at: r.get(3)?,
    })
}

pub fn list(conn: &Connection, user_id: &str) -> AppResult<Vec<PasskeyInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([user_id], info)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn parse(json: &str) -> AppResult<Passkey> {
    serde_json::from_str(json)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored passkey: {e}")))
}

/// The user's credentials, for a sign-in that names the account.
pub fn credentials(conn: &Connection, user_id: &str) -> AppResult<Vec<Passkey>> {
    let mut stmt =
        conn.prepare_cached("SELECT credential FROM passkeys WHERE user_id = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([user_id], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.iter().map(|j| parse(j)).collect()
}

/// The credential with this id: (passkey id, user id, credential).
pub fn by_credential_id(
    conn: &Connection,
    credential_id: &[u8],
) -> AppResult<Option<(String, String, Passkey)>> {
    let found: Option<(String, String, String)> = conn
        .query_row(
            "SELECT id, user_id, credential FROM passkeys WHERE credential_id = ?1",
            [credential_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    found
        .map(|(id, user, json)| Ok((id, user, parse(&json)?)))
        .transpose()
}

pub fn insert(
    conn: &Connection,
    user_id: &str,
    name: &str,
    key: &Passkey,
) -> AppResult<PasskeyInfo> {
    if list(conn, user_id)?.len() >= MAX_PER_USER {
        return Err(AppError::Conflict(format!(
            "at most {MAX_PER_USER} passkeys per account; remove one first"
        )));
    }
    let json = serde_json::to_string(key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey to JSON: {e}")))?;
    let row = PasskeyInfo {
        id: clock::new_id(),
        name: name.to_string(),
        created_at: clock::now_stamp(),
        last_used_at: None,
    };
    conn.execute(
        "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.id,
            user_id,
            key.cred_id().as_slice(),
            row.name,
            json,
            row.created_at
        ],
    )?;
    Ok(row)
}

/// Records a sign-in with the passkey (and its new signature counter).
pub fn used(conn: &Connection, id: &str, key: &Passkey) -> AppResult<()> {
    let json = serde_json::to_string(key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("passkey to JSON: {e}")))?;
    conn.execute(
        "UPDATE passkeys SET credential = ?2, last_used_at = ?3 WHERE id = ?1",
        params![id, json, clock::now_stamp()],
    )?;
    Ok(())
}

pub fn rename(
    conn: &Connection,
    user_id: &str,
    id: &str,
    name: &str,
) -> AppResult<Option<PasskeyInfo>> {
    conn.execute(
        "UPDATE passkeys SET name = ?3 WHERE id = ?2 AND user_id = ?1",
        params![user_id, id, name],
    )?;
    Ok(conn
        .query_row(
            "SELECT id, name, created_at, last_used_at FROM passkeys WHERE id = ?2 AND user_id = ?1",
            params![user_id, id],
            info,
        )
        .optional()?)
}

/// Removes one of the user's passkeys; its name, or None when there is no such passkey.
pub fn remove(conn: &Connection, user_id: &str, id: &str) -> AppResult<Option<String>> {
    Ok(conn
        .query_row(
            "DELETE FROM passkeys WHERE id = ?2 AND user_id = ?1 RETURNING name",
            params![user_id, id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn count(conn: &Connection, user_id: &str) -> AppResult<u32> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM passkeys WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?)
}

/// Keeps the server's half of a ceremony; returns its id.
pub fn open_ceremony(
    conn: &Connection,
    user_id: Option<&str>,
    purpose: &str,
    state: &impl Serialize,
) -> AppResult<String> {
    let open: i64 = conn.query_row(
        "SELECT count(*) FROM passkey_ceremonies WHERE expires_at > ?1",
        [clock::now_stamp()],
        |r| r.get(0),
    )?;
    if open >= MAX_OPEN_CEREMONIES {
        return Err(AppError::RateLimited {
            retry_after_secs: 60,
        });
    }
    let id = clock::new_id();
    let json = serde_json::to_string(state)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("ceremony to JSON: {e}")))?;
    conn.execute(
        "INSERT INTO passkey_ceremonies (id, user_id, purpose, state, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id,
            user_id,
            purpose,
            json,
            clock::stamp_in(CEREMONY_LIFETIME)
        ],
    )?;
    Ok(id)
}

/// Takes a live ceremony of this purpose (it can be finished once): its
/// user and state.
pub fn take_ceremony<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    id: &str,
    purpose: &str,
) -> AppResult<Option<(Option<String>, T)>> {
    let found: Option<(Option<String>, String)> = conn
        .query_row(
            "DELETE FROM passkey_ceremonies WHERE id = ?1 AND purpose = ?2 AND expires_at > ?3
             RETURNING user_id, state",
            params![id, purpose, clock::now_stamp()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    found
        .map(|(user, json)| {
            serde_json::from_str(&json)
                .map(|s| (user, s))
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored ceremony: {e}")))
        })
        .transpose()
}

pub fn purge_expired_ceremonies(conn: &Connection) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM passkey_ceremonies WHERE expires_at <= ?1",
        [clock::now_stamp()],
    )?)
}
