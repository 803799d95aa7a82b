//! Sign-in activity: what happened to an account (sign-ins, failures,
//! password and factor changes), with when, from where and with what
//! browser. Kept 12 months. Every event is also appended to the platform's
//! audit log (`account.<event>`) in the same transaction.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::audit;
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
    audit_account_event(conn, user_id, event, from, detail)
}

/// The same event in the platform's audit log: done by the account's owner,
/// except failures, which whoever tried did (unknown, so anonymous).
fn audit_account_event(
    conn: &Connection,
    user_id: &str,
    event: Event,
    from: &Client,
    detail: Option<&str>,
) -> AppResult<()> {
    let email: String = conn
        .prepare_cached("SELECT email FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))
        .unwrap_or_default();
    let actor = match event {
        Event::SignInFailed | Event::SecondFactorFailed => audit::Actor::anonymous(),
        _ => audit::Actor::user(user_id, &email),
    }
    .from(&from.ip, &from.user_agent);
    let mut entry = audit::Entry::new(actor, &format!("account.{}", event.as_str()))
        .target("user", user_id, &email);
    if let Some(d) = detail {
        entry = entry.after(serde_json::json!({ "detail": d }));
    }
    audit::record(conn, &entry)?;
    Ok(())
}

/// A failed sign-in for an email no account has: only the audit log notes
/// it (there is no account whose activity it belongs to).
pub fn audit_unknown_sign_in(conn: &Connection, email: &str, from: &Client) -> AppResult<()> {
    let actor = audit::Actor::anonymous().from(&from.ip, &from.user_agent);
    audit::record(
        conn,
        &audit::Entry::new(actor, "account.sign_in_failed")
            .target("email", "", email)
            .after(serde_json::json!({ "detail": "unknown email" })),
    )?;
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
