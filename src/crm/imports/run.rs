//! Running an import: rows in batches, each batch one write transaction,
//! each row in its own savepoint (a row that fails leaves nothing behind).
//! A row is turned into the API's create body and goes through the records
//! layer's own validation and writes (`patch::check_new`, `insert_checked`,
//! `apply_in_tx`), so an import accepts exactly what the API accepts. The
//! preview runs the same code on the first rows and rolls it back.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use super::store::{self, Counts, RowOutcome, Stored};
use super::{Action, photos, targets};
use crate::crm::companies::Companies;
use crate::crm::contacts::Contacts;
use crate::crm::deals::Deals;
use crate::error::{AppError, AppResult};
use crate::platform::orgs::Org;
use crate::record::custom::{self, CustomField};
use crate::record::{RecordKind, patch, restrict, store as records};

/// Why a row matching a restricted record is skipped.
pub const RESTRICTED: &str = "the matching record is restricted by a privacy request \
     (read-only until an admin lifts it); left as it is";

/// Rows per write transaction: large enough that commits are rare, small
/// enough that other writes of the organization wait a few milliseconds.
pub const BATCH: usize = 1000;

/// Where an organization keeps its import files (as UTF-8).
pub fn dir(org_dir: &Path) -> PathBuf {
    org_dir.join("imports")
}

pub fn file(org_dir: &Path, id: &str) -> PathBuf {
    dir(org_dir).join(format!("{id}.csv"))
}

/// What one row does (or, in a preview, would do).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RowResult {
    /// The data row (1 = the first row after the header).
    pub row: i64,
    /// `create`, `update`, `skip` or `fail`.
    pub action: String,
    /// The record it created, changed or matched.
    pub record_id: Option<String>,
    /// The values the row gives, as the API's create body.
    #[schema(value_type = Object)]
    pub values: Value,
    /// Why it fails: field → problem.
    pub errors: BTreeMap<String, String>,
    /// What else it does (a company created by name, nothing to change).
    pub note: Option<String>,
    /// Something to look at although the row is not failing: part of it
    /// left out (its photo too large, not an image), or why it is skipped
    /// (the matching record is restricted). Kept in the import's report.
    pub warning: Option<String>,
}

/// What a run keeps between batches: the records rows are matched with
/// (built once, then kept up to date as rows create records), companies by
/// name, pipelines and stages by name.
pub struct Lookups {
    matches: HashMap<String, String>,
    companies: HashMap<String, String>,
    pipelines: Vec<(String, String)>,
    /// (pipeline id, lower-case name, stage id), in pipeline and stage order.
    stages: Vec<(String, String, String)>,
}

/// A row's result, the records it created by name (kind, id), and the
/// record it changed as it was before (a PATCH body).
type Done = (RowResult, Vec<(String, String)>, Option<String>);

/// Everything a batch needs besides its rows.
pub struct Plan {
    pub import: Stored,
    pub org: Org,
    pub fields: Vec<CustomField>,
    pub actor: String,
    /// A vCard import's photos.
    pub photos: Option<super::photos::Photos>,
}

impl Plan {
    fn day_first(&self) -> bool {
        !self.org.date_format.to_lowercase().starts_with('m')
    }
}

fn key_text(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The keys a row (or record) is matched on, from its create body.
fn match_keys(on: &str, body: &Map<String, Value>, region: &str) -> Vec<String> {
    let list = |field: &str, key: &str| -> Vec<String> {
        body.get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get(key).and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |field: &str| body.get(field).and_then(Value::as_str).map(str::to_string);
    let phone = |raw: &str| {
        let mut p = crate::error::Problems::new();
        let e164 = crate::values::phone_number(&mut p, "phone", raw, region);
        p.into_result().ok().map(|_| e164)
    };
    match on {
        "email" => list("emails", "email")
            .iter()
            .map(|e| key_text(e))
            .collect(),
        "phone" => {
            let raw = if body.contains_key("phones") {
                list("phones", "phone")
            } else {
                text("phone").into_iter().collect()
            };
            raw.iter().filter_map(|r| phone(r)).collect()
        }
        "domain" => {
            let mut p = crate::error::Problems::new();
            crate::values::domain(&mut p, "domain", text("domain"))
                .into_iter()
                .collect()
        }
        "name" => text("name").map(|n| key_text(&n)).into_iter().collect(),
        on => on
            .strip_prefix("custom.")
            .and_then(|k| body.get("custom").and_then(|c| c.get(k)))
            .and_then(|v| match v {
                Value::String(s) => Some(key_text(s)),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .into_iter()
            .collect(),
    }
}

/// Existing live records by the value rows are matched on.
fn existing(conn: &Connection, kind: &str, on: &str) -> AppResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    let mut pairs = |sql: &str| -> AppResult<()> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (k, id) = row?;
            if let Some(k) = k {
                out.entry(key_text(&k)).or_insert(id);
            }
        }
        Ok(())
    };
    let table = match kind {
        "contact" => "contacts",
        "company" => "companies",
        _ => "deals",
    };
    match (kind, on) {
        (_, "none") => {}
        ("contact", "email") => pairs(
            "SELECT e.email, e.contact_id FROM contact_emails e
               JOIN contacts c ON c.id = e.contact_id AND c.deleted_at IS NULL ORDER BY c.created_at",
        )?,
        ("contact", "phone") => pairs(
            "SELECT json_extract(p.value, '$.phone'), c.id FROM contacts c, json_each(c.phones) p
              WHERE c.deleted_at IS NULL ORDER BY c.created_at",
        )?,
        ("company", "phone") => pairs("SELECT phone, id FROM companies WHERE deleted_at IS NULL ORDER BY created_at")?,
        ("company", "domain") => pairs("SELECT domain, id FROM companies WHERE deleted_at IS NULL ORDER BY created_at")?,
        ("company", "name") => pairs("SELECT name, id FROM companies WHERE deleted_at IS NULL ORDER BY created_at")?,
        (_, on) => {
            if let Some(key) = on.strip_prefix("custom.") {
                // The key is a custom field's (checked): snake_case only.
                let path = format!("$.\"{}\"", key.replace('"', ""));
                let mut stmt = conn.prepare(&format!(
                    "SELECT json_extract(custom, ?1), id FROM {table} WHERE deleted_at IS NULL ORDER BY created_at"
                ))?;
                let rows = stmt.query_map([path], |r| {
                    let v: rusqlite::types::Value = r.get(0)?;
                    Ok((v, r.get::<_, String>(1)?))
                })?;
                for row in rows {
                    let (v, id) = row?;
                    let k = match v {
                        rusqlite::types::Value::Text(s) => key_text(&s),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Real(f) => f.to_string(),
                        _ => continue,
                    };
                    out.entry(k).or_insert(id);
                }
            }
        }
    }
    Ok(out)
}

impl Lookups {
    pub fn load(conn: &Connection, plan: &Plan) -> AppResult<Lookups> {
        let imp = &plan.import;
        let uses = |t: &str| imp.mapping.iter().any(|m| m.as_deref() == Some(t));
        let mut companies = HashMap::new();
        if uses("company_name") {
            let mut stmt = conn.prepare(
                "SELECT name, id FROM companies WHERE deleted_at IS NULL ORDER BY created_at DESC",
            )?;
            for row in
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            {
                let (name, id) = row?;
                companies.insert(key_text(&name), id);
            }
        }
        let (mut pipelines, mut stages) = (Vec::new(), Vec::new());
        if imp.kind == "deal" {
            let mut stmt = conn.prepare("SELECT name, id FROM pipelines ORDER BY position")?;
            for row in
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            {
                let (name, id) = row?;
                pipelines.push((key_text(&name), id));
            }
            let mut stmt = conn.prepare(
                "SELECT s.pipeline_id, s.name, s.id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id
                  ORDER BY p.position, s.position",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (p, name, id) = row?;
                stages.push((p, key_text(&name), id));
            }
        }
        Ok(Lookups {
            matches: existing(conn, &imp.kind, &imp.dedupe.on)?,
            companies,
            pipelines,
            stages,
        })
    }
}

/// A validation error as field → problem.
fn problems(e: AppError) -> BTreeMap<String, String> {
    match e {
        AppError::Validation { fields, message } if fields.is_empty() => {
            BTreeMap::from([("row".to_string(), message)])
        }
        AppError::Validation { fields, .. } => fields,
        other => BTreeMap::from([("row".to_string(), other.to_string())]),
    }
}

/// The errors of a row as one line (the report, the failed-rows CSV).
pub fn one_line(errors: &BTreeMap<String, String>) -> String {
    errors
        .iter()
        .map(|(f, p)| format!("{f}: {p}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fields of `body` to write over `current` (as a PATCH body): all of
/// them, or only those the record has empty.
fn changes(action: Action, body: &Map<String, Value>, current: &Value) -> Value {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.values().all(|v| v.is_null()),
        _ => false,
    };
    let mut out = Map::new();
    for (k, v) in body {
        if action == Action::Overwrite {
            out.insert(k.clone(), v.clone());
        } else if k == "custom" {
            let mut c = Map::new();
            for (ck, cv) in v.as_object().into_iter().flatten() {
                if empty(current.get("custom").and_then(|cur| cur.get(ck))) {
                    c.insert(ck.clone(), cv.clone());
                }
            }
            if !c.is_empty() {
                out.insert(k.clone(), Value::Object(c));
            }
        } else if empty(current.get(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

struct Savepoint<'a>(&'a Connection, bool);

impl<'a> Savepoint<'a> {
    fn new(conn: &'a Connection) -> AppResult<Savepoint<'a>> {
        conn.execute_batch("SAVEPOINT import_row")?;
        Ok(Savepoint(conn, false))
    }
    fn keep(mut self) -> AppResult<()> {
        self.1 = true;
        self.0.execute_batch("RELEASE import_row")?;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.1 {
            let _ = self
                .0
                .execute_batch("ROLLBACK TO import_row; RELEASE import_row");
        }
    }
}

/// A company by name: linked if the organization has one, else created
/// (and kept among what the row created, so undo removes it).
fn company_id(
    tx: &Connection,
    plan: &Plan,
    look: &mut Lookups,
    name: &str,
    created: &mut Vec<(String, String)>,
) -> Result<(String, bool), BTreeMap<String, String>> {
    if let Some(id) = look.companies.get(&key_text(name)) {
        return Ok((id.clone(), false));
    }
    let body = serde_json::json!({ "name": name });
    let (clean, customs) = patch::check_new::<Companies>(body, &plan.org, &[])
        .map_err(|e| rename(problems(e), "company_name"))?;
    let id = patch::insert_checked::<Companies>(
        tx,
        &clean,
        &customs,
        &plan.actor,
        &crate::clock::now_stamp(),
    )
    .map_err(|e| rename(problems(e), "company_name"))?;
    look.companies.insert(key_text(name), id.clone());
    created.push(("company".into(), id.clone()));
    Ok((id, true))
}

fn rename(p: BTreeMap<String, String>, to: &str) -> BTreeMap<String, String> {
    p.into_values().map(|v| (to.to_string(), v)).collect()
}

fn deal_stage(
    look: &Lookups,
    built: &targets::Built,
    body: &mut Map<String, Value>,
) -> Result<(), (String, String)> {
    let pipeline = match &built.pipeline {
        Some(name) => Some(
            look.pipelines
                .iter()
                .find(|(n, _)| *n == key_text(name))
                .map(|(_, id)| id.clone())
                .ok_or_else(|| {
                    (
                        "pipeline".to_string(),
                        format!("no pipeline named {name:?}"),
                    )
                })?,
        ),
        None => None,
    };
    if let Some(p) = &pipeline {
        body.insert("pipeline_id".into(), Value::String(p.clone()));
    }
    if let Some(name) = &built.stage {
        let (_, _, sid) = look
            .stages
            .iter()
            .find(|(pid, n, _)| *n == key_text(name) && pipeline.as_ref().is_none_or(|p| p == pid))
            .ok_or_else(|| ("stage".to_string(), format!("no stage named {name:?}")))?;
        body.insert("stage_id".into(), Value::String(sid.clone()));
    }
    Ok(())
}

/// One row, in the batch's transaction.
fn row<K: RecordKind>(
    tx: &Connection,
    plan: &Plan,
    look: &mut Lookups,
    seq: i64,
    cells: &csv::StringRecord,
    keep: bool,
    out: &mut Vec<Done>,
) -> AppResult<()> {
    let imp = &plan.import;
    let built = targets::build(
        &imp.kind,
        &imp.mapping,
        &imp.headers,
        cells,
        &plan.fields,
        plan.day_first(),
    );
    let mut body = built.body.clone();
    let mut result = RowResult {
        row: seq,
        action: "fail".into(),
        record_id: None,
        values: Value::Object(body.clone()),
        errors: built.problems.iter().cloned().collect(),
        note: None,
        warning: None,
    };
    let sp = Savepoint::new(tx)?;
    let mut created_too = Vec::new();
    let mut before = None;
    if result.errors.is_empty()
        && imp.kind == "deal"
        && let Err((f, p)) = deal_stage(look, &built, &mut body)
    {
        result.errors.insert(f, p);
    }
    if result.errors.is_empty()
        && let Some(name) = &built.company_name
    {
        match company_id(tx, plan, look, name, &mut created_too) {
            Ok((id, new)) => {
                if new {
                    result.note = Some(format!("creates the company {name:?}"));
                }
                body.insert("company_id".into(), Value::String(id));
            }
            Err(e) => result.errors.extend(e),
        }
    }
    if result.errors.is_empty() {
        let keys = match_keys(&imp.dedupe.on, &body, &plan.org.default_country);
        let found = keys.iter().find_map(|k| look.matches.get(k)).cloned();
        match found {
            Some(id) if imp.dedupe.action == Action::Skip => {
                result.action = "skip".into();
                result.note = Some("matches an existing record".into());
                result.record_id = Some(id);
            }
            Some(id) => {
                let current = records::load::<K>(tx, &id)?;
                match current {
                    None => {
                        result
                            .errors
                            .insert("row".into(), "the matching record was deleted".into());
                    }
                    Some(_) if restrict::since(tx, &id)?.is_some() => {
                        result.action = "skip".into();
                        result.warning = Some(RESTRICTED.into());
                        result.record_id = Some(id);
                    }
                    Some(cur) => {
                        let was = patch::as_patch::<K>(&cur)?;
                        let change = changes(imp.dedupe.action, &body, &was);
                        match patch::apply_in_tx::<K>(
                            tx,
                            &id,
                            &change,
                            &plan.fields,
                            &plan.org.default_country,
                            &plan.actor,
                        ) {
                            Ok(changed) => {
                                let photo = with_photo(
                                    tx,
                                    plan,
                                    built.photo.as_deref(),
                                    &id,
                                    keep,
                                    &mut result,
                                    &mut created_too,
                                )?;
                                if changed || photo {
                                    result.action = "update".into();
                                    before = Some(was.to_string());
                                } else {
                                    result.action = "skip".into();
                                    result.note = Some(
                                        "matches an existing record; nothing to change".into(),
                                    );
                                }
                            }
                            Err(e) => result.errors.extend(problems(e)),
                        }
                        result.record_id = Some(id);
                    }
                }
            }
            None => {
                let made =
                    patch::check_new::<K>(Value::Object(body.clone()), &plan.org, &plan.fields)
                        .and_then(|(clean, customs)| {
                            patch::insert_checked::<K>(
                                tx,
                                &clean,
                                &customs,
                                &plan.actor,
                                &crate::clock::now_stamp(),
                            )
                        });
                match made {
                    Ok(id) => {
                        for k in keys {
                            look.matches.entry(k).or_insert_with(|| id.clone());
                        }
                        with_photo(
                            tx,
                            plan,
                            built.photo.as_deref(),
                            &id,
                            keep,
                            &mut result,
                            &mut created_too,
                        )?;
                        result.action = "create".into();
                        result.record_id = Some(id);
                    }
                    Err(e) => result.errors.extend(problems(e)),
                }
            }
        }
    }
    if result.errors.is_empty() {
        if keep {
            sp.keep()?;
        } else {
            // A preview: rolled back with the rest.
            std::mem::forget(sp);
        }
    } else {
        result.action = "fail".into();
        result.record_id = None;
        drop(sp);
        // What this row created by name is gone with its savepoint.
        for (kind, id) in created_too.drain(..) {
            if kind == "company" {
                look.companies.retain(|_, v| *v != id);
            }
        }
    }
    out.push((result, created_too, before));
    Ok(())
}

/// Attaches the photo a vCard row names to the row's contact (not in a
/// preview: its blob would outlive the rollback); true when a file was
/// attached, which undo then puts in the trash. A photo left out is a
/// warning, never the row's failure.
fn with_photo(
    tx: &Connection,
    plan: &Plan,
    cell: Option<&str>,
    contact_id: &str,
    keep: bool,
    result: &mut RowResult,
    created_too: &mut Vec<(String, String)>,
) -> AppResult<bool> {
    let Some(cell) = cell else {
        return Ok(false);
    };
    let outcome = match photos::cell(cell) {
        photos::Cell::LeftOut(why) => Err(why),
        photos::Cell::Photo { .. } if !keep => Ok(None),
        photos::Cell::Photo { sha, ext } => photos::attach(
            tx,
            plan.photos.as_ref(),
            (&sha, &ext),
            contact_id,
            &plan.actor,
        )?,
    };
    match outcome {
        Ok(Some(file_id)) => {
            created_too.push(("file".into(), file_id));
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(why) => {
            result.warning = Some(format!("photo left out: {why}"));
            Ok(false)
        }
    }
}

/// Runs rows in `tx`; `keep` false for a preview (the caller rolls back).
fn rows<K: RecordKind>(
    tx: &Connection,
    plan: &Plan,
    look: &mut Lookups,
    batch: &[(i64, csv::StringRecord)],
    keep: bool,
) -> AppResult<Vec<Done>> {
    let mut out = Vec::with_capacity(batch.len());
    for (seq, cells) in batch {
        row::<K>(tx, plan, look, *seq, cells, keep, &mut out)?;
    }
    Ok(out)
}

fn rows_of_kind(
    tx: &Connection,
    plan: &Plan,
    look: &mut Lookups,
    batch: &[(i64, csv::StringRecord)],
    keep: bool,
) -> AppResult<Vec<Done>> {
    match plan.import.kind.as_str() {
        "contact" => rows::<Contacts>(tx, plan, look, batch, keep),
        "company" => rows::<Companies>(tx, plan, look, batch, keep),
        _ => rows::<Deals>(tx, plan, look, batch, keep),
    }
}

/// The version (updated_at) of a record of `kind` now.
fn version_of(tx: &Connection, kind: &str, id: &str) -> AppResult<Option<String>> {
    fn v<K: RecordKind>(tx: &Connection, id: &str) -> AppResult<Option<String>> {
        records::version::<K>(tx, id)
    }
    match kind {
        "contact" => v::<Contacts>(tx, id),
        "company" => v::<Companies>(tx, id),
        "deal" => v::<Deals>(tx, id),
        // A contact's photo (a file): undo trashes it whatever happened since.
        _ => Ok(None),
    }
}

/// Writes a batch and its outcomes and progress, in one transaction.
pub fn write_batch(
    tx: &Connection,
    plan: &Plan,
    look: &mut Lookups,
    batch: &[(i64, csv::StringRecord)],
) -> AppResult<()> {
    let results = rows_of_kind(tx, plan, look, batch, true)?;
    let mut counts = Counts {
        rows_done: batch.len() as i64,
        ..Counts::default()
    };
    let id = &plan.import.id;
    for (r, also, before) in &results {
        let error = if !r.errors.is_empty() {
            Some(one_line(&r.errors))
        } else {
            r.warning.clone()
        };
        let outcome = match r.action.as_str() {
            "create" => {
                counts.created += 1;
                "created"
            }
            "update" => {
                counts.updated += 1;
                "updated"
            }
            "skip" => {
                counts.skipped += 1;
                "skipped"
            }
            _ => {
                counts.failed += 1;
                "failed"
            }
        };
        let version = match (&r.record_id, outcome) {
            (Some(rid), "created" | "updated") => version_of(tx, &plan.import.kind, rid)?,
            _ => None,
        };
        store::add_row(
            tx,
            id,
            &RowOutcome {
                seq: r.row,
                sub: 0,
                outcome,
                kind: Some(plan.import.kind.as_str()),
                record_id: r.record_id.as_deref(),
                before: before.as_deref(),
                version: version.as_deref(),
                error: error.as_deref(),
            },
        )?;
        for (n, (kind, rid)) in also.iter().enumerate() {
            let version = version_of(tx, kind, rid)?;
            store::add_row(
                tx,
                id,
                &RowOutcome {
                    seq: r.row,
                    sub: n as i64 + 1,
                    outcome: "created",
                    kind: Some(kind),
                    record_id: Some(rid),
                    before: None,
                    version: version.as_deref(),
                    error: None,
                },
            )?;
        }
    }
    store::add_counts(tx, id, &counts)
}

/// The first rows as they would be written, then rolled back.
pub fn preview(
    tx: &Connection,
    plan: &Plan,
    batch: &[(i64, csv::StringRecord)],
) -> AppResult<Vec<RowResult>> {
    tx.execute_batch("SAVEPOINT import_preview")?;
    let result = Lookups::load(tx, plan)
        .and_then(|mut look| rows_of_kind(tx, plan, &mut look, batch, false));
    tx.execute_batch("ROLLBACK TO import_preview; RELEASE import_preview")?;
    Ok(result?.into_iter().map(|(r, _, _)| r).collect())
}

/// Reads rows after the first `skip` (blank rows are not rows).
pub struct Rows {
    reader: csv::Reader<std::fs::File>,
    seq: i64,
}

impl Rows {
    pub fn open(path: &Path, delimiter: &str, skip: i64) -> AppResult<Rows> {
        let d = delimiter.bytes().next().unwrap_or(b',');
        let mut rows = Rows {
            reader: super::sniff::reader(path, d)?,
            seq: 0,
        };
        while rows.seq < skip {
            if rows.next_row()?.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    pub fn next_row(&mut self) -> AppResult<Option<(i64, csv::StringRecord)>> {
        let mut rec = csv::StringRecord::new();
        loop {
            if !self
                .reader
                .read_record(&mut rec)
                .map_err(super::sniff::bad_csv)?
            {
                return Ok(None);
            }
            if !super::sniff::is_blank(&rec) {
                self.seq += 1;
                return Ok(Some((self.seq, rec)));
            }
        }
    }

    pub fn take(&mut self, n: usize) -> AppResult<Vec<(i64, csv::StringRecord)>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.next_row()? {
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }
}

/// The plan of an import: the import, its organization, the kind's custom
/// fields and who runs it.
pub async fn plan(
    state: &crate::state::AppState,
    tenant: &crate::tenant::Tenant,
    import_id: &str,
) -> AppResult<Plan> {
    let id = import_id.to_string();
    let (import, fields) = tenant
        .db
        .read(move |c| {
            let i = store::get(c, &id)?.ok_or(AppError::NotFound)?;
            let fields = custom::of_kind(c, &i.kind)?;
            Ok((i, fields))
        })
        .await?;
    let org_id = tenant.org_id.clone();
    let org = state
        .control
        .read(move |c| crate::platform::orgs::by_id(c, &org_id))
        .await?
        .ok_or(AppError::NotFound)?;
    let actor = import.created_by.clone();
    let photos = if import.format == "vcard" {
        Some(photos::Photos {
            dir: photos::dir(&dir(&state.tenants.dir(&tenant.org_id)), &import.id),
            store: crate::crm::files::routes::store(state, &tenant.org_id),
            quota: crate::crm::files::routes::quota(state, &tenant.org_id).await?,
        })
    } else {
        None
    };
    Ok(Plan {
        import,
        org,
        fields,
        actor,
        photos,
    })
}

/// The job: runs (or resumes) an import batch by batch until it is done or
/// cancelled. Progress is committed with each batch.
pub async fn job(
    state: crate::state::AppState,
    ctx: crate::jobs::JobContext,
) -> anyhow::Result<()> {
    let org_id = ctx
        .org_id
        .ok_or_else(|| anyhow::anyhow!("an import belongs to an organization"))?;
    let import_id = ctx
        .args
        .get("import")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the import job needs an import id"))?
        .to_string();
    let tenant = state.tenants.get(&org_id).await?;
    let outcome = run(&state, &tenant, &import_id).await;
    if let Err(e) = &outcome {
        tracing::error!(org = %org_id, import = %import_id, error = %e, "import failed");
        let (id, msg) = (import_id.clone(), e.to_string());
        tenant
            .db
            .write(move |tx| store::fail(tx, &id, &msg))
            .await?;
    }
    Ok(())
}

async fn run(
    state: &crate::state::AppState,
    tenant: &crate::tenant::Tenant,
    import_id: &str,
) -> AppResult<()> {
    let plan = plan(state, tenant, import_id).await?;
    if !matches!(plan.import.state.as_str(), "queued" | "running") {
        return Ok(());
    }
    let id = import_id.to_string();
    tenant
        .db
        .write(move |tx| store::set_state(tx, &id, "running"))
        .await?;
    let path = file(&state.tenants.dir(&tenant.org_id), import_id);
    let done = plan.import.counts.rows_done;
    let delimiter = plan.import.delimiter.clone();
    let mut reader = crate::db::off_runtime(move || Rows::open(&path, &delimiter, done)).await?;
    let plan = std::sync::Arc::new(plan);
    let p = plan.clone();
    let mut look = Some(tenant.db.read(move |c| Lookups::load(c, &p)).await?);
    loop {
        let id = import_id.to_string();
        let cancel = tenant
            .db
            .read(move |c| Ok(store::get(c, &id)?.is_some_and(|i| i.cancel)))
            .await?;
        if cancel {
            let id = import_id.to_string();
            tenant
                .db
                .write(move |tx| store::set_state(tx, &id, "cancelled"))
                .await?;
            return Ok(());
        }
        let (batch, r) = crate::db::off_runtime(move || {
            let b = reader.take(BATCH)?;
            Ok((b, reader))
        })
        .await?;
        reader = r;
        if batch.is_empty() {
            let id = import_id.to_string();
            tenant
                .db
                .write(move |tx| store::set_state(tx, &id, "done"))
                .await?;
            return Ok(());
        }
        let p = plan.clone();
        let mut l = look
            .take()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lookups lost")))?;
        // Alone: each row's savepoint must be the outermost (`write_alone`).
        let l = tenant
            .write_alone(move |tx| {
                write_batch(tx, &p, &mut l, &batch)?;
                Ok(l)
            })
            .await?;
        look = Some(l);
    }
}
