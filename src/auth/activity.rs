//! Sign-in activity: what happened to an account (sign-ins, failures,
//! password and factor changes), with when, from where and with what
//! browser. Kept 12 months; the governance issue's audit log will later
//! receive the same events.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::auth::session::Client;
use crate::clock;
use crate::error::AppResult;

/// How long events are kept.
pub const RETENTION: time::Duration = time::Duration::days(365);

/// What happened. Stored as its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    SignedIn,
    SignInFailed,
    SecondFactorFailed,
    SignedOut,
    PasswordChanged,
    PasswordReset,
    PasswordResetLinkCreated,
    TotpEnabled,
    TotpDisabled,
    RecoveryCodesRegenerated,
    RecoveryCodeUsed,
    PasskeyAdded,
    PasskeyRemoved,
    SessionRevoked,
    OtherSessionsRevoked,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignedIn => "signed_in",
            Event::SignInFailed => "sign_in_failed",
            Event::SecondFactorFailed => "second_factor_failed",
            Event::SignedOut => "signed_out",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::PasswordResetLinkCreated => "password_reset_link_created",
            Event::TotpEnabled => "totp_enabled",
            Event::TotpDisabled => "totp_disabled",
            Event::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::PasskeyAdded => "passkey_added",
            Event::PasskeyRemoved => "passkey_removed",
            Event::SessionRevoked => "session_revoked",
            Event::OtherSessionsRevoked => "other_sessions_revoked",
        }
    }
}

/// One event as `GET /auth/activity` shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActivityItem {
    pub id: String,
    /// `signed_in`, `sign_in_failed`, `second_factor_failed`, `signed_out`,
    /// `password_changed`, `password_reset`, `password_reset_link_created`,
    /// `totp_enabled`, `totp_disabled`, `recovery_codes_regenerated`,
    /// `recovery_code_used`, `passkey_added`, `passkey_removed`,
    /// `session_revoked`, `other_sessions_revoked`.
    pub kind: String,
    /// How, where it matters: `password`, `totp`, `recovery_code`, `passkey`, a passkey's name.
    pub detail: Option<String>,
    pub ip: String,
    pub user_agent: String,
    pub browser: String,
    pub os: String,
    pub created_at: String,
}

pub fn record(
    conn: &Connection,
    user_id: &str,
    event: Event,
    from: &Client,
    detail: Option<&str>,
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO signin_events (id, user_id, kind, ip, user_agent, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        clock::new_id(),
        user_id,
        event.as_str(),
        from.ip,
        from.user_agent,
        detail,
        clock::now_stamp()
    ])?;
    Ok(())
}

/// A page of the user's events, newest first, older than `before` (an event id).
pub fn list(
    conn: &Connection,
    user_id: &str,
    before: Option<&str>,
    limit: u32,
) -> AppResult<Vec<ActivityItem>> {
    let cutoff = clock::stamp(clock::now() - RETENTION);
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, detail, ip, user_agent, created_at FROM signin_events
         WHERE user_id = ?1 AND id < ?2 AND created_at > ?3
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![user_id, before.unwrap_or("~"), cutoff, limit],
            |r| {
                let user_agent: String = r.get(4)?;
                let (browser, os) = crate::auth::user_agent::describe(&user_agent);
                Ok(ActivityItem {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    detail: r.get(2)?,
                    ip: r.get(3)?,
                    user_agent,
                    browser,
                    os,
                    created_at: r.get(5)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes events older than the retention; returns how many.
pub fn purge_old(conn: &Connection, now: time::OffsetDateTime) -> AppResult<usize> {
    Ok(conn.execute(
        "DELETE FROM signin_events WHERE created_at <= ?1",
        [clock::stamp(now - RETENTION)],
    )?)
}
