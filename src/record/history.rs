//! What happened to a record: created, which fields changed from what to
//! what, deleted, restored — by whom and when. Written in the same
//! transaction as the change; the timeline reads it.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

/// Fields whose change is the write itself, not news.
const NOT_NEWS: &[&str] = &["updated_at", "updated_by", "tags"];

#[derive(Serialize, utoipa::ToSchema)]
pub struct Change {
    pub id: i64,
    pub at: String,
    /// A user id, or `api_key:<id>`.
    pub actor: String,
    /// created, updated, deleted, restored, tagged, untagged.
    pub action: String,
    /// For updates: field → [before, after] (custom fields as `custom.<key>`).
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
}

pub fn record(
    conn: &Connection,
    kind: &str,
    id: &str,
    actor: &str,
    at: &str,
    action: &str,
    changes: &Map<String, Value>,
) -> AppResult<()> {
    let changes = serde_json::to_string(changes).map_err(|e| AppError::Internal(e.into()))?;
    conn.prepare_cached(
        "INSERT INTO record_history (kind, record_id, at, actor, action, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![kind, id, at, actor, action, changes])?;
    Ok(())
}

pub fn created(conn: &Connection, kind: &str, id: &str, actor: &str, at: &str) -> AppResult<()> {
    record(conn, kind, id, actor, at, "created", &Map::new())
}

/// The fields that differ between two renderings of a record.
/// `derived` fields (computed from others) are left out.
pub fn diff(before: &Value, after: &Value, derived: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return out;
    };
    for (k, av) in a {
        if NOT_NEWS.contains(&k.as_str()) || derived.contains(&k.as_str()) {
            continue;
        }
        let bv = b.get(k).unwrap_or(&Value::Null);
        if k == "custom" {
            let empty = Map::new();
            let bc = bv.as_object().unwrap_or(&empty);
            let ac = av.as_object().unwrap_or(&empty);
            let keys: std::collections::BTreeSet<&String> = bc.keys().chain(ac.keys()).collect();
            for ck in keys {
                let (x, y) = (
                    bc.get(ck).unwrap_or(&Value::Null),
                    ac.get(ck).unwrap_or(&Value::Null),
                );
                if x != y {
                    out.insert(
                        format!("custom.{ck}"),
                        Value::Array(vec![x.clone(), y.clone()]),
                    );
                }
            }
        } else if bv != av {
            out.insert(k.clone(), Value::Array(vec![bv.clone(), av.clone()]));
        }
    }
    out
}

/// What the record's last deletion noted for its restore (empty if none).
pub fn last_deletion(conn: &Connection, kind: &str, id: &str) -> AppResult<Map<String, Value>> {
    let changes: Option<String> = conn
        .prepare_cached(
            "SELECT changes FROM record_history
             WHERE kind = ?1 AND record_id = ?2 AND action = 'deleted' ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![kind, id], |r| r.get(0))
        .optional()?;
    match changes {
        None => Ok(Map::new()),
        Some(c) => serde_json::from_str(&c).map_err(|e| AppError::Internal(e.into())),
    }
}

/// A record's history, newest first, `limit` entries before `before` (a seq).
pub fn of_record(
    conn: &Connection,
    kind: &str,
    id: &str,
    before: Option<i64>,
    limit: usize,
) -> AppResult<Vec<Change>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor, action, changes FROM record_history
         WHERE kind = ?1 AND record_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![kind, id, before.unwrap_or(i64::MAX), limit as i64],
        |r| {
            let changes: String = r.get(4)?;
            Ok(Change {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                changes: serde_json::from_str(&changes).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        4,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_fields_and_custom_keys() {
        let before =
            json!({"stage": "lead", "updated_at": "1", "custom": {"plan": "basic", "arr": "5"}});
        let after = json!({"stage": "customer", "updated_at": "2", "custom": {"plan": "pro"}});
        let d = diff(&before, &after, &[]);
        assert_eq!(d["stage"], json!(["lead", "customer"]));
        assert_eq!(d["custom.plan"], json!(["basic", "pro"]));
        assert_eq!(d["custom.arr"], json!(["5", null]));
        assert!(!d.contains_key("updated_at"));
    }
}
