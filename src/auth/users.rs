//! People who can sign in. Users belong to organizations through memberships.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::clock;
use crate::error::AppResult;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_platform_admin: bool,
    pub created_at: String,
    /// IANA time zone for the times this person sees; null: the browser's.
    pub time_zone: Option<String>,
    /// How this person's dates are written (see `PATCH /account`); null: the organization's.
    pub date_format: Option<String>,
}

pub const COLUMNS: &str =
    "u.id, u.email, u.name, u.is_platform_admin, u.created_at, u.time_zone, u.date_format";
/// How many columns `COLUMNS` selects (the next one is at this index).
pub const WIDTH: usize = 7;

pub fn from_row(r: &Row, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(at)?,
        email: r.get(at + 1)?,
        name: r.get(at + 2)?,
        is_platform_admin: r.get(at + 3)?,
        created_at: r.get(at + 4)?,
        time_zone: r.get(at + 5)?,
        date_format: r.get(at + 6)?,
    })
}

/// The user and their password hash (None while only invited).
pub fn by_email(conn: &Connection, email: &str) -> AppResult<Option<(User, Option<String>)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS}, u.password_hash FROM users u WHERE u.email = ?1"),
            [email],
            |r| Ok((from_row(r, 0)?, r.get(WIDTH)?)),
        )
        .optional()?)
}

pub fn by_id(conn: &Connection, id: &str) -> AppResult<Option<(User, Option<String>)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS}, u.password_hash FROM users u WHERE u.id = ?1"),
            [id],
            |r| Ok((from_row(r, 0)?, r.get(WIDTH)?)),
        )
        .optional()?)
}

/// The names of an organization's members, for its own database's copy
/// (`tenant::people`). Invited people who have not joined yet are left out.
pub fn names_in_org(
    conn: &Connection,
    org_id: &str,
) -> AppResult<Vec<crate::tenant::people::Person>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.name FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = ?1 AND m.status = 'active'",
    )?;
    let people = stmt
        .query_map([org_id], |r| {
            Ok(crate::tenant::people::Person {
                user_id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(people)
}

pub fn any_exist(conn: &Connection) -> AppResult<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
}

pub fn insert(
    conn: &Connection,
    email: &str,
    name: &str,
    password_hash: Option<&str>,
    platform_admin: bool,
) -> AppResult<User> {
    let now = clock::now_stamp();
    let user = User {
        id: clock::new_id(),
        email: email.to_string(),
        name: name.to_string(),
        is_platform_admin: platform_admin,
        created_at: now.clone(),
        time_zone: None,
        date_format: None,
    };
    conn.execute(
        "INSERT INTO users (id, email, name, password_hash, is_platform_admin, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![user.id, user.email, user.name, password_hash, platform_admin, now],
    )?;
    Ok(user)
}

pub fn set_password(conn: &Connection, user_id: &str, hash: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![user_id, hash, clock::now_stamp()],
    )?;
    Ok(())
}

pub fn set_name(conn: &Connection, user_id: &str, name: &str) -> AppResult<()> {
    conn.execute(
        "UPDATE users SET name = ?2, updated_at = ?3 WHERE id = ?1",
        params![user_id, name, clock::now_stamp()],
    )?;
    Ok(())
}

/// Sets a person's own name, time zone and date format.
pub fn set_preferences(
    conn: &Connection,
    user_id: &str,
    name: &str,
    time_zone: Option<&str>,
    date_format: Option<&str>,
) -> AppResult<()> {
    conn.execute(
        "UPDATE users SET name = ?2, time_zone = ?3, date_format = ?4, updated_at = ?5 WHERE id = ?1",
        params![user_id, name, time_zone, date_format, clock::now_stamp()],
    )?;
    Ok(())
}

/// Trims and lower-cases an email address and checks its syntax.
pub fn normalize_email(field: &str, email: &str) -> AppResult<String> {
    let e = email.trim().to_lowercase();
    if !crate::values::is_email(&e) {
        return Err(crate::error::AppError::field(
            field,
            "not a valid email address",
        ));
    }
    Ok(e)
}

/// A person's display name: trimmed, 1–200 characters.
pub fn check_name(field: &str, name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(crate::error::AppError::field(field, "required"));
    }
    if n.chars().count() > 200 {
        return Err(crate::error::AppError::field(
            field,
            "use at most 200 characters",
        ));
    }
    Ok(n.to_string())
}
