//! Reading and writing records of any kind: load, decorate (custom values
//! for live fields, references with names, tags), create, trash, restore,
//! purge and search documents. SQL for "any record" lives here.

use std::collections::HashMap;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde_json::{Map, Value};

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::record::catalogue::FieldType;
use crate::record::custom::{self, CustomField};
use crate::record::{Record, RecordKind, SaveRow, history, kind, kinds, refs, restrict, tags};
use crate::search::SearchDoc;

/// How long deleted records (and custom fields) stay restorable.
pub const TRASH_DAYS: i64 = 30;

pub fn trash_cutoff() -> String {
    clock::stamp(clock::now() - time::Duration::days(TRASH_DAYS))
}

/// `SELECT` of a kind's columns plus its custom values.
pub fn select<K: RecordKind>() -> String {
    format!("SELECT {}, t.custom FROM {}", K::COLUMNS, K::FROM)
}

/// A row of `select::<K>()` (custom values as stored, unfiltered).
pub fn read_row<K: RecordKind>(r: &rusqlite::Row) -> rusqlite::Result<K::Record> {
    let mut rec = K::from_row(r)?;
    let custom: String = r.get(K::COLUMN_COUNT)?;
    rec.extras_mut().custom = serde_json::from_str(&custom).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            K::COLUMN_COUNT,
            rusqlite::types::Type::Text,
            e.into(),
        )
    })?;
    Ok(rec)
}

/// A live record as stored (custom values of deleted fields included).
pub fn load<K: RecordKind>(conn: &Connection, id: &str) -> AppResult<Option<K::Record>> {
    Ok(conn
        .prepare_cached(&format!(
            "{} WHERE t.id = ?1 AND t.deleted_at IS NULL",
            select::<K>()
        ))?
        .query_row([id], read_row::<K>)
        .optional()?)
}

/// A live record's version (its `updated_at`) without reading the record.
pub fn version<K: RecordKind>(conn: &Connection, id: &str) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT updated_at FROM {} WHERE id = ?1 AND deleted_at IS NULL",
            K::TABLE
        ))?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// How many live records of the kind there are.
pub fn live_count<K: RecordKind>(conn: &Connection) -> AppResult<usize> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM {} WHERE deleted_at IS NULL",
            K::TABLE
        ))?
        .query_row([], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// A live record as the API shows it.
pub fn get<K: RecordKind>(conn: &Connection, id: &str) -> AppResult<Option<K::Record>> {
    let Some(rec) = load::<K>(conn, id)? else {
        return Ok(None);
    };
    let mut recs = vec![rec];
    decorate::<K>(conn, &mut recs)?;
    Ok(recs.pop())
}

/// Turns stored records into what the API shows: custom values of live
/// fields only, record references with their names, and tags.
pub fn decorate<K: RecordKind>(conn: &Connection, recs: &mut [K::Record]) -> AppResult<()> {
    if recs.is_empty() {
        return Ok(());
    }
    show_custom::<K>(conn, recs)?;
    let ids: Vec<String> = recs.iter().map(|r| r.id().to_string()).collect();
    let mut tags = tags::of_records(conn, &ids)?;
    let mut restricted = restrict::of_records(conn, &ids)?;
    for rec in recs.iter_mut() {
        let id = rec.id().to_string();
        rec.extras_mut().tags = tags.remove(&id).unwrap_or_default();
        let since = restricted.remove(&id);
        rec.extras_mut().restricted = since.is_some();
        rec.extras_mut().restricted_at = since;
    }
    K::decorate(conn, recs)
}

/// `decorate` for `after`, just written over `before` (decorated) by a
/// change: a change sets neither tags nor a restriction (they have routes
/// of their own, and a restricted record is not written), so they are
/// taken from `before` rather than asked again.
pub fn decorate_changed<K: RecordKind>(
    conn: &Connection,
    after: &mut K::Record,
    before: &K::Record,
) -> AppResult<()> {
    let recs = std::slice::from_mut(after);
    show_custom::<K>(conn, recs)?;
    let (from, to) = (before.extras(), recs[0].extras_mut());
    to.tags = from.tags.clone();
    to.restricted = from.restricted;
    to.restricted_at = from.restricted_at.clone();
    K::decorate(conn, recs)
}

/// `decorate` for a record just created: it has no tags and no
/// restriction yet, so neither is asked.
fn decorate_new<K: RecordKind>(conn: &Connection, rec: &mut K::Record) -> AppResult<()> {
    let recs = std::slice::from_mut(rec);
    show_custom::<K>(conn, recs)?;
    K::decorate(conn, recs)
}

/// Custom values of live fields only, record references with their names.
fn show_custom<K: RecordKind>(conn: &Connection, recs: &mut [K::Record]) -> AppResult<()> {
    // Records without custom values need no field definitions.
    let any_custom = recs.iter().any(|r| !r.extras().custom.is_empty());
    let fields = if any_custom {
        custom::of_kind(conn, K::KIND)?
    } else {
        Vec::new()
    };
    let names = ref_names(conn, &fields, recs)?;
    for rec in recs.iter_mut() {
        let stored = std::mem::take(&mut rec.extras_mut().custom);
        rec.extras_mut().custom = shown(&fields, stored, &names);
    }
    Ok(())
}

fn shown(
    fields: &[CustomField],
    mut stored: Map<String, Value>,
    names: &HashMap<String, (String, bool)>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        let Some(v) = stored.remove(&f.key) else {
            continue;
        };
        let v = match (f.ty, v.as_str(), f.target_kind.as_deref()) {
            (FieldType::Record, Some(id), Some(target)) => {
                serde_json::to_value(refs::shown(target, id, names)).unwrap_or(v)
            }
            _ => v,
        };
        out.insert(f.key.clone(), v);
    }
    out
}

/// Names of the records that record fields point to: id → (name, in trash).
fn ref_names<R: Record>(
    conn: &Connection,
    fields: &[CustomField],
    recs: &[R],
) -> AppResult<HashMap<String, (String, bool)>> {
    let mut out = HashMap::new();
    for f in fields.iter().filter(|f| f.ty == FieldType::Record) {
        let Some(target) = f.target_kind.as_deref().and_then(kind) else {
            continue;
        };
        let ids: Vec<&str> = recs
            .iter()
            .filter_map(|r| r.extras().custom.get(&f.key).and_then(Value::as_str))
            .collect();
        out.extend(refs::names(conn, target, &ids)?);
    }
    Ok(out)
}

/// Checks, in the write transaction, what only the database can tell:
/// unique values are unique and record fields point to live records.
pub fn check_custom<K: RecordKind>(
    conn: &Connection,
    custom: &Map<String, Value>,
    id: &str,
) -> AppResult<()> {
    if custom.is_empty() {
        return Ok(());
    }
    let fields = custom::of_kind(conn, K::KIND)?;
    let mut p = crate::error::Problems::new();
    for f in &fields {
        let Some(v) = custom.get(&f.key) else {
            continue;
        };
        if f.unique {
            let taken: bool = conn
                .prepare_cached(&format!(
                    "SELECT EXISTS (SELECT 1 FROM {} t WHERE {} = ?1 AND t.id <> ?2 AND t.deleted_at IS NULL)",
                    K::TABLE,
                    crate::record::catalogue::custom_sql(&f.key, f.ty)
                ))?
                .query_row(params![sql_value(f.ty, v), id], |r| r.get(0))?;
            if taken {
                p.add(
                    format!("custom.{}", f.key),
                    format!("another {} has this value", K::LABEL.to_lowercase()),
                );
            }
        }
        if f.ty == FieldType::Record
            && let (Some(target), Some(ref_id)) =
                (f.target_kind.as_deref().and_then(kind), v.as_str())
            && !refs::is_live(conn, target, ref_id)?
        {
            p.add(
                format!("custom.{}", f.key),
                format!("no such {}", target.name()),
            );
        }
    }
    p.into_result()
}

/// A stored custom value as the SQL of `catalogue::custom_sql` reads it.
fn sql_value(ty: FieldType, v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match (ty, v) {
        (FieldType::Number, Value::String(s)) => {
            s.parse::<f64>().map(Sql::Real).unwrap_or(Sql::Null)
        }
        (FieldType::Money, Value::Object(o)) => o
            .get("amount")
            .and_then(Value::as_i64)
            .map(Sql::Integer)
            .unwrap_or(Sql::Null),
        (_, Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        (_, Value::String(s)) => Sql::Text(s.clone()),
        (_, Value::Number(n)) => n.as_i64().map(Sql::Integer).unwrap_or(Sql::Null),
        _ => Sql::Null,
    }
}

/// Whether a live record with this id is in `table`.
pub fn exists(conn: &Connection, table: &str, id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1 AND deleted_at IS NULL)"
        ))?
        .query_row([id], |r| r.get(0))?)
}

/// The columns an update changed (`update_changed`).
pub struct Changed(Vec<&'static str>);

impl Changed {
    pub fn any(&self, columns: &[&str]) -> bool {
        self.0.iter().any(|c| columns.contains(c))
    }
    /// A change that is not a column of the row (a deal's contacts).
    pub fn add(&mut self, what: &'static str) {
        self.0.push(what);
    }
    /// Whether every changed column is one of `columns` or a write's own
    /// stamp (`updated_at`, `updated_by`); true when nothing changed.
    pub fn only(&self, columns: &[&str]) -> bool {
        self.0
            .iter()
            .all(|c| columns.contains(c) || matches!(*c, "updated_at" | "updated_by"))
    }
}

/// Writes over live row `id` of `table` only the columns whose values differ
/// from the stored ones; 404 if there is no such row. SQLite rewrites every
/// index on a column an `UPDATE` names, changed or not: naming every column
/// put a page of each of a contact's twenty indexes in the WAL for a new
/// job title (17 pages an update, measured; 8 naming only what changed).
pub fn update_changed(
    conn: &Connection,
    table: &str,
    id: &str,
    columns: &[(&'static str, &dyn ToSql)],
) -> AppResult<Changed> {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let mut read = conn.prepare_cached(&format!(
        "SELECT {} FROM {table} WHERE id = ?1 AND deleted_at IS NULL",
        names.join(", ")
    ))?;
    let mut rows = read.query([id])?;
    let row = rows.next()?.ok_or(AppError::NotFound)?;
    let mut changed = Vec::new();
    for (i, (_, value)) in columns.iter().enumerate() {
        let new = value.to_sql()?;
        let same = match &new {
            ToSqlOutput::Borrowed(v) => row.get_ref(i)? == *v,
            ToSqlOutput::Owned(v) => row.get_ref(i)? == ValueRef::from(v),
            _ => false,
        };
        if !same {
            changed.push(i);
        }
    }
    drop(rows);
    let set: Vec<String> = changed
        .iter()
        .enumerate()
        .map(|(n, &i)| format!("{} = ?{}", columns[i].0, n + 2))
        .collect();
    if !set.is_empty() {
        let mut args: Vec<&dyn ToSql> = vec![&id];
        args.extend(changed.iter().map(|&i| columns[i].1));
        conn.prepare_cached(&format!(
            "UPDATE {table} SET {} WHERE id = ?1",
            set.join(", ")
        ))?
        .execute(args.as_slice())?;
    }
    Ok(Changed(changed.iter().map(|&i| columns[i].0).collect()))
}

fn custom_json(custom: &Map<String, Value>) -> AppResult<String> {
    serde_json::to_string(custom).map_err(|e| AppError::Internal(e.into()))
}

/// Inserts a validated record stamped `now`; returns its id.
pub fn insert<K: RecordKind>(
    conn: &Connection,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> AppResult<String> {
    let id = write_new::<K>(conn, clean, custom, actor, now)?;
    emit::<K>(conn, "created", &id, None, None)?;
    Ok(id)
}

/// `insert`, returning the record as the API shows it (read once, for the
/// caller and for the webhook event both).
pub fn insert_shown<K: RecordKind>(
    conn: &Connection,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> AppResult<K::Record> {
    let id = write_new::<K>(conn, clean, custom, actor, now)?;
    let mut shown = load::<K>(conn, &id)?.ok_or(AppError::NotFound)?;
    decorate_new::<K>(conn, &mut shown)?;
    emit::<K>(conn, "created", &id, None, Some(&shown))?;
    Ok(shown)
}

/// The row, its search entry and its history: a new record but its event.
fn write_new<K: RecordKind>(
    conn: &Connection,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> AppResult<String> {
    let id = clock::new_id();
    K::save(
        conn,
        SaveRow {
            id: &id,
            clean,
            custom: &custom_json(custom)?,
            actor,
            now,
            existing: false,
        },
    )?;
    crate::search::enqueue(conn, K::KIND, &id)?;
    history::created(conn, K::KIND, &id, actor, now)?;
    Ok(id)
}

/// The webhook event of a change to a record (written only when some hook
/// subscribes to it): the record as the API shows it (`shown`, or read
/// here), and what changed.
pub fn emit<K: RecordKind>(
    conn: &Connection,
    action: &str,
    id: &str,
    changes: Option<&Map<String, Value>>,
    shown: Option<&K::Record>,
) -> AppResult<()> {
    let event_type = format!("{}.{action}", K::KIND);
    // A restricted record sends nothing (its writes are refused anyway;
    // this keeps any other path from leaking it). Asked only when some hook
    // listens, so a write without hooks costs nothing more.
    if !crate::events::subscribed(conn, &event_type)? || restrict::since(conn, id)?.is_some() {
        return Ok(());
    }
    crate::events::emit_json(conn, &event_type, || {
        fn json<T: serde::Serialize + ?Sized>(v: &T) -> AppResult<String> {
            serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
        }
        let record = match shown {
            Some(r) => json(r)?,
            None => match get::<K>(conn, id)? {
                Some(r) => json(&r)?,
                None => "null".into(),
            },
        };
        // `{"kind":…,"id":…,"record":…,"changes":…}`, written as text.
        let mut data = String::with_capacity(record.len() + 96);
        data.push_str("{\"kind\":");
        data.push_str(&json(K::KIND)?);
        data.push_str(",\"id\":");
        data.push_str(&json(id)?);
        data.push_str(",\"record\":");
        data.push_str(&record);
        if let Some(c) = changes {
            data.push_str(",\"changes\":");
            data.push_str(&json(c)?);
        }
        data.push('}');
        Ok(data)
    })?;
    Ok(())
}

/// Writes a validated record over `before`, the existing one as read in
/// this transaction and decorated (which tells whether it is restricted).
pub fn replace<K: RecordKind>(
    conn: &Connection,
    before: &K::Record,
    clean: &K::Clean,
    custom: &Map<String, Value>,
    actor: &str,
    now: &str,
) -> AppResult<()> {
    if before.extras().restricted {
        return Err(restrict::refusal(K::LABEL));
    }
    let id = before.id();
    let changed = K::save(
        conn,
        SaveRow {
            id,
            clean,
            custom: &custom_json(custom)?,
            actor,
            now,
            existing: true,
        },
    )?;
    // A new stage or owner: the search document would come out the same,
    // and writing it again is most of what such an update costs.
    if changed.is_some_and(|c| c.only(K::UNSEARCHED)) {
        return Ok(());
    }
    crate::search::enqueue(conn, K::KIND, id)
}

/// Moves a live record to the trash; 404 if there is none.
pub fn trash<K: RecordKind>(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    restrict::ensure_writable(conn, K::LABEL, id)?;
    let now = clock::now_stamp();
    // The event carries the record as it was (none when it is not there:
    // the 404 below rolls the event back with everything else).
    emit::<K>(conn, "deleted", id, None, None)?;
    let n = conn
        .prepare_cached(&format!(
            "UPDATE {} SET deleted_at = ?2, updated_at = ?2, updated_by = ?3
             WHERE id = ?1 AND deleted_at IS NULL",
            K::TABLE
        ))?
        .execute(params![id, now, actor])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    let undo = K::after_trash(conn, id, actor)?;
    history::record(conn, K::KIND, id, actor, &now, "deleted", &undo)?;
    crate::search::enqueue(conn, K::KIND, id)
}

/// Brings a record back from the trash; 404 if it is not there (or has been
/// there longer than `TRASH_DAYS`, waiting to be erased).
pub fn restore<K: RecordKind>(conn: &Connection, id: &str, actor: &str) -> AppResult<()> {
    // A restricted record in the trash stays there until it is lifted.
    restrict::ensure_writable(conn, K::LABEL, id)?;
    let now = clock::now_stamp();
    let n = conn
        .prepare_cached(&format!(
            "UPDATE {} SET deleted_at = NULL, updated_at = ?2, updated_by = ?3
             WHERE id = ?1 AND deleted_at IS NOT NULL AND deleted_at >= ?4",
            K::TABLE
        ))?
        .execute(params![id, now, actor, trash_cutoff()])?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    let undo = history::last_deletion(conn, K::KIND, id)?;
    K::after_restore(conn, id, &undo, actor)?;
    history::record(conn, K::KIND, id, actor, &now, "restored", &Map::new())?;
    // Back from the trash: to receivers it exists again.
    emit::<K>(conn, "created", id, None, None)?;
    crate::search::enqueue(conn, K::KIND, id)
}

/// Erases, for every kind, records that have been in the trash longer than
/// `TRASH_DAYS` — with their tags and history — and custom fields deleted
/// that long ago, with their values. A restricted record stays until its
/// restriction is lifted: restriction is often asked instead of erasure,
/// to keep what a claim needs.
pub fn purge_trash(conn: &Connection) -> AppResult<usize> {
    let cutoff = trash_cutoff();
    let mut n = 0;
    for k in kinds() {
        let table = k.table();
        let expired = format!(
            "SELECT t.id FROM {table} t WHERE t.deleted_at < ?1 AND {}",
            restrict::NOT_RESTRICTED
        );
        conn.execute(
            &format!("DELETE FROM record_tags WHERE record_id IN ({expired})"),
            [&cutoff],
        )?;
        conn.execute(
            &format!("DELETE FROM record_history WHERE kind = ?2 AND record_id IN ({expired})"),
            params![cutoff, k.name()],
        )?;
        n += conn.execute(
            &format!("DELETE FROM {table} WHERE id IN ({expired})"),
            [&cutoff],
        )?;
    }
    n += custom::purge(conn, |kind_name| kind(kind_name).map(|k| k.table()))?;
    Ok(n)
}

/// What an organization's database needs when it opens that its SQL
/// migrations cannot do: custom fields' indexes in today's shape.
pub fn after_migrations(conn: &Connection) -> AppResult<()> {
    let rebuilt = custom::reshape_indexes(conn, |kind_name| kind(kind_name).map(|k| k.table()))?;
    if rebuilt > 0 {
        tracing::info!(fields = rebuilt, "rebuilt custom fields' indexes");
    }
    Ok(())
}

/// Search documents of the live records matching `filter` (SQL over `t`).
pub fn search_docs<K: RecordKind>(
    conn: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> AppResult<Vec<SearchDoc>> {
    let rank = rank_sql::<K>();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {}, t.custom, {} FROM {} WHERE t.deleted_at IS NULL AND {filter}",
        K::COLUMNS,
        rank.as_deref().unwrap_or("NULL"),
        K::FROM
    ))?;
    let rows = stmt
        .query_map(args, |r| {
            Ok((
                read_row::<K>(r)?,
                r.get::<_, Option<String>>(K::COLUMN_COUNT + 1)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut recs, keys): (Vec<K::Record>, Vec<Option<String>>) = rows.into_iter().unzip();
    // Records are found by their tags' names too.
    let ids: Vec<String> = recs.iter().map(|r| r.id().to_string()).collect();
    let mut tagged = tags::of_records(conn, &ids)?;
    for r in &mut recs {
        let id = r.id().to_string();
        r.extras_mut().tags = tagged.remove(&id).unwrap_or_default();
    }
    Ok(recs
        .into_iter()
        .zip(keys)
        .map(|(r, key)| {
            let mut doc = K::search_doc(r);
            doc.rank = key.as_deref().map(crate::search::rank);
            doc
        })
        .collect())
}

/// The SQL of a kind's sort by name, when it has one that is never empty:
/// the search index keeps each record's rank in it (`search::rank`), so a
/// list's search box sorted by name reads only the matches that can be on
/// the page (`record::list`).
pub fn rank_sql<K: RecordKind>() -> Option<String> {
    let cat = crate::record::catalogue::Catalogue {
        builtins: K::fields(),
        custom: &[],
    };
    cat.resolve_sort("name")
        .ok()
        .filter(|f| f.not_null && f.sortable && f.multi.is_none())
        .map(|f| f.sql)
}

/// Live records by id, as the API shows them (in no particular order).
pub fn get_many<K: RecordKind>(conn: &Connection, ids: &[String]) -> AppResult<Vec<K::Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(ids).map_err(|e| AppError::Internal(e.into()))?;
    let mut recs = conn
        .prepare_cached(&format!(
            "{} WHERE t.id IN (SELECT value FROM json_each(?1)) AND t.deleted_at IS NULL",
            select::<K>()
        ))?
        .query_map([ids], read_row::<K>)?
        .collect::<Result<Vec<_>, _>>()?;
    decorate::<K>(conn, &mut recs)?;
    Ok(recs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("memory");
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY, a TEXT, b INTEGER, deleted_at TEXT);
             CREATE TABLE fired (col TEXT);
             CREATE TRIGGER a_named AFTER UPDATE OF a ON t BEGIN INSERT INTO fired VALUES ('a'); END;
             CREATE TRIGGER b_named AFTER UPDATE OF b ON t BEGIN INSERT INTO fired VALUES ('b'); END;
             INSERT INTO t VALUES ('1', 'x', 5, NULL), ('2', 'y', NULL, '2026-01-01');",
        )
        .expect("schema");
        conn
    }

    fn fired(conn: &Connection) -> Vec<String> {
        let mut s = conn.prepare("SELECT col FROM fired").expect("sql");
        s.query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read")
    }

    #[test]
    fn an_update_names_only_the_columns_it_changes() {
        let conn = table();
        let b: Option<i64> = Some(5);
        let changed = update_changed(&conn, "t", "1", &[("a", &"z"), ("b", &b)]).expect("update");
        assert!(changed.any(&["a"]));
        assert!(!changed.any(&["b"]));
        // SQLite treats a column the UPDATE names as written: b's trigger stays quiet.
        assert_eq!(fired(&conn), vec!["a"]);
        let row: (String, i64) = conn
            .query_row("SELECT a, b FROM t WHERE id = '1'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!(row, ("z".to_string(), 5));

        let none: Option<i64> = None;
        let changed = update_changed(&conn, "t", "1", &[("a", &"z"), ("b", &none)]).expect("null");
        assert!(changed.any(&["b"]) && !changed.any(&["a"]));
        let b: Option<i64> = conn
            .query_row("SELECT b FROM t WHERE id = '1'", [], |r| r.get(0))
            .expect("row");
        assert_eq!(b, None);
    }

    #[test]
    fn an_update_of_a_missing_or_deleted_row_is_not_found() {
        let conn = table();
        for id in ["2", "3"] {
            let r = update_changed(&conn, "t", id, &[("a", &"z")]);
            assert!(matches!(r, Err(AppError::NotFound)), "{id}");
        }
        assert!(fired(&conn).is_empty());
    }
}
