//! `POST /{kind}/bulk`: one change to many records — chosen by id, or every
//! record of a filtered list ("select all 295 matching") — change fields as a
//! PATCH would (owner, stage, …), add or remove tags, or move to the trash.
//!
//! The records a list's parameters match are read once, when the request
//! arrives; the change is then written in batches, one write transaction
//! each, so other writes of the organization wait at most one batch. Each
//! record changes as its own PATCH or DELETE would: history, search, notices.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, Json};
use crate::platform::access::OrgAccess;
use crate::record::list::{ListQuery, fields_of};
use crate::record::routes::me;
use crate::record::{RecordKind, custom, find, patch, restrict, store, tags};
use crate::state::AppState;

/// The most records one bulk request changes by id.
pub const MAX_IDS: usize = 1000;
/// The most records one bulk request changes by a list's parameters.
pub const MAX_MATCHING: usize = 10_000;
/// Records per write transaction.
const BATCH: usize = 250;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAction {
    /// The records, by id (1 to 1,000) …
    #[schema(max_items = 1000)]
    pub ids: Option<Vec<String>>,
    /// … or every record of the list these parameters give (as `GET` of the
    /// list takes them: `q`, `filter`, `stage`, `owner`, …; up to 10,000
    /// records). Give `ids` or `matching`, not both.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub matching: Option<BTreeMap<String, String>>,
    /// Fields to change on every record, as a PATCH body, e.g.
    /// `{"owner_id": "…"}` or `{"stage": "customer"}`.
    #[schema(value_type = Option<Object>)]
    pub set: Option<Value>,
    /// Tag ids to add.
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Tag ids to remove.
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// Move the records to the trash (alone: not with other changes).
    #[serde(default)]
    pub delete: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkDone {
    /// Records the request named or matched.
    pub matched: usize,
    /// Records it changed (the others already were as asked, or are gone).
    pub updated: usize,
    /// The ids of the records it changed (to undo a delete: restore them).
    pub ids: Vec<String>,
}

/// What one record gets.
#[derive(Clone)]
struct Change {
    set: Option<Value>,
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
    delete: bool,
}

fn check(body: &BulkAction) -> AppResult<()> {
    match (&body.ids, &body.matching) {
        (Some(_), Some(_)) => {
            return Err(AppError::field(
                "matching",
                "give ids or matching, not both",
            ));
        }
        (None, None) => return Err(AppError::field("ids", "give ids or matching")),
        (Some(ids), None) if ids.is_empty() || ids.len() > MAX_IDS => {
            return Err(AppError::field(
                "ids",
                format!("send 1 to {MAX_IDS} record ids"),
            ));
        }
        _ => {}
    }
    if let Some(set) = &body.set
        && set.as_object().is_none_or(|o| o.is_empty())
    {
        return Err(AppError::field(
            "set",
            "send an object of the fields to change",
        ));
    }
    let changes = body.set.is_some() || !body.add_tags.is_empty() || !body.remove_tags.is_empty();
    if body.delete && changes {
        return Err(AppError::field(
            "delete",
            "a delete goes alone, without other changes",
        ));
    }
    if !body.delete && !changes {
        return Err(AppError::field(
            "set",
            "send set, add_tags, remove_tags or delete",
        ));
    }
    Ok(())
}

/// The ids a bulk request is about: the ones sent, or the list's records.
async fn chosen<K: RecordKind>(
    access: &OrgAccess,
    body: &mut BulkAction,
) -> AppResult<Vec<String>> {
    if let Some(ids) = body.ids.take() {
        return Ok(ids);
    }
    let params = body.matching.take().unwrap_or_default();
    if let Some(k) = ["cursor", "limit"]
        .iter()
        .find(|k| params.contains_key(**k))
    {
        return Err(AppError::field(
            "matching",
            format!("{k} pages a list; a bulk action takes the whole list"),
        ));
    }
    let found = find::found::<K>(access, &params).await?;
    let me = me(access);
    let ids = access
        .tenant
        .db
        .read(move |c| {
            let q = ListQuery::with_found::<K>(&params, &fields_of::<K>(c)?, me, found.as_ref())
                .map_err(|e| match e {
                    AppError::Validation { fields, .. } => AppError::field(
                        "matching",
                        fields
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    other => other,
                })?;
            q.ids::<K>(c, MAX_MATCHING + 1)
        })
        .await?;
    if ids.len() > MAX_MATCHING {
        return Err(AppError::field(
            "matching",
            format!("more than {MAX_MATCHING} records match; narrow the list"),
        ));
    }
    Ok(ids)
}

pub async fn bulk<K: RecordKind>(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(mut body): Json<BulkAction>,
) -> AppResult<Json<BulkDone>> {
    access.require(Role::Member)?;
    check(&body)?;
    let ids = chosen::<K>(&access, &mut body).await?;
    let change = Change {
        set: body.set.take(),
        add_tags: std::mem::take(&mut body.add_tags),
        remove_tags: std::mem::take(&mut body.remove_tags),
        delete: body.delete,
    };
    let matched = ids.len();
    // Refused whole, before the first batch: a restricted record among them
    // would otherwise stop the change half-way.
    {
        let ids = ids.clone();
        access
            .tenant
            .db
            .read(move |c| restrict::ensure_none_among(c, K::LABEL_PLURAL, &ids))
            .await?;
    }
    // Checked once, before anything is written: the tags, the users the
    // patch names, and the patch itself on the first record (a bad value is
    // a 422 with nothing written).
    let tag_ids: Vec<String> = change
        .add_tags
        .iter()
        .chain(&change.remove_tags)
        .cloned()
        .collect();
    if !tag_ids.is_empty() {
        access
            .tenant
            .db
            .read(move |c| tags::check_ids(c, &tag_ids))
            .await?;
    }
    if let Some(set) = &change.set {
        let first = ids.first().cloned();
        let sample = match first {
            Some(id) => {
                access
                    .tenant
                    .db
                    .read(move |c| store::load::<K>(c, &id))
                    .await?
            }
            None => None,
        };
        patch::check_bulk_members::<K>(&state, &access, set, sample).await?;
    }
    let actor = access.actor().stamp();
    let region = access.org.default_country.clone();
    let mut changed = Vec::new();
    for (n, batch) in ids.chunks(BATCH).enumerate() {
        let batch = batch.to_vec();
        let (change, actor, region) = (change.clone(), actor.clone(), region.clone());
        let first_batch = n == 0;
        let done = access
            .tenant
            .write(move |tx| apply::<K>(tx, &batch, &change, &actor, &region, first_batch))
            .await?;
        changed.extend(done);
    }
    if change.set.is_some() {
        patch::deliver(&state, &access).await;
    }
    Ok(Json(BulkDone {
        matched,
        updated: changed.len(),
        ids: changed,
    }))
}

/// One batch, in one write transaction: the ids it changed. A record the
/// patch doesn't fit (its own data makes it invalid) is left as it is,
/// except the very first (`strict`): a problem there is the patch's own and
/// refuses the whole request before anything is written.
fn apply<K: RecordKind>(
    tx: &rusqlite::Connection,
    ids: &[String],
    change: &Change,
    actor: &str,
    region: &str,
    strict: bool,
) -> AppResult<Vec<String>> {
    let fields = custom::of_kind(tx, K::KIND)?;
    let mut changed = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if change.delete {
            match store::trash::<K>(tx, id, actor) {
                Ok(()) => changed.push(id.clone()),
                Err(AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        if !store::exists(tx, K::TABLE, id)? {
            continue;
        }
        let mut did = false;
        if let Some(set) = &change.set {
            match patch::apply_in_tx::<K>(tx, id, set, &fields, region, actor) {
                Ok(d) => did |= d,
                Err(e @ AppError::Validation { .. }) if strict && i == 0 => return Err(e),
                Err(AppError::Validation { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        if !change.add_tags.is_empty() {
            did |= tags::set_on(tx, K::KIND, id, &change.add_tags, true)?;
        }
        if !change.remove_tags.is_empty() {
            did |= tags::set_on(tx, K::KIND, id, &change.remove_tags, false)?;
        }
        if did {
            changed.push(id.clone());
        }
    }
    Ok(changed)
}
