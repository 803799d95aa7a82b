//! Organizations: each is a control-plane row (name, slug) plus its own
//! database file under `data/tenants/<org-id>/`.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::caller::Caller;
use crate::auth::roles::Role;
use crate::clock;
use crate::error::{AppError, AppResult, Json};
use crate::platform::access::OrgAccess;
use crate::state::AppState;
use crate::tenant::Tenants;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// Region for phone numbers typed without a country code (ISO 3166-1 alpha-2).
    pub default_country: String,
    /// Currency of new deals unless they name another (ISO 4217).
    pub default_currency: String,
    /// Members must have a second factor to reach the organization's data.
    pub require_mfa: bool,
    /// IANA time zone of the organization's working day (members may set their own).
    pub time_zone: String,
    /// How dates are written unless a member chose their own: one of
    /// `mmm d, yyyy`, `d mmm yyyy`, `yyyy-mm-dd`, `dd/mm/yyyy`, `mm/dd/yyyy`, `dd.mm.yyyy`.
    pub date_format: String,
    pub created_at: String,
}

/// An organization as one of its members sees it in lists.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MyOrg {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    /// Set while the organization is closed: when it will be erased.
    pub purge_at: Option<String>,
    /// How the organization writes dates (see `PATCH /orgs/{org}`).
    pub date_format: String,
    pub time_zone: String,
    /// Numbers from this country are shown in its national format.
    pub default_country: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MyOrgList {
    pub items: Vec<MyOrg>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgWithRole {
    #[serde(flatten)]
    pub org: Org,
    pub role: Role,
    /// Set while the organization is closed (read-only).
    pub closure: Option<crate::platform::closure::Closure>,
}

const COLUMNS: &str = "id, slug, name, default_country, created_at, default_currency, require_mfa, \
     time_zone, date_format";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        default_country: r.get(3)?,
        created_at: r.get(4)?,
        default_currency: r.get(5)?,
        require_mfa: r.get(6)?,
        time_zone: r.get(7)?,
        date_format: r.get(8)?,
    })
}

pub fn by_slug(conn: &Connection, slug: &str) -> AppResult<Option<Org>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM orgs WHERE slug = ?1"))?
        .query_row([slug], from_row)
        .optional()?)
}

/// An organization by its id (a route that names no slug: inbound webhooks, imports).
pub fn by_id(conn: &Connection, id: &str) -> AppResult<Option<Org>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM orgs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn all_ids(conn: &Connection) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM orgs ORDER BY id")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

pub fn of_user(conn: &Connection, user_id: &str) -> AppResult<Vec<MyOrg>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.slug, o.name, m.role, o.created_at, c.purge_at, o.date_format, o.time_zone,
                o.default_country
         FROM memberships m JOIN orgs o ON o.id = m.org_id
         LEFT JOIN org_closures c ON c.org_id = o.id AND c.purged_at IS NULL
         WHERE m.user_id = ?1 AND m.status = 'active' ORDER BY o.name COLLATE NOCASE, o.id",
    )?;
    let items = stmt
        .query_map([user_id], |r| {
            Ok(MyOrg {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
                role: r.get(3)?,
                created_at: r.get(4)?,
                purge_at: r.get(5)?,
                date_format: r.get(6)?,
                time_zone: r.get(7)?,
                default_country: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// A URL-safe name: lower-case letters, digits and single hyphens, 2–48 long.
pub fn check_slug(slug: &str) -> AppResult<()> {
    let ok = (2..=48).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            "slug",
            "use 2–48 lower-case letters, digits and single hyphens",
        ))
    }
}

fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.len() < 2 {
        format!("org-{}", &clock::new_id()[24..32])
    } else {
        slug
    }
}

pub fn check_country(field: &str, c: &str) -> AppResult<String> {
    let up = c.trim().to_ascii_uppercase();
    if up.len() == 2 && phonenumber::country::Id::try_from(up.as_str()).is_ok() {
        Ok(up)
    } else {
        Err(AppError::field(
            field,
            "use a two-letter ISO 3166 country code, e.g. US or DE",
        ))
    }
}

pub struct NewOrg {
    pub name: String,
    pub slug: Option<String>,
    pub default_country: Option<String>,
}

impl NewOrg {
    pub fn validate(self) -> AppResult<NewOrg> {
        let mut problems = crate::error::Problems::new();
        // The one text rule every name follows (no control characters).
        let name =
            crate::values::text(&mut problems, "name", Some(self.name), 120).unwrap_or_default();
        if name.is_empty() {
            problems.add("name", "required");
        }
        if let Some(s) = &self.slug
            && let Err(AppError::Validation { fields, .. }) = check_slug(s)
        {
            for (k, v) in fields {
                problems.add(k, v);
            }
        }
        let country = match self.default_country.as_deref() {
            Some(c) => match check_country("default_country", c) {
                Ok(c) => Some(c),
                Err(_) => {
                    problems.add("default_country", "use a two-letter ISO 3166 country code");
                    None
                }
            },
            None => None,
        };
        problems.into_result()?;
        Ok(NewOrg {
            name,
            slug: self.slug,
            default_country: country,
        })
    }
}

/// Creates the organization's database, then its control row with `owner_id`
/// as owner, in the caller's transaction. A database file without a row is
/// harmless; a row without a database never exists.
pub fn create(conn: &Connection, tenants: &Tenants, new: NewOrg, owner_id: &str) -> AppResult<Org> {
    let slug = match new.slug {
        Some(s) => {
            if by_slug(conn, &s)?.is_some() {
                return Err(AppError::Conflict(format!("the slug {s} is taken")));
            }
            s
        }
        None => {
            let base = slug_from_name(&new.name);
            let mut candidate = base.clone();
            let mut n = 2;
            while by_slug(conn, &candidate)?.is_some() {
                candidate = format!("{base}-{n}");
                n += 1;
            }
            candidate
        }
    };
    let default_country = new.default_country.unwrap_or_else(|| "US".into());
    let org = Org {
        id: clock::new_id(),
        slug,
        name: new.name,
        // Month first is how the United States writes dates; most of the world puts the day first.
        date_format: if default_country == "US" {
            "mmm d, yyyy"
        } else {
            "d mmm yyyy"
        }
        .into(),
        default_country,
        default_currency: "USD".into(),
        require_mfa: false,
        time_zone: "UTC".into(),
        created_at: clock::now_stamp(),
    };
    tenants
        .create_blocking(&org.id)
        .map_err(|e| AppError::Internal(e.context("creating the organization's database")))?;
    insert(conn, &org)?;
    add_member(conn, &org.id, owner_id, "owner")?;
    Ok(org)
}

/// The organization's control row.
pub fn insert(conn: &Connection, org: &Org) -> AppResult<()> {
    conn.execute(
        &format!("INSERT INTO orgs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            org.id,
            org.slug,
            org.name,
            org.default_country,
            org.created_at,
            org.default_currency,
            org.require_mfa,
            org.time_zone,
            org.date_format
        ],
    )?;
    Ok(())
}

/// An active membership with `role`.
pub fn add_member(conn: &Connection, org_id: &str, user_id: &str, role: &str) -> AppResult<()> {
    conn.execute(
        "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![org_id, user_id, role, clock::now_stamp()],
    )?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
    pub slug: Option<String>,
    pub default_country: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: Option<String>,
    /// The organization's part of every URL: 2–48 lower-case letters, digits and single
    /// hyphens. Links with the old slug stop working.
    #[schema(pattern = "^[a-z0-9](?:-?[a-z0-9])+$", min_length = 2, max_length = 48)]
    pub slug: Option<String>,
    /// IANA time zone such as Europe/London.
    #[schema(min_length = 1, max_length = 64)]
    pub time_zone: Option<String>,
    /// How dates are written: mmm d, yyyy · d mmm yyyy · yyyy-mm-dd · dd/mm/yyyy · mm/dd/yyyy · dd.mm.yyyy.
    #[schema(example = "d mmm yyyy")]
    pub date_format: Option<String>,
    /// Two-letter ISO 3166 code.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub default_country: Option<String>,
    /// ISO 4217 code: the currency of new deals.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    pub default_currency: Option<String>,
    /// Require two-factor sign-in of every member (you need a factor yourself to turn it on).
    pub require_mfa: Option<bool>,
}

/// The organizations you belong to.
#[utoipa::path(get, path = "/orgs", tag = "organizations",
    responses((status = 200, body = MyOrgList), (status = 401, body = crate::error::ErrorBody)))]
async fn list_orgs(State(state): State<AppState>, caller: Caller) -> AppResult<Json<MyOrgList>> {
    let user_id = caller.user()?.id.clone();
    let items = state.control.read(move |c| of_user(c, &user_id)).await?;
    Ok(Json(MyOrgList { items }))
}

/// Create an organization (platform admins; you become its owner).
#[utoipa::path(post, path = "/orgs", tag = "organizations", request_body = CreateOrg,
    responses((status = 201, body = OrgWithRole), (status = 403, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    crate::platform::client_ip::RequestFrom(from): crate::platform::client_ip::RequestFrom,
    Json(body): Json<CreateOrg>,
) -> AppResult<(StatusCode, Json<OrgWithRole>)> {
    let user = caller.user()?.clone();
    let who = caller.audit_actor().from(&from.ip, &from.user_agent);
    if !user.is_platform_admin {
        return Err(AppError::forbidden(
            "only platform admins create organizations",
        ));
    }
    let new = NewOrg {
        name: body.name,
        slug: body.slug,
        default_country: body.default_country,
    }
    .validate()?;
    let st = state.clone();
    let org = state
        .control
        .write(move |tx| {
            let org = create(tx, &st.tenants, new, &user.id)?;
            // In the platform's log: who made which organization.
            crate::audit::record(
                tx,
                &crate::audit::Entry::new(who, "org.created")
                    .target("organization", &org.id, &org.slug)
                    .after(serde_json::json!({"name": org.name})),
            )?;
            Ok(org)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(OrgWithRole {
            org,
            role: Role::Owner,
            closure: None,
        }),
    ))
}

/// One organization you belong to, with your role in it.
#[utoipa::path(get, path = "/orgs/{org}", tag = "organizations",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = OrgWithRole), (status = 404, body = crate::error::ErrorBody)))]
async fn get_org(access: OrgAccess) -> AppResult<Json<OrgWithRole>> {
    Ok(Json(OrgWithRole {
        org: access.org,
        role: access.role,
        closure: access.closure,
    }))
}

/// Writes an organization's settings; a slug another organization holds is a conflict.
fn save_settings(conn: &Connection, o: &Org) -> AppResult<()> {
    if let Some(other) = by_slug(conn, &o.slug)?
        && other.id != o.id
    {
        return Err(AppError::Conflict(format!("the slug {} is taken", o.slug)));
    }
    conn.execute(
        "UPDATE orgs SET name = ?2, default_country = ?3, default_currency = ?4, require_mfa = ?5,
                slug = ?6, time_zone = ?7, date_format = ?8 WHERE id = ?1",
        params![
            o.id,
            o.name,
            o.default_country,
            o.default_currency,
            o.require_mfa,
            o.slug,
            o.time_zone,
            o.date_format
        ],
    )?;
    Ok(())
}

/// Change the organization's settings (admin+): its name and slug, the country
/// phone numbers are read in, its currency, time zone and date format, or
/// require two-factor sign-in of its members.
#[utoipa::path(patch, path = "/orgs/{org}", tag = "organizations", request_body = UpdateOrg,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = OrgWithRole), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody)))]
async fn update_org(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(body): Json<UpdateOrg>,
) -> AppResult<Json<OrgWithRole>> {
    access.require(Role::Admin)?;
    let mut org = access.org.clone();
    let mut problems = crate::error::Problems::new();
    if let Some(name) = body.name {
        match crate::values::text(&mut problems, "name", Some(name), 120) {
            Some(n) => org.name = n,
            None => problems.add("name", "use 1–120 characters"),
        }
    }
    if let Some(slug) = body.slug {
        match check_slug(&slug) {
            Ok(()) => org.slug = slug,
            Err(_) => problems.add(
                "slug",
                "use 2–48 lower-case letters, digits and single hyphens",
            ),
        }
    }
    if let Some(z) = body.time_zone {
        let z = z.trim().to_string();
        if crate::values::is_time_zone(&z) {
            org.time_zone = z;
        } else {
            problems.add("time_zone", "use an IANA time zone such as Europe/London");
        }
    }
    if let Some(f) = body.date_format {
        if crate::values::is_date_format(&f) {
            org.date_format = f;
        } else {
            problems.add(
                "date_format",
                format!("use one of: {}", crate::values::DATE_FORMATS.join(" · ")),
            );
        }
    }
    if let Some(c) = body.default_country {
        match check_country("default_country", &c) {
            Ok(c) => org.default_country = c,
            Err(_) => problems.add("default_country", "use a two-letter ISO 3166 country code"),
        }
    }
    if let Some(c) = body.default_currency {
        let c = c.trim().to_ascii_uppercase();
        if crate::values::is_currency(&c) {
            org.default_currency = c;
        } else {
            problems.add("default_currency", "use an ISO 4217 code such as EUR");
        }
    }
    if let Some(on) = body.require_mfa {
        org.require_mfa = on;
    }
    problems.into_result()?;
    let o = org.clone();
    let turning_on = org.require_mfa && !access.org.require_mfa;
    let rezoned = org.time_zone != access.org.time_zone;
    let person = access.actor_person();
    state
        .control
        .write(move |tx| {
            if turning_on && !crate::auth::mfa::has_factor(tx, &person)? {
                return Err(AppError::field(
                    "require_mfa",
                    "set up two-factor sign-in for yourself first, so you are not locked out",
                ));
            }
            save_settings(tx, &o)?;
            // Reminders of tasks due on a day come at 09:00 in the organization's zone
            // for members without a zone of their own.
            if rezoned {
                crate::platform::notifications::rezone_org(tx, &o.id)?;
            }
            Ok(())
        })
        .await?;
    let (before, after) = crate::audit::changed(
        &serde_json::to_value(&access.org).unwrap_or_default(),
        &serde_json::to_value(&org).unwrap_or_default(),
    );
    if after.as_object().is_some_and(|a| !a.is_empty()) {
        access
            .audit(
                crate::audit::Entry::new(access.audit_actor(), "org.settings_changed")
                    .target("organization", &org.id, &org.name)
                    .before(before)
                    .after(after),
            )
            .await?;
    }
    Ok(Json(OrgWithRole {
        org,
        role: access.role,
        closure: None,
    }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_from_name("Acme & Sons, Ltd."), "acme-sons-ltd");
        assert!(slug_from_name("!!").starts_with("org-"));
        assert!(check_slug("acme-sons").is_ok());
        for bad in ["A", "-acme", "acme-", "ac--me", "acmé", "a"] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
    }
}
