//! Second factors below the routes: authenticator apps (TOTP, RFC 6238:
//! SHA-1, 6 digits, 30 s steps, one step of clock drift either way),
//! recovery codes, and the pending second step of a sign-in (a challenge).
//! Every check that must happen once happens in one UPDATE or DELETE whose
//! row count decides, so two requests racing with the same code cannot both
//! win.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use totp_rs::{Secret, Totp};
use zeroize::Zeroizing;

use crate::auth::session::Client;
use crate::auth::tokens;
use crate::clock;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::vault::{self, Vault};

pub const ISSUER: &str = "Harmonia";
/// How long the second step of a sign-in may take.
pub const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);
pub const RECOVERY_CODES: usize = 10;

/// The TOTP generator for a stored base32 secret; the account name shows in
/// the authenticator app beside the issuer.
pub fn totp(secret_b32: &str, account: &str) -> AppResult<Totp> {
    let secret = Secret::try_from_base32(secret_b32)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored TOTP secret: {e:?}")))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_skew(1)
        .with_step_duration(30)
        .with_digits(6)
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', ""))
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building TOTP: {e:?}")))
}

/// A new random secret (160 bits, as RFC 4226 recommends), base32.
pub fn new_secret() -> String {
    Secret::generate().to_base32()
}

fn unix_now() -> u64 {
    clock::now().unix_timestamp().max(0) as u64
}

/// Codes are typed or pasted: spaces and dashes in them are ignored.
pub fn clean_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

pub struct TotpFactor {
    /// The vault's id of the sealed key (`key_purpose`).
    secret_id: Option<String>,
    pub confirmed: bool,
    pub last_step: u64,
}

/// The vault purpose of a user's authenticator key: the ciphertext of one
/// person's key does not open as another's.
fn key_purpose(user_id: &str) -> String {
    format!("totp:{user_id}")
}

pub fn totp_factor(conn: &Connection, user_id: &str) -> AppResult<Option<TotpFactor>> {
    Ok(conn
        .prepare_cached(
            "SELECT secret_id, confirmed_at IS NOT NULL, last_step FROM totp_factors WHERE user_id = ?1",
        )?
        .query_row([user_id], |r| {
            Ok(TotpFactor {
                secret_id: r.get(0)?,
                confirmed: r.get(1)?,
                last_step: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .optional()?)
}

/// Starts setting up an authenticator: a new secret, sealed in the vault,
/// not yet a factor (a key set up before and not confirmed is replaced, and
/// its sealed value goes, by trigger). Refused while one is on (turn it off
/// first, which needs a code).
pub fn begin_totp(conn: &Connection, vault: &Vault, user_id: &str, secret: &str) -> AppResult<()> {
    if totp_factor(conn, user_id)?.is_some_and(|f| f.confirmed) {
        return Err(AppError::Conflict(
            "an authenticator app is already on; turn it off first to set up another".into(),
        ));
    }
    let secret_id = vault.put_unshown(conn, vault::PLATFORM, &key_purpose(user_id), secret)?;
    conn.execute(
        "INSERT INTO totp_factors (user_id, secret, secret_id, created_at) VALUES (?1, '', ?2, ?3)
         ON CONFLICT (user_id) DO UPDATE SET secret = '', secret_id = excluded.secret_id,
             created_at = excluded.created_at, last_step = 0, confirmed_at = NULL",
        params![user_id, secret_id, clock::now_stamp()],
    )?;
    Ok(())
}

/// Accepts `code` for the user's authenticator (being set up when
/// `confirming`, else on): the time step it belongs to must be newer than the
/// last accepted one, and is recorded in the same statement.
pub fn accept_totp(
    conn: &Connection,
    vault: &Vault,
    user_id: &str,
    account: &str,
    code: &str,
    confirming: bool,
) -> AppResult<bool> {
    let Some(factor) = totp_factor(conn, user_id)? else {
        return Ok(false);
    };
    if factor.confirmed == confirming {
        return Ok(false);
    }
    // Every key is sealed at start (`seal_plaintext_keys`) and when set up.
    let secret_id = factor.secret_id.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "the authenticator key of user {user_id} is not in the vault"
        ))
    })?;
    let secret = vault.reveal(conn, &secret_id, vault::PLATFORM, &key_purpose(user_id))?;
    let code = clean_code(code);
    let Some(step) = totp(&secret, account)?.check(&code, unix_now()) else {
        return Ok(false);
    };
    let changed = conn.execute(
        "UPDATE totp_factors SET last_step = ?2,
             confirmed_at = coalesce(confirmed_at, ?3)
         WHERE user_id = ?1 AND last_step < ?2",
        params![user_id, step as i64, clock::now_stamp()],
    )?;
    Ok(changed == 1)
}

/// Seals in the vault the authenticator keys that servers before control
/// migration 15 stored as text, and empties the column (its old text zeroed
/// in the file): run at every start, before any request, in one
/// transaction (a crash leaves every key either as it was or sealed).
/// Returns how many it sealed.
pub fn seal_plaintext_keys(control: &Db, vault: &Arc<Vault>) -> AppResult<usize> {
    let vault = vault.clone();
    control.write_blocking(move |tx| {
        let rows: Vec<(String, Zeroizing<String>)> = tx
            .prepare("SELECT user_id, secret FROM totp_factors WHERE secret_id IS NULL")?
            .query_map([], |r| Ok((r.get(0)?, Zeroizing::new(r.get(1)?))))?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        // The text each key leaves behind is overwritten with zeros, not
        // left in the file's free space for a later page to carry along.
        let was: bool = tx.pragma_query_value(None, "secure_delete", |r| r.get(0))?;
        tx.pragma_update(None, "secure_delete", true)?;
        let sealed = rows
            .iter()
            .try_for_each(|(user_id, secret)| -> AppResult<()> {
                let id = vault.put_unshown(tx, vault::PLATFORM, &key_purpose(user_id), secret)?;
                tx.execute(
                    "UPDATE totp_factors SET secret = '', secret_id = ?2 WHERE user_id = ?1",
                    params![user_id, id],
                )?;
                Ok(())
            });
        tx.pragma_update(None, "secure_delete", was)?;
        sealed.map(|()| rows.len())
    })
}

/// Turns the authenticator off. Recovery codes go too when no other factor remains.
pub fn remove_totp(conn: &Connection, user_id: &str) -> AppResult<()> {
    conn.execute("DELETE FROM totp_factors WHERE user_id = ?1", [user_id])?;
    if !has_factor(conn, user_id)? {
        conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    }
    Ok(())
}

/// Whether the user has a second factor that sign-in must ask for.
pub fn has_factor(conn: &Connection, user_id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ?1 AND confirmed_at IS NOT NULL)
                 OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1)",
        )?
        .query_row([user_id], |r| r.get(0))?)
}

/// Whether an organization the user is an active member of requires a second factor.
pub fn required_of(conn: &Connection, user_id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM memberships m JOIN orgs o ON o.id = m.org_id
             WHERE m.user_id = ?1 AND m.status = 'active' AND o.require_mfa = 1)",
        )?
        .query_row([user_id], |r| r.get(0))?)
}

/// Which second steps the user can take, for the sign-in page.
pub fn methods(conn: &Connection, user_id: &str) -> AppResult<Vec<&'static str>> {
    let mut methods = Vec::new();
    if totp_factor(conn, user_id)?.is_some_and(|f| f.confirmed) {
        methods.push("totp");
    }
    if crate::auth::passkey::count(conn, user_id)? > 0 {
        methods.push("passkey");
    }
    if recovery_codes_left(conn, user_id)? > 0 {
        methods.push("recovery_code");
    }
    Ok(methods)
}

/// Ten new codes (the old ones stop working), returned once in clear.
/// Each is 10 characters of base32 (50 bits) shown as `xxxxx-xxxxx`.
pub fn new_recovery_codes(conn: &Connection, user_id: &str) -> AppResult<Vec<String>> {
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)",
    )?;
    while codes.len() < RECOVERY_CODES {
        let mut bytes = [0u8; 10];
        rand::fill(&mut bytes[..]);
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let raw: String = bytes
            .iter()
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect();
        if insert.execute(params![user_id, tokens::sha256(&raw)])? == 1 {
            codes.push(format!("{}-{}", &raw[..5], &raw[5..]));
        }
    }
    Ok(codes)
}

/// Uses a recovery code: true once per code.
pub fn use_recovery_code(conn: &Connection, user_id: &str, code: &str) -> AppResult<bool> {
    let hash = tokens::sha256(&clean_code(code));
    Ok(conn.execute(
        "UPDATE recovery_codes SET used_at = ?3
         WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        params![user_id, hash, clock::now_stamp()],
    )? == 1)
}

pub fn recovery_codes_left(conn: &Connection, user_id: &str) -> AppResult<u32> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        )?
        .query_row([user_id], |r| r.get(0))?)
}

/// A sign-in waiting for its second step.
pub struct Challenge {
    pub user_id: String,
    pub known_device: bool,
}

/// Opens the second step of a sign-in; returns the challenge to hand out.
pub fn open_challenge(
    conn: &Connection,
    user_id: &str,
    known_device: bool,
    from: &Client,
) -> AppResult<String> {
    let token = tokens::random_token();
    conn.execute(
        "INSERT INTO mfa_challenges (token_hash, user_id, known_device, ip, user_agent, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tokens::sha256(&token),
            user_id,
            known_device,
            from.ip,
            from.user_agent,
            clock::stamp_in(CHALLENGE_LIFETIME)
        ],
    )?;
    Ok(token)
}

/// The live challenge behind a token (expired ones count as absent).
pub fn challenge(conn: &Connection, token: &str) -> AppResult<Option<Challenge>> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, known_device FROM mfa_challenges
             WHERE token_hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![tokens::sha256(token), clock::now_stamp()], |r| {
            Ok(Challenge {
                user_id: r.get(0)?,
                known_device: r.get(1)?,
            })
        })
        .optional()?)
}

/// Uses the challenge up: true for the one caller that does.
pub fn close_challenge(conn: &Connection, token: &str) -> AppResult<bool> {
    Ok(conn.execute(
        "DELETE FROM mfa_challenges WHERE token_hash = ?1 AND expires_at > ?2",
        params![tokens::sha256(token), clock::now_stamp()],
    )? == 1)
}

pub fn purge_expired_challenges(conn: &Connection) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM mfa_challenges WHERE expires_at <= ?1",
        [clock::now_stamp()],
    )?)
}

/// The otpauth:// URI as an SVG QR code, drawn here (no outside service).
pub fn qr_svg(uri: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_cleaned_of_what_people_type_around_them() {
        assert_eq!(clean_code(" 123 456 "), "123456");
        assert_eq!(clean_code("ABCDE-fghij"), "abcdefghij");
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let t = totp(&new_secret(), "ada@example.com").expect("totp");
        let uri = t.to_url().expect("url");
        assert!(
            uri.starts_with("otpauth://totp/Harmonia:ada%40example.com?"),
            "{uri}"
        );
        let svg = qr_svg(&uri).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
