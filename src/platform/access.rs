//! `OrgAccess`: the authorization step in front of every organization route.
//! It resolves the caller, finds the organization named by the `{org}` path
//! segment, and checks membership (or the API key's organization). Anyone who
//! is not a member gets 404, exactly as if the organization did not exist.
//! Only after that does it hand out the organization's `Tenant`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use rusqlite::Connection;

use crate::audit;
use crate::audit::requests::RequestSlot;
use crate::auth::caller::{Caller, Credentials};
use crate::auth::mfa;
use crate::auth::roles::Role;
use crate::auth::{session, tokens};
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::platform::closure::{self, Closure};
use crate::platform::members;
use crate::platform::orgs::{self, Org};
use crate::state::AppState;
use crate::tenant::Tenant;

/// Who wrote a record: a user, or an API key acting on its own.
#[derive(Clone, Debug)]
pub enum Actor {
    User(String),
    ApiKey(String),
}

impl Actor {
    /// As stored in `created_by` / `updated_by`.
    pub fn stamp(&self) -> String {
        match self {
            Actor::User(id) => id.clone(),
            Actor::ApiKey(id) => format!("api_key:{id}"),
        }
    }
}

pub struct OrgAccess {
    pub org: Org,
    pub role: Role,
    pub caller: Caller,
    pub tenant: Arc<Tenant>,
    /// The acting person's time zone from their account (None: not set),
    /// for where their "today" begins.
    pub time_zone: Option<String>,
    /// Set while the organization is closed (read-only until it is reopened
    /// or erased).
    pub closure: Option<Closure>,
    /// Where the request came from, for the audit log.
    pub ip: std::net::IpAddr,
    pub user_agent: Option<axum::http::HeaderValue>,
}

/// Organization access that lets changes through even while the
/// organization is closed: only for reopening it.
pub struct OrgAccessEvenIfClosed(pub OrgAccess);

impl OrgAccess {
    pub fn require(&self, needed: Role) -> AppResult<()> {
        self.role.require(needed)
    }

    /// The person acting: the signed-in user, or the one an API key acts for.
    pub fn actor_person(&self) -> String {
        match &self.caller {
            Caller::User { user, .. } => user.id.clone(),
            Caller::ApiKey(k) => k.owner_user_id.clone(),
        }
    }

    /// The caller as the audit log records them, with their address and browser.
    pub fn audit_actor(&self) -> audit::Actor {
        let ua = self
            .user_agent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.caller.audit_actor().from(&self.ip.to_string(), ua)
    }

    /// Records an organization event made by a change in the control
    /// database (members, keys, settings), right after that change committed.
    /// A crash between the two commits loses the entry; changes made in the
    /// organization's own database call `audit::record` inside their
    /// transaction instead.
    pub async fn audit(&self, entry: audit::Entry) -> AppResult<()> {
        self.tenant
            .db
            .write(move |tx| audit::record(tx, &entry).map(|_| ()))
            .await
    }

    pub fn actor(&self) -> Actor {
        match &self.caller {
            Caller::User { user, .. } => Actor::User(user.id.clone()),
            Caller::ApiKey(k) => Actor::ApiKey(k.id.clone()),
        }
    }
}

impl FromRequestParts<AppState> for OrgAccess {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let access = resolve(parts, state).await?;
        // A closed organization is read-only for everyone, API keys included.
        if access.closure.is_some() && !parts.method.is_safe() {
            return Err(AppError::OrgClosed);
        }
        Ok(access)
    }
}

impl FromRequestParts<AppState> for OrgAccessEvenIfClosed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        Ok(OrgAccessEvenIfClosed(resolve(parts, state).await?))
    }
}

/// What one credential may do in one organization, as the control
/// database said at one write generation: kept so that a burst of requests
/// with the same key or session reads the control database once, not five
/// statements each.
struct Grant {
    caller: Caller,
    org: Org,
    role: Role,
    closure: Option<Closure>,
    time_zone: Option<String>,
    /// A session's expiry stamp (an API key's grant has none).
    session_expires_at: Option<String>,
    made: Instant,
}

/// How long a grant is served, however quiet the control database: writes
/// by this process end it at once (its generation moves); this bounds what
/// another process's write (`harmonia import-org`, `setup`) could leave
/// unseen.
const GRANT_LIFETIME: Duration = Duration::from_secs(5);

impl Grant {
    fn key(creds: &Credentials, slug: &str) -> String {
        let (kind, secret) = match creds {
            Credentials::Session(t) => ('s', t),
            Credentials::ApiKey(k) => ('k', k),
        };
        format!(
            "grant:{kind}:{}:{slug}",
            hex::encode(tokens::sha256(secret))
        )
    }

    /// Still good now: young enough, and a session's stamps still those of
    /// a live session (the test `session::find` makes in SQL).
    fn holds(&self, config: &Config) -> bool {
        if self.made.elapsed() > GRANT_LIFETIME {
            return false;
        }
        match (&self.caller, &self.session_expires_at) {
            (Caller::User { last_seen_at, .. }, Some(expires_at)) => {
                session::still_live(expires_at, last_seen_at, config)
            }
            (Caller::ApiKey(_), None) => true,
            _ => false,
        }
    }

    /// Reads the grant from the control database (blocking).
    fn read(
        conn: &Connection,
        creds: &Credentials,
        slug: &str,
        config: &Config,
    ) -> AppResult<Grant> {
        let (caller, session_expires_at) = Caller::resolve_until(conn, creds, config)?;
        let org = orgs::by_slug(conn, slug)?.ok_or(AppError::NotFound)?;
        let role = match &caller {
            Caller::User { user, .. } => members::active_role(conn, &org.id, &user.id)?,
            Caller::ApiKey(key) => (key.org_id == org.id).then_some(key.role),
        }
        .ok_or(AppError::NotFound)?;
        // The organization's two-factor policy binds people, not API keys.
        if let Caller::User { user, .. } = &caller
            && org.require_mfa
            && !mfa::has_factor(conn, &user.id)?
        {
            return Err(AppError::MfaEnrollmentRequired);
        }
        let closure = closure::of_org(conn, &org.id)?.map(|r| r.closure);
        let person = match &caller {
            Caller::User { user, .. } => user.id.as_str(),
            Caller::ApiKey(key) => key.owner_user_id.as_str(),
        };
        let time_zone = crate::platform::notifications::zone_of(conn, person)?;
        Ok(Grant {
            caller,
            org,
            role,
            closure,
            time_zone,
            session_expires_at,
            made: Instant::now(),
        })
    }
}

/// The caller's grant in the organization: kept from an earlier request
/// while the control database has not changed since, else read anew.
/// Only grants are kept; a refusal is read again every time.
async fn grant(creds: Credentials, slug: String, state: &AppState) -> AppResult<Arc<Grant>> {
    let control = &state.control;
    let key = Grant::key(&creds, &slug);
    // The generation first: a grant read after it reflects every write up
    // to it (see `derived`).
    let generation = control.generation();
    if let Some(kept) = control.derived.get::<Grant>(&key, generation)
        && kept.holds(&state.config)
    {
        return Ok(kept);
    }
    let config = state.config.clone();
    let grant = Arc::new(
        control
            .lookup(move |conn| Grant::read(conn, &creds, &slug, &config))
            .await?,
    );
    control.derived.put(key, generation, grant.clone());
    Ok(grant)
}

async fn resolve(parts: &mut Parts, state: &AppState) -> AppResult<OrgAccess> {
    let creds = Credentials::from_parts(parts)?;
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::NotFound)?;
    let slug = params
        .iter()
        .find(|(k, _)| *k == "org")
        .map(|(_, v)| v.to_string())
        .ok_or(AppError::NotFound)?;
    let grant = grant(creds, slug, state).await?;
    let Grant {
        caller,
        org,
        role,
        closure,
        time_zone,
        ..
    } = &*grant;
    // From here on the request belongs to this organization's request log.
    if let Some(slot) = parts.extensions.get::<RequestSlot>() {
        slot.set(&org.id, caller.audit_actor());
    }
    caller.check_csrf(parts, &state.config.public_url)?;
    caller.touch(&state.control).await;
    let tenant = state.tenants.get(&org.id).await?;
    let crate::platform::client_ip::ClientIp(ip) =
        crate::platform::client_ip::ClientIp::from_request_parts(parts, state).await?;
    Ok(OrgAccess {
        org: org.clone(),
        role: *role,
        caller: caller.clone(),
        tenant,
        time_zone: time_zone.clone(),
        closure: closure.clone(),
        ip,
        user_agent: parts.headers.get(axum::http::header::USER_AGENT).cloned(),
    })
}

/// A handler that needs the caller but no organization.
impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Self> {
        let creds = Credentials::from_parts(parts)?;
        let config = state.config.clone();
        let caller = state
            .control
            .lookup(move |conn| Caller::resolve(conn, &creds, &config))
            .await?;
        caller.check_csrf(parts, &state.config.public_url)?;
        caller.touch(&state.control).await;
        Ok(caller)
    }
}
