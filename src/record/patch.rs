//! Creating and changing records of any kind.
//!
//! A small PATCH is read, merged, validated and written in one turn of the
//! writer (`in_writer`), where nothing can intervene. A large one (long
//! HTML to sanitize, many values) is read, merged and validated outside the
//! writer, then written only if the record did not change meanwhile; if it
//! did, it goes to the writer after all. A PATCH names only the fields it
//! changes and carries no version, so a concurrent write is not the
//! caller's conflict: the patch lands on the newer record (per field, the
//! last writer wins) and no caller is ever refused.

use rusqlite::Connection;
use serde_json::{Map, Value};

use crate::clock;
use crate::error::{AppError, AppResult, Problems};
use crate::platform::access::OrgAccess;
use crate::platform::members;
use crate::record::catalogue::FieldType;
use crate::record::custom::{self, CustomField, values};
use crate::record::{Record, RecordKind, history, store};
use crate::state::AppState;
use crate::values::Phones;

/// Keys of a record a body may carry back but that are not the kind's input.
const LAYER_KEYS: &[&str] = &["custom", "tags"];

/// Splits a body into the kind's input and the custom values sent.
pub(super) fn split(
    body: Value,
    read_only: &[&str],
) -> AppResult<(Map<String, Value>, Option<Value>)> {
    let Value::Object(mut fields) = body else {
        return Err(AppError::field("body", "send a JSON object"));
    };
    let custom = fields.remove("custom");
    fields.remove("tags");
    fields.retain(|k, _| !read_only.contains(&k.as_str()));
    Ok((fields, custom))
}

/// A new record's validation (see `validate`).
pub(super) fn validate_new<K: RecordKind>(
    input: Map<String, Value>,
    custom_sent: Option<Value>,
    fields: &[CustomField],
    region: &str,
) -> AppResult<(K::Clean, Map<String, Value>)> {
    let phones = Phones::new(region);
    validate::<K>(input, custom_sent, Map::new(), fields, true, &phones)
}

/// A change's validation (see `validate`): the sent custom values merge
/// into those `current` stores, and the phone numbers it holds are taken
/// as they are.
pub(super) fn validate_change<K: RecordKind>(
    input: Map<String, Value>,
    custom_sent: Option<Value>,
    current: &K::Record,
    fields: &[CustomField],
    region: &str,
) -> AppResult<(K::Clean, Map<String, Value>)> {
    let stored = current.extras().custom.clone();
    let phones = Phones::with_stored(region, K::stored_phones(current));
    validate::<K>(input, custom_sent, stored, fields, false, &phones)
}

/// A kind's validation and the custom values' checks, as one 422.
fn validate<K: RecordKind>(
    input: Map<String, Value>,
    custom_sent: Option<Value>,
    current_custom: Map<String, Value>,
    fields: &[CustomField],
    creating: bool,
    phones: &Phones<'_>,
) -> AppResult<(K::Clean, Map<String, Value>)> {
    let mut p = Problems::new();
    let custom = values::merge(
        fields,
        current_custom,
        custom_sent,
        creating,
        phones.region(),
        &mut p,
    );
    let clean = crate::error::from_value::<K::Input>(Value::Object(input))
        .and_then(|i| K::validate(i, phones));
    match clean {
        Ok(c) => {
            p.into_result()?;
            Ok((c, custom))
        }
        Err(AppError::Validation {
            message,
            mut fields,
        }) => {
            if let Err(AppError::Validation { fields: more, .. }) = p.into_result() {
                fields.extend(more);
            }
            Err(AppError::Validation { message, fields })
        }
        Err(other) => Err(other),
    }
}

/// Values in a body at most, for its validation to run where the request
/// is served (see `where_cheap`): a contact with a few emails and phones
/// has about twenty.
const SMALL_BODY_VALUES: usize = 64;
/// Bytes of text in such a body at most (keys and strings): a note's or an
/// email's HTML is one value but is sanitized in time that grows with it.
const SMALL_BODY_TEXT: usize = 8 << 10;

/// Whether `body` holds at most `SMALL_BODY_VALUES` values and
/// `SMALL_BODY_TEXT` bytes of text, counted until it does not.
fn is_small(body: &Value) -> bool {
    Budget::new().fits(body)
}

/// Whether a kind's merged input, the custom values sent and those stored
/// are small together (see `is_small`).
fn is_small_input(
    input: &Map<String, Value>,
    custom: Option<&Value>,
    stored: &Map<String, Value>,
) -> bool {
    let mut left = Budget::new();
    let mut fits_map = |m: &Map<String, Value>| {
        m.iter()
            .all(|(k, v)| left.take_text(k.len()) && left.fits(v))
    };
    fits_map(input) && fits_map(stored) && custom.is_none_or(|c| left.fits(c))
}

/// What is left of a small body's values and text while it is counted.
struct Budget {
    values: usize,
    text: usize,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            values: SMALL_BODY_VALUES,
            text: SMALL_BODY_TEXT,
        }
    }

    fn take_text(&mut self, len: usize) -> bool {
        match self.text.checked_sub(len) {
            Some(rest) => {
                self.text = rest;
                true
            }
            None => false,
        }
    }

    fn fits(&mut self, v: &Value) -> bool {
        if self.values == 0 {
            return false;
        }
        self.values -= 1;
        match v {
            Value::Array(items) => items.iter().all(|i| self.fits(i)),
            Value::Object(map) => map
                .iter()
                .all(|(k, i)| self.take_text(k.len()) && self.fits(i)),
            Value::String(s) => self.take_text(s.len()),
            _ => true,
        }
    }
}

/// Runs a validation where it is cheapest. A small body's takes tens of
/// microseconds (phone numbers are the slow part) and runs right here:
/// handing it to the blocking pool and back cost a create two thread
/// switches and a turn on the pool's lock, on one core more than the
/// validation itself. A large body's (many values, or long HTML to
/// sanitize) goes off the async workers. A panic is an internal error
/// either way.
async fn where_cheap<T, F>(small: bool, f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    if !small {
        return crate::db::off_runtime(f).await;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(AppError::Internal(anyhow::anyhow!("a validation panicked"))))
}

/// The users an owner (or assignee) and a record's user fields name, as
/// (field, user).
fn owner_and_user_fields(
    owner: Option<&str>,
    fields: &[CustomField],
    custom: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut users: Vec<(String, String)> = Vec::new();
    if let Some(o) = owner {
        users.push(("owner_id".into(), o.to_string()));
    }
    for f in fields.iter().filter(|f| f.ty == FieldType::User) {
        if let Some(u) = custom.get(&f.key).and_then(Value::as_str) {
            users.push((format!("custom.{}", f.key), u.to_string()));
        }
    }
    users
}

/// The users a validated record names that `current` (the record as it
/// was) did not, as (field, user). A user the record already names may
/// have left the organization: only new names are checked.
fn new_users<K: RecordKind>(
    current: &K::Record,
    clean: &K::Clean,
    fields: &[CustomField],
    custom: &Map<String, Value>,
) -> AppResult<Vec<(String, String)>> {
    let old_custom = &current.extras().custom;
    let old_owner = current.owner();
    let mut users: Vec<(String, String)> =
        owner_and_user_fields(K::owner_of(clean), fields, custom)
            .into_iter()
            .filter(|(_, u)| {
                old_owner != Some(u.as_str())
                    && !old_custom.values().any(|v| v.as_str() == Some(u.as_str()))
            })
            .collect();
    // The record is written out to look only when the input names some.
    let named = K::members_named(clean);
    if !named.is_empty() {
        let old_json = serde_json::to_string(current).map_err(|e| AppError::Internal(e.into()))?;
        users.extend(
            named
                .into_iter()
                .filter(|(_, u)| !old_json.contains(u.as_str())),
        );
    }
    Ok(users)
}

/// 422 unless every user in `users` (field, user) is a member.
async fn check_users(
    state: &AppState,
    org_id: &str,
    users: Vec<(String, String)>,
) -> AppResult<()> {
    for (field, user) in users {
        let org = org_id.to_string();
        let ok = state
            .control
            .read(move |c| members::is_member(c, &org, &user))
            .await?;
        if !ok {
            return Err(AppError::field(field, "not a member of this organization"));
        }
    }
    Ok(())
}

/// Creates a record from a request body.
pub async fn create<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    body: Value,
) -> AppResult<K::Record> {
    let small = is_small(&body);
    let (mut input, custom_sent) = split(body, &[])?;
    K::org_defaults(&mut input, &access.org);
    let region = access.org.default_country.clone();
    let fields = access
        .tenant
        .db
        .lookup(|c| custom::of_kind(c, K::KIND))
        .await?;
    let (clean, custom, fields) = where_cheap(small, move || {
        let (clean, custom) = validate_new::<K>(input, custom_sent, &fields, &region)?;
        Ok((clean, custom, fields))
    })
    .await?;
    let mut users = owner_and_user_fields(K::owner_of(&clean), &fields, &custom);
    users.extend(K::members_named(&clean));
    check_users(state, &access.org.id, users).await?;
    let actor = access.actor().stamp();
    let rec = access
        .tenant
        .write(move |tx| {
            store::check_custom::<K>(tx, &custom, "")?;
            store::insert_shown::<K>(tx, &clean, &custom, &actor, &clock::now_stamp())
        })
        .await?;
    deliver(state, access).await;
    Ok(rec)
}

/// Hands on the notices the write left (assignments, mentions, due dates).
/// The write has committed: a failure here is logged, and the notices wait
/// in the organization's outbox for the next delivery.
pub async fn deliver(state: &AppState, access: &OrgAccess) {
    if let Err(e) =
        crate::platform::notifications::deliver(state, &access.org.id, &access.tenant).await
    {
        tracing::error!(org = %access.org.id, error = %e, "delivering notifications failed");
    }
}

pub(super) fn merged<K: RecordKind>(
    current: &K::Record,
    patch: Value,
) -> AppResult<(Map<String, Value>, Option<Value>)> {
    let before =
        serde_json::to_value(K::to_input(current)).map_err(|e| AppError::Internal(e.into()))?;
    let Value::Object(mut base) = before else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "input is not an object"
        )));
    };
    let (changes, custom) = split(patch, &[])?;
    for (k, v) in changes {
        if base.contains_key(&k) || !is_read_only::<K>(&k) {
            base.insert(k, v);
        }
    }
    Ok((base, custom))
}

/// Fields of the record JSON a client may send back but cannot change.
fn is_read_only<K: RecordKind>(key: &str) -> bool {
    LAYER_KEYS.contains(&key)
        || matches!(
            key,
            "id" | "created_at" | "updated_at" | "created_by" | "updated_by"
        )
        || K::READ_ONLY.contains(&key)
}

/// Applies `patch` to record `id` of the caller's organization.
///
/// A small patch is read, merged, validated and written in one turn of
/// the writer: the writer's own connection holds the record's pages
/// already, where a reading connection starts each snapshot after a
/// commit with an empty cache and the record's pages to find again in
/// the write-ahead log (11 % of an update storm's core, for a validation
/// of tens of microseconds the writer now runs). A record too large to
/// validate quickly on the writer is validated off it first.
pub async fn update<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
) -> AppResult<K::Record> {
    let written = if is_small(&patch) {
        in_writer::<K>(state, access, id.clone(), patch.clone(), Size::SmallOnly).await?
    } else {
        None
    };
    let rec = match written {
        Some(rec) => rec,
        None => match optimistic::<K>(state, access, id.clone(), patch.clone()).await {
            Err(AppError::Conflict(_)) => in_writer::<K>(state, access, id, patch, Size::Any)
                .await?
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("a patch of any size was refused as large"))
                })?,
            other => other?,
        },
    };
    deliver(state, access).await;
    Ok(rec)
}

/// Writes a validated patch over `before` (the record as stored, read in
/// this transaction) and records what changed.
pub(super) fn write_patch<K: RecordKind>(
    tx: &Connection,
    before: K::Record,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
) -> AppResult<K::Record> {
    let id = before.id().to_string();
    let id = id.as_str();
    store::check_custom::<K>(tx, custom, id)?;
    let mut shown_before = vec![before];
    store::decorate::<K>(tx, &mut shown_before)?;
    let before = &shown_before[0];
    let now = clock::now_stamp();
    store::replace::<K>(tx, before, clean, custom, actor, &now)?;
    let mut after = store::load::<K>(tx, id)?.ok_or(AppError::NotFound)?;
    store::decorate_changed::<K>(tx, &mut after, before)?;
    let to_value =
        |r: &K::Record| serde_json::to_value(r).map_err(|e| AppError::Internal(e.into()));
    let changes = history::diff(&to_value(before)?, &to_value(&after)?, K::READ_ONLY);
    if !changes.is_empty() {
        history::record(tx, K::KIND, id, actor, &now, "updated", &changes)?;
        store::emit::<K>(tx, "updated", id, Some(&changes), Some(&after))?;
    }
    Ok(after)
}

/// Validates off the writer; `Conflict` if the record changed after it was read.
async fn optimistic<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
) -> AppResult<K::Record> {
    let lookup = id.clone();
    let region = access.org.default_country.clone();
    let (current, fields) = access
        .tenant
        .db
        .lookup(move |c| Ok((store::load::<K>(c, &lookup)?, custom::of_kind(c, K::KIND)?)))
        .await?;
    let current = current.ok_or(AppError::NotFound)?;
    // The whole record is validated again, not only what the patch names
    // (a note's title changed re-reads its body): its size decides.
    let (input, custom_sent) = merged::<K>(&current, patch)?;
    let small = is_small_input(&input, custom_sent.as_ref(), &current.extras().custom);
    let (current, clean, custom, fields) = where_cheap(small, move || {
        let (clean, custom) = validate_change::<K>(input, custom_sent, &current, &fields, &region)?;
        Ok((current, clean, custom, fields))
    })
    .await?;
    check_users(
        state,
        &access.org.id,
        new_users::<K>(&current, &clean, &fields, &custom)?,
    )
    .await?;
    let actor = access.actor().stamp();
    let seen = current.version().to_string();
    // Unchanged since it was read (same version): what was read is what is
    // stored, and the writer need not load it again.
    access
        .tenant
        .write(move |tx| {
            if store::version::<K>(tx, &id)?.ok_or(AppError::NotFound)? != seen {
                return Err(AppError::Conflict("changed meanwhile".into()));
            }
            write_patch::<K>(tx, current, &clean, &custom, &actor)
        })
        .await
}

/// Which records `in_writer` validates on the writer.
#[derive(Clone, Copy, PartialEq)]
enum Size {
    /// Only a small one (see `is_small_input`); a larger one is left.
    SmallOnly,
    /// Any (a patch that met a concurrent write: nothing can intervene).
    Any,
}

/// What one turn of the writer made of a patch.
enum Turn<R> {
    Written(R),
    /// The record is too large to validate on the writer; nothing written.
    Large,
    /// It would name users not known to be members; nothing written.
    Unchecked(Vec<(String, String)>),
}

/// Turns of the writer at most for one patch: a turn that finds new users
/// has them checked and goes again, and only a concurrent write naming
/// still other users makes a third.
const MAX_TURNS: usize = 4;

/// Reads, merges, validates and writes in one write transaction; `None`
/// when the record is too large for `size`. Users the merged record newly
/// names are checked outside the writer (in the control database), then
/// the patch goes again, knowing them.
async fn in_writer<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    id: String,
    patch: Value,
    size: Size,
) -> AppResult<Option<K::Record>> {
    let mut members: Vec<String> = Vec::new();
    for _ in 0..MAX_TURNS {
        let (id, patch, known) = (id.clone(), patch.clone(), members.clone());
        let region = access.org.default_country.clone();
        let actor = access.actor().stamp();
        let turn = access
            .tenant
            .write(move |tx| {
                let current = store::load::<K>(tx, &id)?.ok_or(AppError::NotFound)?;
                let fields = custom::of_kind(tx, K::KIND)?;
                let (input, custom_sent) = merged::<K>(&current, patch)?;
                let stored = &current.extras().custom;
                if size == Size::SmallOnly && !is_small_input(&input, custom_sent.as_ref(), stored)
                {
                    return Ok(Turn::Large);
                }
                let (clean, custom) =
                    validate_change::<K>(input, custom_sent, &current, &fields, &region)?;
                let unchecked: Vec<(String, String)> =
                    new_users::<K>(&current, &clean, &fields, &custom)?
                        .into_iter()
                        .filter(|(_, u)| !known.contains(u))
                        .collect();
                if !unchecked.is_empty() {
                    return Ok(Turn::Unchecked(unchecked));
                }
                write_patch::<K>(tx, current, &clean, &custom, &actor).map(Turn::Written)
            })
            .await?;
        match turn {
            Turn::Written(rec) => return Ok(Some(rec)),
            Turn::Large => return Ok(None),
            Turn::Unchecked(users) => {
                members.extend(users.iter().map(|(_, u)| u.clone()));
                check_users(state, &access.org.id, users).await?;
            }
        }
    }
    Err(AppError::Conflict(
        "the record kept changing while it was written; send the change again".into(),
    ))
}

/// Applies `patch` to record `id` inside a write transaction (a bulk
/// change): Ok(false) when the record is gone or the patch changes nothing.
pub fn apply_in_tx<K: RecordKind>(
    tx: &Connection,
    id: &str,
    patch: &Value,
    fields: &[CustomField],
    region: &str,
    actor: &str,
) -> AppResult<bool> {
    let Some(current) = store::load::<K>(tx, id)? else {
        return Ok(false);
    };
    let before =
        serde_json::to_value(K::to_input(&current)).map_err(|e| AppError::Internal(e.into()))?;
    let (input, custom_sent) = merged::<K>(&current, patch.clone())?;
    let same_custom = custom_sent
        .as_ref()
        .and_then(Value::as_object)
        .is_none_or(|sent| {
            sent.iter()
                .all(|(k, v)| current.extras().custom.get(k).unwrap_or(&Value::Null) == v)
        });
    if Value::Object(input.clone()) == before && same_custom {
        return Ok(false);
    }
    let (clean, custom) = validate_change::<K>(input, custom_sent, &current, fields, region)?;
    write_patch::<K>(tx, current, &clean, &custom, actor)?;
    Ok(true)
}

/// 422 unless every user a bulk patch names is a member (checked once, for
/// the patch; `sample` is a record it applies to, for the users the kind's
/// input names such as an assignee).
pub async fn check_bulk_members<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    patch: &Value,
    sample: Option<K::Record>,
) -> AppResult<()> {
    let fields = access
        .tenant
        .db
        .read(|c| custom::of_kind(c, K::KIND))
        .await?;
    let owner = patch.get("owner_id").and_then(Value::as_str);
    let sent = patch
        .get("custom")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut users = owner_and_user_fields(owner, &fields, &sent);
    if let Some(current) = sample {
        let region = access.org.default_country.clone();
        let (input, _) = merged::<K>(&current, patch.clone())?;
        let clean = crate::error::from_value::<K::Input>(Value::Object(input)).and_then(|i| {
            K::validate(i, &Phones::with_stored(&region, K::stored_phones(&current)))
        })?;
        let named = patch.to_string();
        users.extend(
            K::members_named(&clean)
                .into_iter()
                .filter(|(_, u)| named.contains(u.as_str())),
        );
    }
    check_users(state, &access.org.id, users).await?;
    Ok(())
}

/// Validates a new record's body exactly as `POST /{kind}` does (the kind's
/// organization defaults, its validation, the custom values' checks), for
/// callers that write many records at once (imports): no write, no member
/// checks (such callers send no owner or user fields).
pub fn check_new<K: RecordKind>(
    body: Value,
    org: &crate::platform::orgs::Org,
    fields: &[CustomField],
) -> AppResult<(K::Clean, Map<String, Value>)> {
    let (mut input, custom_sent) = split(body, &[])?;
    K::org_defaults(&mut input, org);
    validate_new::<K>(input, custom_sent, fields, &org.default_country)
}

/// Writes a record `check_new` accepted, inside a write transaction: what
/// only the database can tell is checked first (unique values, references),
/// then it is inserted with its history and search outbox entry.
pub fn insert_checked<K: RecordKind>(
    tx: &Connection,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> AppResult<String> {
    store::check_custom::<K>(tx, custom, "")?;
    store::insert::<K>(tx, clean, custom, actor, now)
}

/// A record's fields as a PATCH body: the kind's input and its custom
/// values (an import keeps this to put a record back as it was).
pub fn as_patch<K: RecordKind>(rec: &K::Record) -> AppResult<Value> {
    let mut body =
        serde_json::to_value(K::to_input(rec)).map_err(|e| AppError::Internal(e.into()))?;
    if let Value::Object(m) = &mut body {
        m.insert("custom".into(), Value::Object(rec.extras().custom.clone()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_small_up_to_its_limit_of_values() {
        let flat =
            |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), Value::from(i))).collect());
        // The object itself is one value.
        assert!(is_small(&flat(SMALL_BODY_VALUES - 1)));
        assert!(!is_small(&flat(SMALL_BODY_VALUES)));
        let nested = serde_json::json!({"phones": (0..40).map(|i| serde_json::json!({"phone": i})).collect::<Vec<_>>()});
        assert!(!is_small(&nested));
        assert!(is_small(
            &serde_json::json!({"first_name": "Ada", "phones": [{"phone": "1"}]})
        ));
    }

    #[test]
    fn a_body_is_small_up_to_its_limit_of_text() {
        // One long text (a note's HTML) is not small, however few its values.
        let body = |n: usize| serde_json::json!({ "body": "x".repeat(n) });
        assert!(is_small(&body(SMALL_BODY_TEXT - "body".len())));
        assert!(!is_small(&body(SMALL_BODY_TEXT - "body".len() + 1)));
        // A PATCH counts the merged record, the values sent and those stored together.
        let half = |k: &str| {
            let mut m = Map::new();
            m.insert(k.to_string(), Value::from("x".repeat(SMALL_BODY_TEXT / 2)));
            m
        };
        assert!(is_small_input(&half("a"), None, &Map::new()));
        assert!(!is_small_input(&half("a"), None, &half("b")));
        assert!(!is_small_input(
            &half("a"),
            Some(&Value::Object(half("c"))),
            &Map::new()
        ));
    }
}
