//! Creating or changing a record inside the caller's write transaction, for
//! writes that come from other systems (inbound webhooks): synchronous, so
//! many records and the caller's own bookkeeping commit together or not at
//! all, and naming no new user — an outside system cannot make someone an
//! owner, an assignee or a participant.

use serde_json::{Map, Value};

use rusqlite::Connection;

use super::catalogue::FieldType;
use super::custom::{self, CustomField};
use super::patch::{merged, split, validate_change, validate_new, write_patch};
use super::{RecordKind, store};
use crate::clock;
use crate::error::{AppError, AppResult};
use crate::platform::orgs::Org;

/// Creates a record of kind `K` from `body`; returns its id.
pub fn create_in_tx<K: RecordKind>(
    tx: &Connection,
    body: Value,
    org: &Org,
    actor: &str,
) -> AppResult<String> {
    let (mut input, custom_sent) = split(body, &[])?;
    K::org_defaults(&mut input, org);
    let fields = custom::of_kind(tx, K::KIND)?;
    let (clean, custom) = validate_new::<K>(input, custom_sent, &fields, &org.default_country)?;
    refuse_users::<K>(&clean, &fields, &custom, None)?;
    store::check_custom::<K>(tx, &custom, "")?;
    store::insert::<K>(tx, &clean, &custom, actor, &clock::now_stamp())
}

/// Applies `patch` to record `id`; Ok(false) when there is no such live record.
pub fn update_in_tx<K: RecordKind>(
    tx: &Connection,
    id: &str,
    patch: Value,
    org: &Org,
    actor: &str,
) -> AppResult<bool> {
    let Some(current) = store::load::<K>(tx, id)? else {
        return Ok(false);
    };
    let fields = custom::of_kind(tx, K::KIND)?;
    let before = serde_json::to_string(&current).map_err(|e| AppError::Internal(e.into()))?;
    let (input, custom_sent) = merged::<K>(&current, patch)?;
    let (clean, custom) =
        validate_change::<K>(input, custom_sent, &current, &fields, &org.default_country)?;
    refuse_users::<K>(&clean, &fields, &custom, Some(&before))?;
    write_patch::<K>(tx, current, &clean, &custom, actor)?;
    Ok(true)
}

/// 422 when the input names a user the record did not already name.
fn refuse_users<K: RecordKind>(
    clean: &K::Clean,
    fields: &[CustomField],
    custom: &Map<String, Value>,
    before: Option<&str>,
) -> AppResult<()> {
    let is_new = |u: &str| before.is_none_or(|json| !json.contains(u));
    let refuse = |field: String| {
        Err(AppError::field(
            field,
            "an inbound webhook cannot name members (owner, assignee, user fields)",
        ))
    };
    if K::owner_of(clean).is_some_and(is_new) {
        return refuse("owner_id".into());
    }
    if let Some((field, _)) = K::members_named(clean).into_iter().find(|(_, u)| is_new(u)) {
        return refuse(field);
    }
    for f in fields.iter().filter(|f| f.ty == FieldType::User) {
        if custom
            .get(&f.key)
            .and_then(Value::as_str)
            .is_some_and(is_new)
        {
            return refuse(format!("custom.{}", f.key));
        }
    }
    Ok(())
}
