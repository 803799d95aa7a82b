//! Undoing an import (within `UNDO_DAYS` of its end): the records it
//! created go to the trash (restorable from there like any deleted record),
//! the records it changed get their fields back as they were before it.
//!
//! A record changed by someone else after the import is a choice: its
//! later edits would be lost by putting the old values back. Undo leaves
//! such a record as it is and says so in its answer (kind, id, reason), so
//! nobody's work disappears silently; a record the import created and
//! someone has edited since still goes to the trash — restorable — and is
//! listed too.

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};

use super::store::{self, Touched};
use crate::crm::companies::Companies;
use crate::crm::contacts::Contacts;
use crate::crm::deals::Deals;
use crate::error::{AppError, AppResult};
use crate::record::custom;
use crate::record::{Record, RecordKind, patch, restrict, store as records};

/// Records undone per write transaction.
const BATCH: i64 = 1000;

/// What an undo did.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct UndoReport {
    /// Records the import created, now in the trash.
    pub trashed: i64,
    /// Records the import changed, now as they were.
    pub restored: i64,
    /// Records not put back (changed by someone since, or already
    /// deleted), and records trashed although edited since.
    pub noted: Vec<Noted>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Noted {
    pub kind: String,
    pub id: String,
    pub reason: String,
}

/// The PATCH body that puts a record back: its old fields, and custom
/// values it did not have removed.
fn restoring(before: &str, now: &Value) -> AppResult<Value> {
    let mut body: Value = serde_json::from_str(before).map_err(|e| AppError::Internal(e.into()))?;
    if let Some(Value::Object(old)) = body.get_mut("custom") {
        for k in now
            .get("custom")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(Map::keys)
        {
            old.entry(k.clone()).or_insert(Value::Null);
        }
    }
    Ok(body)
}

fn one<K: RecordKind>(
    tx: &Connection,
    t: &Touched,
    region: &str,
    actor: &str,
    report: &mut UndoReport,
) -> AppResult<()> {
    let note = |reason: &str| Noted {
        kind: t.kind.clone(),
        id: t.record_id.clone(),
        reason: reason.to_string(),
    };
    let Some(current) = records::load::<K>(tx, &t.record_id)? else {
        report.noted.push(note("already deleted"));
        return Ok(());
    };
    if restrict::since(tx, &t.record_id)?.is_some() {
        report.noted.push(note(
            "restricted by a privacy request since the import; left as it is",
        ));
        return Ok(());
    }
    let changed_since = t.version.as_deref() != Some(current.version());
    if t.outcome == "created" {
        records::trash::<K>(tx, &t.record_id, actor)?;
        report.trashed += 1;
        if changed_since {
            report.noted.push(note(
                "edited since the import; moved to the trash anyway (restorable)",
            ));
        }
        return Ok(());
    }
    if changed_since {
        report
            .noted
            .push(note("changed by someone since the import; left as it is"));
        return Ok(());
    }
    let Some(before) = &t.before else {
        return Ok(());
    };
    let now = patch::as_patch::<K>(&current)?;
    let body = restoring(before, &now)?;
    let fields = custom::of_kind(tx, K::KIND)?;
    patch::apply_in_tx::<K>(tx, &t.record_id, &body, &fields, region, actor)?;
    report.restored += 1;
    Ok(())
}

/// A contact's photo the import attached goes to the trash (restorable
/// like any file); one already deleted is left as it is.
fn photo(tx: &Connection, t: &Touched, actor: &str, report: &mut UndoReport) -> AppResult<()> {
    match crate::crm::files::trash(tx, &t.record_id, actor) {
        Ok(()) => {
            report.trashed += 1;
            Ok(())
        }
        Err(AppError::NotFound) => {
            report.noted.push(Noted {
                kind: t.kind.clone(),
                id: t.record_id.clone(),
                reason: "already deleted".into(),
            });
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Undoes a batch of the import's rows after `after` — first every row's
/// own record, then (`by_name`) the companies rows created by name, so that
/// trashing a company never touches a record still to be undone — and
/// answers the last one done.
pub fn batch(
    tx: &Connection,
    import_id: &str,
    by_name: bool,
    after: (i64, i64),
    region: &str,
    actor: &str,
    report: &mut UndoReport,
) -> AppResult<Option<(i64, i64)>> {
    let rows = store::touched(tx, import_id, by_name, after, BATCH)?;
    for t in &rows {
        match t.kind.as_str() {
            "contact" => one::<Contacts>(tx, t, region, actor, report)?,
            "company" => one::<Companies>(tx, t, region, actor, report)?,
            "deal" => one::<Deals>(tx, t, region, actor, report)?,
            "file" => photo(tx, t, actor, report)?,
            _ => {}
        }
    }
    Ok(rows.last().map(|t| (t.seq, t.sub)))
}
