//! Custom fields: the fields an organization adds to a kind of record. Their
//! definitions live in `custom_fields`; their values in each record's
//! `custom` JSON column, keyed by the field's immutable key. A deleted field
//! hides its values and keeps them for `TRASH_DAYS`, so it can come back.

pub mod routes;
pub mod values;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::record::catalogue::{FieldType, custom_sql};
use crate::record::store::trash_cutoff;

/// At most this many custom fields per kind.
pub const MAX_FIELDS_PER_KIND: i64 = 200;
pub const MAX_OPTIONS: usize = 200;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SelectOption {
    /// Stable value stored in records; made from the label when not given.
    pub value: String,
    pub label: String,
    /// One of the palette's colour names (gray, red, orange, yellow, green, teal, blue, purple, pink).
    pub color: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CustomField {
    pub id: String,
    /// The kind of record it belongs to (`contact`, `company`, …).
    pub kind: String,
    /// snake_case, unique per kind, never changes; values travel as `custom.<key>`.
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
    pub unique: bool,
    /// Value given to new records that don't set one.
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub options: Vec<SelectOption>,
    /// For `record` fields: the kind of record it points to.
    pub target_kind: Option<String>,
    pub position: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Set while the field is deleted (restorable for 30 days).
    pub deleted_at: Option<String>,
}

const COLUMNS: &str = "id, kind, key, label, type, required, is_unique, default_value, options,
    target_kind, position, created_at, updated_at, deleted_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<CustomField> {
    let ty: String = r.get(4)?;
    let default: Option<String> = r.get(7)?;
    let options: String = r.get(8)?;
    let bad = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(CustomField {
        id: r.get(0)?,
        kind: r.get(1)?,
        key: r.get(2)?,
        label: r.get(3)?,
        ty: FieldType::parse(&ty).ok_or_else(|| bad(4, format!("unknown field type {ty}")))?,
        required: r.get(5)?,
        unique: r.get(6)?,
        default: default
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| bad(7, e.to_string()))?,
        options: serde_json::from_str(&options).map_err(|e| bad(8, e.to_string()))?,
        target_kind: r.get(9)?,
        position: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        deleted_at: r.get(13)?,
    })
}

/// The live fields of a kind, in order: kept per database and kind until a
/// definition changes (`db::definitions`), so a create, an update or a
/// record shown with custom values costs no query for them. A write that
/// changed a field and has not committed yet reads its own.
pub fn of_kind(conn: &Connection, kind: &str) -> AppResult<Vec<CustomField>> {
    let Some(epoch) =
        crate::db::definitions::epoch(conn).filter(|_| !crate::db::definitions::changing())
    else {
        return read_of_kind(conn, kind);
    };
    let key = (
        conn.path().unwrap_or_default().to_string(),
        kind.to_string(),
    );
    if let Some((at, fields)) = kept().get(&key)
        && *at == epoch
    {
        return Ok(fields.clone());
    }
    let fields = read_of_kind(conn, kind)?;
    kept().insert(key, (epoch, fields.clone()));
    Ok(fields)
}

type Kept = std::collections::HashMap<(String, String), (u64, Vec<CustomField>)>;

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    static KEPT: std::sync::LazyLock<std::sync::Mutex<Kept>> =
        std::sync::LazyLock::new(Default::default);
    KEPT.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_of_kind(conn: &Connection, kind: &str) -> AppResult<Vec<CustomField>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_fields WHERE kind = ?1 AND deleted_at IS NULL
         ORDER BY position, created_at"
    ))?;
    let rows = stmt.query_map([kind], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every field, deleted ones (still restorable) included, optionally of one kind.
pub fn all(conn: &Connection, kind: Option<&str>, deleted: bool) -> AppResult<Vec<CustomField>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_fields
         WHERE (?1 IS NULL OR kind = ?1) AND (deleted_at IS NOT NULL) = ?2
         ORDER BY kind, position, created_at"
    ))?;
    let rows = stmt.query_map(params![kind, deleted], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<CustomField>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM custom_fields WHERE id = ?1"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// The name of the index that serves filters and sorts on a field.
fn index_name(table: &str, key: &str) -> String {
    format!("cf_{table}_{key}")
}

/// Indexes the field's values so that filters and sorts on it cost what a
/// built-in column's do: one index `(value, id)`, which a list reads in two
/// ranges, the values then the empty ones (`sort::Sorts::ranges`).
pub fn create_index(conn: &Connection, table: &str, f: &CustomField) -> AppResult<()> {
    drop_index(conn, table, &f.key)?;
    if f.ty == FieldType::MultiSelect || f.ty == FieldType::LongText {
        return Ok(());
    }
    let e = custom_sql(&f.key, f.ty);
    let name = index_name(table, &f.key);
    conn.execute_batch(&format!(
        "CREATE INDEX \"{name}\" ON {table}({e}, id) WHERE deleted_at IS NULL;",
        e = e.replace("t.custom", "custom")
    ))?;
    Ok(())
}

pub fn drop_index(conn: &Connection, table: &str, key: &str) -> AppResult<()> {
    let name = index_name(table, key);
    conn.execute_batch(&format!(
        "DROP INDEX IF EXISTS \"{name}\";
         DROP INDEX IF EXISTS \"{name}_asc\"; DROP INDEX IF EXISTS \"{name}_desc\";"
    ))?;
    Ok(())
}

/// Rebuilds in today's shape the fields' indexes an earlier version made
/// as a pair (`…_asc` and `…_desc`, before tenant migration 22, which SQL
/// alone cannot do for fields); run when an organization's database opens.
/// Returns how many fields it rebuilt: none, after the first time.
pub fn reshape_indexes(
    conn: &Connection,
    table_of: impl Fn(&str) -> Option<&'static str>,
) -> AppResult<usize> {
    let pairs: std::collections::HashSet<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master
             WHERE type = 'index' AND name LIKE 'cf\\_%\\_asc' ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if pairs.is_empty() {
        return Ok(0);
    }
    let mut rebuilt = 0;
    for f in all(conn, None, false)?
        .into_iter()
        .chain(all(conn, None, true)?)
    {
        let Some(table) = table_of(&f.kind) else {
            continue;
        };
        if pairs.contains(&format!("{}_asc", index_name(table, &f.key))) {
            create_index(conn, table, &f)?;
            rebuilt += 1;
        }
    }
    Ok(rebuilt)
}

pub struct NewField {
    pub kind: String,
    pub key: String,
    pub label: String,
    pub ty: FieldType,
    pub required: bool,
    pub unique: bool,
    pub default: Option<Value>,
    pub options: Vec<SelectOption>,
    pub target_kind: Option<String>,
    pub position: Option<i64>,
}

pub fn insert(conn: &Connection, table: &str, n: NewField) -> AppResult<CustomField> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM custom_fields WHERE kind = ?1 AND deleted_at IS NULL",
        [&n.kind],
        |r| r.get(0),
    )?;
    if count >= MAX_FIELDS_PER_KIND {
        return Err(AppError::field(
            "kind",
            format!("a kind has at most {MAX_FIELDS_PER_KIND} custom fields"),
        ));
    }
    if let Some(existing) = conn
        .query_row(
            "SELECT deleted_at FROM custom_fields WHERE kind = ?1 AND key = ?2",
            params![n.kind, n.key],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
    {
        return Err(AppError::field(
            "key",
            if existing.is_some() {
                "a deleted field has this key: restore it, or choose another key"
            } else {
                "another field of this kind has this key"
            },
        ));
    }
    let position = match n.position {
        Some(p) => p,
        None => conn.query_row(
            "SELECT coalesce(max(position), 0) + 1 FROM custom_fields WHERE kind = ?1",
            [&n.kind],
            |r| r.get(0),
        )?,
    };
    let id = clock::new_id();
    let now = clock::now_stamp();
    crate::db::definitions::changed();
    conn.execute(
        "INSERT INTO custom_fields (id, kind, key, label, type, required, is_unique, default_value,
           options, target_kind, position, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            id,
            n.kind,
            n.key,
            n.label,
            n.ty.as_str(),
            n.required,
            n.unique,
            n.default.as_ref().map(to_json).transpose()?,
            to_json(&n.options)?,
            n.target_kind,
            position,
            now
        ],
    )?;
    let field = get(conn, &id)?.ok_or(AppError::NotFound)?;
    create_index(conn, table, &field)?;
    Ok(field)
}

/// Writes a field's changeable settings.
pub fn update(conn: &Connection, f: &CustomField) -> AppResult<()> {
    crate::db::definitions::changed();
    conn.execute(
        "UPDATE custom_fields SET label = ?2, type = ?3, required = ?4, is_unique = ?5,
           default_value = ?6, options = ?7, target_kind = ?8, position = ?9, updated_at = ?10
         WHERE id = ?1",
        params![
            f.id,
            f.label,
            f.ty.as_str(),
            f.required,
            f.unique,
            f.default.as_ref().map(to_json).transpose()?,
            to_json(&f.options)?,
            f.target_kind,
            f.position,
            clock::now_stamp()
        ],
    )?;
    Ok(())
}

pub fn set_deleted(conn: &Connection, id: &str, deleted: bool) -> AppResult<()> {
    crate::db::definitions::changed();
    let now = clock::now_stamp();
    let n = conn.execute(
        "UPDATE custom_fields SET deleted_at = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, deleted.then_some(now.clone()), now],
    )?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Every stored value of field `key` in `table`: (record id, value).
pub fn stored_values(conn: &Connection, table: &str, key: &str) -> AppResult<Vec<(String, Value)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, json_extract(custom, '$.{key}') FROM {table}
         WHERE json_type(custom, '$.{key}') IS NOT NULL"
    ))?;
    let rows = stmt.query_map([], |r| {
        let id: String = r.get(0)?;
        let v: rusqlite::types::Value = r.get(1)?;
        Ok((id, v))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, v) = row?;
        out.push((id, sql_to_json(v)?));
    }
    Ok(out)
}

/// A value `json_extract` returned, back as JSON (objects and arrays come
/// back as their JSON text).
fn sql_to_json(v: rusqlite::types::Value) -> AppResult<Value> {
    use rusqlite::types::Value as V;
    Ok(match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::from(i),
        V::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        V::Text(s) if s.starts_with('{') || s.starts_with('[') => {
            serde_json::from_str(&s).map_err(|e| AppError::Internal(e.into()))?
        }
        V::Text(s) => Value::String(s),
        V::Blob(_) => return Err(AppError::Internal(anyhow::anyhow!("blob in custom values"))),
    })
}

/// Sets (or, with None, removes) one record's value of field `key`, as is.
pub fn set_value(
    conn: &Connection,
    table: &str,
    id: &str,
    key: &str,
    v: Option<&Value>,
) -> AppResult<()> {
    match v {
        Some(v) => conn.execute(
            &format!(
                "UPDATE {table} SET custom = json_set(custom, '$.{key}', json(?2)) WHERE id = ?1"
            ),
            params![id, to_json(v)?],
        )?,
        None => conn.execute(
            &format!("UPDATE {table} SET custom = json_remove(custom, '$.{key}') WHERE id = ?1"),
            params![id],
        )?,
    };
    Ok(())
}

/// Erases fields deleted more than `TRASH_DAYS` ago, with their values.
pub fn purge(
    conn: &Connection,
    table_of: impl Fn(&str) -> Option<&'static str>,
) -> AppResult<usize> {
    let old: Vec<(String, String, String)> = conn
        .prepare("SELECT id, kind, key FROM custom_fields WHERE deleted_at < ?1")?
        .query_map([trash_cutoff()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, kind, key) in &old {
        if let Some(table) = table_of(kind) {
            conn.execute(
                &format!(
                    "UPDATE {table} SET custom = json_remove(custom, '$.{key}')
                     WHERE json_type(custom, '$.{key}') IS NOT NULL"
                ),
                [],
            )?;
            drop_index(conn, table, key)?;
        }
        crate::db::definitions::changed();
        conn.execute("DELETE FROM custom_fields WHERE id = ?1", [id])?;
    }
    Ok(old.len())
}
