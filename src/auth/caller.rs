//! Who is calling: a signed-in user (session cookie) or an API key (Bearer).
//! Cookie-authenticated unsafe requests must carry the session's CSRF token.

use axum::http::request::Parts;
use axum::http::{Method, header};
use rusqlite::{Connection, OptionalExtension};

use crate::auth::roles::Role;
use crate::auth::users::User;
use crate::auth::{session, tokens};
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};

pub const CSRF_HEADER: &str = "x-csrf-token";
pub const API_KEY_PREFIX: &str = "hmn_";

/// What the request presented, before any lookup.
#[derive(Clone)]
pub enum Credentials {
    Session(String),
    ApiKey(String),
}

impl Credentials {
    pub fn from_parts(parts: &Parts) -> AppResult<Credentials> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let value = auth.to_str().map_err(|_| AppError::Unauthenticated)?;
            let secret = value
                .strip_prefix("Bearer ")
                .map(str::trim)
                .filter(|s| s.starts_with(API_KEY_PREFIX))
                .ok_or(AppError::Unauthenticated)?;
            return Ok(Credentials::ApiKey(secret.to_string()));
        }
        session::cookie_value(&parts.headers, session::COOKIE_NAME)
            .filter(|t| !t.is_empty())
            .map(Credentials::Session)
            .ok_or(AppError::Unauthenticated)
    }
}

/// An API key as it authenticates: one organization, one role.
#[derive(Clone, Debug)]
pub struct KeyAuth {
    pub id: String,
    pub org_id: String,
    /// The key's role, capped by its owner's current role in the organization.
    pub role: Role,
    /// The person the key acts for.
    pub owner_user_id: String,
    /// The key's name, as the audit log shows it.
    pub name: String,
    last_used_at: Option<String>,
}

#[derive(Clone)]
pub enum Caller {
    User {
        user: User,
        session_token: String,
        last_seen_at: String,
    },
    ApiKey(KeyAuth),
}

impl Caller {
    /// Looks the credentials up (blocking; runs inside a `read`).
    pub fn resolve(conn: &Connection, creds: &Credentials, config: &Config) -> AppResult<Caller> {
        Ok(Caller::resolve_until(conn, creds, config)?.0)
    }

    /// `resolve`, with the session's expiry stamp (None for an API key,
    /// which lasts until revoked), for callers that keep the answer.
    pub fn resolve_until(
        conn: &Connection,
        creds: &Credentials,
        config: &Config,
    ) -> AppResult<(Caller, Option<String>)> {
        match creds {
            Credentials::Session(token) => {
                let found = session::find(conn, token, config)?.ok_or(AppError::Unauthenticated)?;
                let caller = Caller::User {
                    user: found.user,
                    session_token: token.clone(),
                    last_seen_at: found.last_seen_at,
                };
                Ok((caller, Some(found.expires_at)))
            }
            Credentials::ApiKey(secret) => conn
                .prepare_cached(
                    "SELECT k.id, k.org_id, k.role, k.last_used_at, m.role, k.owner_user_id, k.name
                     FROM api_keys k JOIN memberships m
                       ON m.org_id = k.org_id AND m.user_id = k.owner_user_id AND m.status = 'active'
                     WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
                )?
                .query_row([tokens::sha256(secret)], |r| {
                    let key_role: Role = r.get(2)?;
                    let owner_role: Role = r.get(4)?;
                    Ok(KeyAuth {
                        id: r.get(0)?,
                        org_id: r.get(1)?,
                        role: key_role.min(owner_role),
                        owner_user_id: r.get(5)?,
                        name: r.get(6)?,
                        last_used_at: r.get(3)?,
                    })
                })
                .optional()?
                .map(|key| (Caller::ApiKey(key), None))
                .ok_or(AppError::Unauthenticated),
        }
    }

    /// The caller as the audit log names them, without where they came from.
    pub fn audit_actor(&self) -> crate::audit::Actor {
        match self {
            Caller::User { user, .. } => crate::audit::Actor::user(&user.id, &user.email),
            Caller::ApiKey(k) => crate::audit::Actor::api_key(&k.id, &k.name),
        }
    }

    pub fn user(&self) -> AppResult<&User> {
        match self {
            Caller::User { user, .. } => Ok(user),
            Caller::ApiKey(_) => Err(AppError::forbidden(
                "this needs a signed-in user, not an API key",
            )),
        }
    }

    /// CSRF: a cookie-authenticated request that changes something must echo
    /// the session's token in `X-CSRF-Token`, and, as a second defence, must
    /// not come from another site: `Sec-Fetch-Site: cross-site` is refused,
    /// and so is an `Origin` that is neither the request's own host nor the
    /// server's public URL. API keys are not sent by browsers on their own,
    /// so they need neither.
    pub fn check_csrf(&self, parts: &Parts, public_url: &url::Url) -> AppResult<()> {
        let Caller::User { session_token, .. } = self else {
            return Ok(());
        };
        if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        if !same_site(parts, public_url) {
            return Err(AppError::Csrf);
        }
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if tokens::constant_time_eq(sent, &tokens::csrf_for(session_token)) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }

    /// Notes that the session or key was just used (at most once a minute).
    /// Bookkeeping only: when it cannot be written (a full disk) the request
    /// goes on, so reads keep working.
    pub async fn touch(&self, control: &std::sync::Arc<Db>) {
        let stale = crate::clock::stamp(crate::clock::now() - time::Duration::minutes(1));
        let written = match self {
            Caller::User {
                session_token,
                last_seen_at,
                ..
            } if *last_seen_at < stale => {
                let hash = tokens::sha256(session_token);
                control.write(move |tx| session::touch(tx, &hash)).await
            }
            Caller::ApiKey(key) if key.last_used_at.as_deref().is_none_or(|t| *t < *stale) => {
                let id = key.id.clone();
                control.write(move |tx| key_used(tx, &id)).await
            }
            _ => Ok(()),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record when a session or key was last used");
        }
    }
}

/// Records when an API key was last used.
fn key_used(conn: &Connection, key_id: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
        rusqlite::params![key_id, crate::clock::now_stamp()],
    )?;
    Ok(())
}

/// False when the browser says the request comes from another site.
fn same_site(parts: &Parts, public_url: &url::Url) -> bool {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
    };
    if header("sec-fetch-site").is_some_and(|v| v.eq_ignore_ascii_case("cross-site")) {
        return false;
    }
    let Some(origin) = header("origin") else {
        return true; // not a browser, or an old one: the token decides
    };
    let Ok(origin) = url::Url::parse(origin) else {
        return false; // "null" (a sandboxed frame, a redirect) or garbage
    };
    let ours = public_url.origin().ascii_serialization();
    if origin.origin().ascii_serialization() == ours {
        return true;
    }
    // Same host as the request was sent to (a server reached by another
    // name than its public URL, e.g. on the LAN).
    let authority = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return false,
    };
    header("host").is_some_and(|h| h.eq_ignore_ascii_case(&authority))
}
