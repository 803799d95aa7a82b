//! Duplicates and merging, for contacts and companies.
//!
//! `GET …/duplicates` finds groups of likely duplicates — contacts sharing an
//! email, a phone number (E.164, as stored) or a name and company; companies
//! sharing a domain or a name — and `POST …/merge` folds two or more records
//! into the first: each field's value chosen from any of them (or given),
//! everything linked to the others moved to the survivor (deals, a deal's
//! contacts, notes, tasks, activities, files, tags, record fields that point
//! to them), the others moved to the trash. One write transaction; the
//! history of each says who merged what.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::roles::Role;
use crate::clock;
use crate::crm::companies::{Companies, Company};
use crate::crm::contacts::{Contact, Contacts};
use crate::error::{AppError, AppResult, ErrorBody, Json, Query};
use crate::platform::access::OrgAccess;
use crate::record::{Record, RecordKind, custom, history, patch, restrict, store};
use crate::state::AppState;

/// The most records one merge takes.
pub const MAX_MERGE: usize = 10;
/// The most records a duplicate group shows.
const MAX_GROUP: usize = 20;

/// Tables linking a note, task, activity or file to any record.
const LINK_TABLES: &[(&str, &str)] = &[
    ("note_links", "notes"),
    ("task_links", "tasks"),
    ("activity_links", "activities"),
    ("file_links", "files"),
    ("record_tags", "tags"),
];

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DupParams {
    /// Groups per page, 1–100 (default 20).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A group of records that look like one.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Group<R: utoipa::ToSchema> {
    /// Why they look alike: `email`, `phone`, `name_and_company`, `domain`, `name`.
    pub reasons: Vec<String>,
    /// The shared value (the email, phone, domain or name).
    pub value: String,
    pub records: Vec<R>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Groups<R: utoipa::ToSchema> {
    pub items: Vec<Group<R>>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The records to merge, 2–10; the first survives.
    #[schema(min_items = 2, max_items = 10)]
    pub ids: Vec<String>,
    /// Field (as in the record, custom fields as `custom.<key>`) → the id of
    /// the record (one of `ids`) whose value to keep, or `{"value": …}` for
    /// a value given here. Fields left out keep the survivor's value, or
    /// the first other record's where the survivor's is empty.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

/// Candidate groups: (reason, value, ids).
type Found = Vec<(String, String, Vec<String>)>;

fn ids_of(csv: String) -> Vec<String> {
    let mut v: Vec<String> = csv.split(',').map(str::to_string).collect();
    v.sort();
    v.dedup();
    v
}

fn groups(conn: &Connection, sql: &str, reason: &str, out: &mut Found) -> AppResult<()> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (value, ids) = row?;
        let ids = ids_of(ids);
        if ids.len() > 1 {
            out.push((reason.to_string(), value, ids));
        }
    }
    Ok(())
}

fn contact_groups(conn: &Connection) -> AppResult<Found> {
    let mut out = Vec::new();
    groups(
        conn,
        "SELECT e.email, group_concat(e.contact_id) FROM contact_emails e
         JOIN contacts c ON c.id = e.contact_id AND c.deleted_at IS NULL
         GROUP BY e.email HAVING count(*) > 1",
        "email",
        &mut out,
    )?;
    groups(
        conn,
        "SELECT json_extract(p.value, '$.phone') AS phone, group_concat(c.id)
         FROM contacts c, json_each(c.phones) p
         WHERE c.deleted_at IS NULL AND phone IS NOT NULL
         GROUP BY phone HAVING count(DISTINCT c.id) > 1",
        "phone",
        &mut out,
    )?;
    groups(
        conn,
        "SELECT c.sort_name, group_concat(c.id) FROM contacts c
         WHERE c.deleted_at IS NULL AND c.company_id IS NOT NULL AND c.sort_name <> ''
         GROUP BY c.sort_name, c.company_id HAVING count(*) > 1",
        "name_and_company",
        &mut out,
    )?;
    Ok(out)
}

fn company_groups(conn: &Connection) -> AppResult<Found> {
    let mut out = Vec::new();
    groups(
        conn,
        "SELECT lower(domain), group_concat(id) FROM companies
         WHERE deleted_at IS NULL AND domain IS NOT NULL AND domain <> ''
         GROUP BY lower(domain) HAVING count(*) > 1",
        "domain",
        &mut out,
    )?;
    groups(
        conn,
        "SELECT trim(sort_name), group_concat(id) FROM companies
         WHERE deleted_at IS NULL AND trim(sort_name) <> ''
         GROUP BY trim(sort_name) HAVING count(*) > 1",
        "name",
        &mut out,
    )?;
    Ok(out)
}

/// Groups with the same records are one group with several reasons;
/// ordered by their records so pages are stable.
fn combine(found: Found) -> Vec<(Vec<String>, String, Vec<String>)> {
    let mut by_ids: BTreeMap<Vec<String>, (Vec<String>, String)> = BTreeMap::new();
    for (reason, value, ids) in found {
        let e = by_ids.entry(ids).or_insert_with(|| (Vec::new(), value));
        if !e.0.contains(&reason) {
            e.0.push(reason);
        }
    }
    by_ids
        .into_iter()
        .map(|(ids, (reasons, value))| (reasons, value, ids))
        .collect()
}

async fn duplicates<K: RecordKind>(
    access: &OrgAccess,
    params: DupParams,
    find: fn(&Connection) -> AppResult<Found>,
) -> AppResult<Groups<K::Record>> {
    let limit = match params.limit {
        None => 20,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(AppError::field("limit", "use 1 to 100")),
    };
    let skip = match params.cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| AppError::field("cursor", "not a cursor this server gave out"))?,
    };
    access
        .tenant
        .db
        .read(move |c| {
            let all = combine(find(c)?);
            let more = all.len() > skip + limit;
            let mut items = Vec::new();
            for (reasons, value, mut ids) in all.into_iter().skip(skip).take(limit) {
                ids.truncate(MAX_GROUP);
                let records = store::get_many::<K>(c, &ids)?;
                items.push(Group {
                    reasons,
                    value,
                    records,
                });
            }
            Ok(Groups {
                items,
                next_cursor: more.then(|| (skip + limit).to_string()),
            })
        })
        .await
}

/// Likely duplicate contacts: the same email, phone, or name at the same company.
#[utoipa::path(get, path = "/contacts/duplicates", tag = "contacts",
    params(("org" = String, Path), DupParams),
    responses((status = 200, body = Groups<Contact>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn contact_duplicates(
    access: OrgAccess,
    Query(params): Query<DupParams>,
) -> AppResult<Json<Groups<Contact>>> {
    access.require(Role::Member)?;
    Ok(Json(
        duplicates::<Contacts>(&access, params, contact_groups).await?,
    ))
}

/// Likely duplicate companies: the same domain or name.
#[utoipa::path(get, path = "/companies/duplicates", tag = "companies",
    params(("org" = String, Path), DupParams),
    responses((status = 200, body = Groups<Company>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn company_duplicates(
    access: OrgAccess,
    Query(params): Query<DupParams>,
) -> AppResult<Json<Groups<Company>>> {
    access.require(Role::Member)?;
    Ok(Json(
        duplicates::<Companies>(&access, params, company_groups).await?,
    ))
}

/// The survivor's new values: each field chosen from one of the records or
/// given; fields not chosen keep the survivor's value, or take the first
/// other record's when the survivor's is empty.
fn chosen<K: RecordKind>(recs: &[K::Record], values: &Map<String, Value>) -> AppResult<Value> {
    let inputs: Vec<Map<String, Value>> = recs
        .iter()
        .map(|r| match serde_json::to_value(K::to_input(r)) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(AppError::Internal(anyhow::anyhow!("input is an object"))),
        })
        .collect::<AppResult<_>>()?;
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    let mut out = Map::new();
    let mut custom = Map::new();
    // Fill the survivor's gaps from the others, in order.
    for key in inputs[0].keys() {
        if empty(inputs[0].get(key))
            && let Some(v) = inputs[1..].iter().map(|m| m.get(key)).find(|v| !empty(*v))
        {
            out.insert(key.clone(), v.cloned().unwrap_or(Value::Null));
        }
    }
    let customs: Vec<&Map<String, Value>> = recs.iter().map(|r| &r.extras().custom).collect();
    for (k, v) in customs[1..].iter().flat_map(|m| m.iter()) {
        if !customs[0].contains_key(k) && !custom.contains_key(k) {
            custom.insert(k.clone(), v.clone());
        }
    }
    for (field, pick) in values {
        let value = match pick {
            Value::String(id) => {
                let i = recs
                    .iter()
                    .position(|r| r.id() == id)
                    .ok_or_else(|| AppError::field(format!("values.{field}"), "name one of ids"))?;
                match field.strip_prefix("custom.") {
                    Some(key) => customs[i].get(key).cloned().unwrap_or(Value::Null),
                    None => inputs[i].get(field).cloned().unwrap_or(Value::Null),
                }
            }
            Value::Object(o) if o.len() == 1 && o.contains_key("value") => o["value"].clone(),
            _ => {
                return Err(AppError::field(
                    format!("values.{field}"),
                    "a record id from ids, or {\"value\": …}",
                ));
            }
        };
        match field.strip_prefix("custom.") {
            Some(key) => {
                custom.insert(key.to_string(), value);
            }
            None if inputs[0].contains_key(field) => {
                out.insert(field.clone(), value);
            }
            None => {
                return Err(AppError::field(
                    format!("values.{field}"),
                    "not a field that can be set",
                ));
            }
        }
    }
    if !custom.is_empty() {
        out.insert("custom".into(), Value::Object(custom));
    }
    Ok(Value::Object(out))
}

/// Moves what links to `from` over to `to`: links of notes, tasks,
/// activities and files, tags, record fields of any kind pointing to it,
/// and the kind's own links (`own`). Answers what moved, per kind of link.
fn move_links(
    tx: &Connection,
    kind: &str,
    from: &str,
    to: &str,
    own: &[Own],
) -> AppResult<Map<String, Value>> {
    let mut moved = Map::new();
    let mut count = |name: &str, n: usize| {
        if n > 0 {
            let v = moved.entry(name.to_string()).or_insert(json!(0));
            *v = json!(v.as_u64().unwrap_or(0) + n as u64);
        }
    };
    for (table, name) in LINK_TABLES {
        // A link both records had stays once.
        let n = tx.execute(
            &format!("UPDATE OR IGNORE {table} SET record_id = ?2 WHERE record_id = ?1"),
            params![from, to],
        )?;
        tx.execute(&format!("DELETE FROM {table} WHERE record_id = ?1"), [from])?;
        count(name, n);
    }
    for l in own {
        // Those records show the other name now: index them again.
        crate::search::enqueue_select(
            tx,
            l.search_kind,
            &format!(
                "SELECT {} AS id FROM {} WHERE {} = ?2",
                l.id_column, l.table, l.column
            ),
            from,
        )?;
        let n = tx.execute(
            &format!(
                "UPDATE OR IGNORE {} SET {} = ?2 WHERE {} = ?1",
                l.table, l.column, l.column
            ),
            params![from, to],
        )?;
        if l.join_table {
            // A deal both contacts were on keeps the survivor once.
            tx.execute(
                &format!("DELETE FROM {} WHERE {} = ?1", l.table, l.column),
                [from],
            )?;
        }
        count(l.name, n);
    }
    // Record fields of any kind that point to the merged-away record.
    let fields: Vec<(String, String)> = tx
        .prepare("SELECT kind, key FROM custom_fields WHERE type = 'record' AND target_kind = ?1")?
        .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (k, key) in fields {
        let Some(target) = crate::record::kind(&k) else {
            continue;
        };
        let n = tx.execute(
            &format!(
                "UPDATE {} SET custom = json_set(custom, '$.{key}', ?2)
                 WHERE json_extract(custom, '$.{key}') = ?1",
                target.table()
            ),
            params![from, to],
        )?;
        count("references", n);
    }
    Ok(moved)
}

/// Merges `ids` into `ids[0]` in one write transaction.
async fn merge<K: RecordKind>(
    state: &AppState,
    access: &OrgAccess,
    body: MergeInput,
    own: &'static [Own],
) -> AppResult<K::Record> {
    access.require(Role::Member)?;
    let mut seen = std::collections::HashSet::new();
    if body.ids.len() < 2 || body.ids.len() > MAX_MERGE || !body.ids.iter().all(|i| seen.insert(i))
    {
        return Err(AppError::field(
            "ids",
            format!("send 2 to {MAX_MERGE} different ids; the first survives"),
        ));
    }
    // Users an explicit value names must be members.
    let explicit: Map<String, Value> = body
        .values
        .iter()
        .filter_map(|(k, v)| v.get("value").map(|v| (k.clone(), v.clone())))
        .filter(|(k, _)| !k.starts_with("custom."))
        .collect();
    patch::check_bulk_members::<K>(state, access, &Value::Object(explicit), None).await?;
    let actor = access.actor().stamp();
    let who = access.audit_actor();
    let region = access.org.default_country.clone();
    let rec = access
        .tenant
        .write(move |tx| {
            let mut recs = Vec::new();
            for id in &body.ids {
                recs.push(store::load::<K>(tx, id)?.ok_or(AppError::NotFound)?);
            }
            // Links move into the survivor and out of the others before any
            // of them is written: a restricted one refuses the merge first.
            for id in &body.ids {
                restrict::ensure_writable(tx, K::LABEL, id)?;
            }
            let survivor = body.ids[0].clone();
            let changes = chosen::<K>(&recs, &body.values)?;
            let fields = custom::of_kind(tx, K::KIND)?;
            let now = clock::now_stamp();
            let mut moved_all = Map::new();
            for other in &body.ids[1..] {
                let moved = move_links(tx, K::KIND, other, &survivor, own)?;
                for (k, n) in &moved {
                    let total = moved_all.get(k).and_then(Value::as_u64).unwrap_or(0)
                        + n.as_u64().unwrap_or(0);
                    moved_all.insert(k.clone(), json!(total));
                }
                store::trash::<K>(tx, other, &actor)?;
                let mut into = Map::new();
                into.insert("into".into(), json!(survivor));
                into.insert("moved".into(), Value::Object(moved));
                history::record(tx, K::KIND, other, &actor, &now, "merged", &into)?;
            }
            patch::apply_in_tx::<K>(tx, &survivor, &changes, &fields, &region, &actor)?;
            let mut what = Map::new();
            what.insert("merged".into(), json!(body.ids[1..]));
            what.insert("moved".into(), Value::Object(moved_all));
            history::record(tx, K::KIND, &survivor, &actor, &now, "merged", &what)?;
            let label: Option<String> = tx.query_row(
                &format!("SELECT {} FROM {} t WHERE t.id = ?1", K::NAME_SQL, K::TABLE),
                [&survivor],
                |r| r.get(0),
            )?;
            let label = label.unwrap_or_default();
            audit::record(
                tx,
                &audit::Entry::new(who, "record.merged")
                    .target(K::KIND, &survivor, &label)
                    .after(Value::Object(what)),
            )?;
            crate::search::enqueue(tx, K::KIND, &survivor)?;
            store::get::<K>(tx, &survivor)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(rec)
}

/// A kind's own column pointing to a merged record.
pub struct Own {
    table: &'static str,
    column: &'static str,
    /// The name of what moved, in the history.
    name: &'static str,
    /// The kind of record the table's rows are, for the search index.
    search_kind: &'static str,
    id_column: &'static str,
    /// A link table (rows may be dropped when the survivor has the link).
    join_table: bool,
}

/// What else points to a contact: deals' contacts.
const CONTACT_LINKS: &[Own] = &[Own {
    table: "deal_contacts",
    column: "contact_id",
    name: "deals",
    search_kind: "deal",
    id_column: "deal_id",
    join_table: true,
}];
/// What else points to a company: its contacts and deals.
const COMPANY_LINKS: &[Own] = &[
    Own {
        table: "contacts",
        column: "company_id",
        name: "contacts",
        search_kind: "contact",
        id_column: "id",
        join_table: false,
    },
    Own {
        table: "deals",
        column: "company_id",
        name: "deals",
        search_kind: "deal",
        id_column: "id",
        join_table: false,
    },
];

/// Merges contacts into the first of `ids` (member+).
#[utoipa::path(post, path = "/contacts/merge", tag = "contacts",
    params(("org" = String, Path)), request_body = MergeInput,
    responses((status = 200, body = Contact), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn merge_contacts(
    axum::extract::State(state): axum::extract::State<AppState>,
    access: OrgAccess,
    Json(body): Json<MergeInput>,
) -> AppResult<Json<Contact>> {
    Ok(Json(
        merge::<Contacts>(&state, &access, body, CONTACT_LINKS).await?,
    ))
}

/// Merges companies into the first of `ids` (member+).
#[utoipa::path(post, path = "/companies/merge", tag = "companies",
    params(("org" = String, Path)), request_body = MergeInput,
    responses((status = 200, body = Company), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn merge_companies(
    axum::extract::State(state): axum::extract::State<AppState>,
    access: OrgAccess,
    Json(body): Json<MergeInput>,
) -> AppResult<Json<Company>> {
    Ok(Json(
        merge::<Companies>(&state, &access, body, COMPANY_LINKS).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(contact_duplicates))
        .routes(routes!(company_duplicates))
        .routes(routes!(merge_contacts))
        .routes(routes!(merge_companies))
}
