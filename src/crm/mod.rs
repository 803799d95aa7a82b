//! CRM records, one module per entity. What they share sits here: the trash
//! (soft delete and restore), partial updates, and the owner check.

pub mod companies;
pub mod contacts;
pub mod list;
pub mod patch;
pub mod search;

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::platform::members;
use crate::state::AppState;

/// What the tenant layer needs of the kinds: search sources, trash purge.
pub fn tenant_hooks() -> crate::tenant::TenantHooks {
    crate::tenant::TenantHooks {
        sources: SEARCH_SOURCES,
        purge_trash,
    }
}

static SEARCH_SOURCES: &[&dyn crate::search::Source] = &[&contacts::SEARCH, &companies::SEARCH];

/// How long deleted records stay restorable before they are erased for good.
pub const TRASH_DAYS: i64 = 30;

/// Moves a live record to the trash; 404 if there is none.
pub fn trash(conn: &Connection, table: &str, id: &str, actor: &str) -> AppResult<()> {
    let now = clock::now_stamp();
    let n = conn.execute(
        &format!(
            "UPDATE {table} SET deleted_at = ?2, updated_at = ?2, updated_by = ?3
             WHERE id = ?1 AND deleted_at IS NULL"
        ),
        params![id, now, actor],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    crate::search::enqueue(conn, search_kind(table), id)
}

/// The search kind of a record table.
fn search_kind(table: &str) -> &'static str {
    match table {
        "companies" => "company",
        _ => "contact",
    }
}

fn trash_cutoff() -> String {
    clock::stamp(clock::now() - time::Duration::days(TRASH_DAYS))
}

/// Brings a record back from the trash; 404 if it is not there (or has been
/// there longer than `TRASH_DAYS`, waiting to be erased).
pub fn restore(conn: &Connection, table: &str, id: &str, actor: &str) -> AppResult<()> {
    let n = conn.execute(
        &format!(
            "UPDATE {table} SET deleted_at = NULL, updated_at = ?2, updated_by = ?3
             WHERE id = ?1 AND deleted_at IS NOT NULL AND deleted_at >= ?4"
        ),
        params![id, clock::now_stamp(), actor, trash_cutoff()],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    crate::search::enqueue(conn, search_kind(table), id)
}

/// Erases records that have been in the trash longer than `TRASH_DAYS`.
pub fn purge_trash(conn: &Connection) -> AppResult<usize> {
    let cutoff = trash_cutoff();
    let mut n = conn.execute("DELETE FROM contacts WHERE deleted_at < ?1", [&cutoff])?;
    n += conn.execute("DELETE FROM companies WHERE deleted_at < ?1", [&cutoff])?;
    Ok(n)
}

/// A PATCH body applied to the record's current input form: keys present
/// replace (null clears), absent keys stay. Read-only keys are ignored so a
/// client may send back a whole record it fetched.
pub fn merge_patch(mut current: Value, patch: Value, read_only: &[&str]) -> AppResult<Value> {
    let Value::Object(changes) = patch else {
        return Err(AppError::field("body", "send a JSON object"));
    };
    let Value::Object(target) = &mut current else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "record is not an object"
        )));
    };
    for (k, v) in changes {
        if !read_only.contains(&k.as_str()) {
            target.insert(k, v);
        }
    }
    Ok(current)
}

/// 422 unless `owner_id` is a member of the organization.
pub async fn check_owner(state: &AppState, org_id: &str, owner_id: Option<&str>) -> AppResult<()> {
    let Some(owner) = owner_id.map(str::to_string) else {
        return Ok(());
    };
    let org = org_id.to_string();
    let ok = state
        .control
        .read(move |c| members::is_member(c, &org, &owner))
        .await?;
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            "owner_id",
            "not a member of this organization",
        ))
    }
}
