//! Partial updates (PATCH) of any kind of record: fields sent replace, `null`
//! clears, absent fields stay.
//!
//! A PATCH is read, merged and validated outside the writer (validation can be
//! slow: phone numbers), then written only if the record did not change
//! meanwhile. If it did, the same patch is merged again inside the write
//! transaction, where nothing can intervene. A PATCH names only the fields it
//! changes and carries no version, so a concurrent write is not the caller's
//! conflict: the patch lands on the newer record (per field, the last writer
//! wins) and no caller is ever refused.

use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::platform::access::OrgAccess;
use crate::state::AppState;

/// A record kind that can be patched.
pub(crate) trait Patchable: Sized + Send + 'static {
    /// What a client sends (every field optional).
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// A validated input, ready to save.
    type Clean: Send + 'static;
    /// Fields of the record a body may carry back but that are ignored.
    const READ_ONLY: &'static [&'static str];

    fn load(conn: &Connection, id: &str) -> AppResult<Option<Self>>;
    fn to_input(&self) -> Self::Input;
    /// Changes whenever the record is written (its `updated_at`).
    fn version(&self) -> &str;
    fn owner(&self) -> Option<&str>;
    fn validate(input: Self::Input, region: &str) -> AppResult<Self::Clean>;
    fn clean_owner(clean: &Self::Clean) -> Option<&str>;
    /// Writes the fields of an existing record.
    fn save(
        conn: &Connection,
        id: &str,
        clean: &Self::Clean,
        actor: &str,
        now: &str,
    ) -> AppResult<()>;
}

/// Applies `patch` to record `id` of the caller's organization.
pub(crate) async fn apply<R: Patchable>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
) -> AppResult<R> {
    match optimistic::<R>(state, access, id.clone(), patch.clone()).await {
        Err(AppError::Conflict(_)) => in_writer::<R>(state, access, id, patch).await,
        other => other,
    }
}

fn merged<R: Patchable>(current: &R, patch: Value) -> AppResult<R::Input> {
    let before =
        serde_json::to_value(current.to_input()).map_err(|e| AppError::Internal(e.into()))?;
    let merged = crate::crm::merge_patch(before, patch, R::READ_ONLY)?;
    crate::error::from_value(merged)
}

/// Validates off the writer; `Conflict` if the record changed after it was read.
async fn optimistic<R: Patchable>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
) -> AppResult<R> {
    let lookup = id.clone();
    let current = access
        .tenant
        .db
        .read(move |c| R::load(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    let input = merged(&current, patch)?;
    let region = access.org.default_country.clone();
    let clean = crate::db::off_runtime(move || R::validate(input, &region)).await?;
    if R::clean_owner(&clean) != current.owner() {
        crate::crm::check_owner(state, &access.org.id, R::clean_owner(&clean)).await?;
    }
    let actor = access.actor().stamp();
    let seen = current.version().to_string();
    access
        .tenant
        .write(move |tx| {
            let now = R::load(tx, &id)?.ok_or(AppError::NotFound)?;
            if now.version() != seen {
                return Err(AppError::Conflict("changed meanwhile".into()));
            }
            R::save(tx, &id, &clean, &actor, &clock::now_stamp())?;
            R::load(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await
}

/// Reads, merges, validates and writes in one write transaction.
async fn in_writer<R: Patchable>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
) -> AppResult<R> {
    if let Some(owner) = patch.get("owner_id").and_then(Value::as_str) {
        crate::crm::check_owner(state, &access.org.id, Some(owner)).await?;
    }
    let region = access.org.default_country.clone();
    let actor = access.actor().stamp();
    access
        .tenant
        .write(move |tx| {
            let current = R::load(tx, &id)?.ok_or(AppError::NotFound)?;
            let clean = R::validate(merged(&current, patch)?, &region)?;
            R::save(tx, &id, &clean, &actor, &clock::now_stamp())?;
            R::load(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await
}
