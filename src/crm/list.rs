//! Keyset pagination shared by every CRM list: `limit` (≤ 200), an opaque
//! `cursor` (the sort value and id of the last row seen), and `sort` by name,
//! created or updated time, ascending or (`-name`) descending. Never OFFSET:
//! page 10,000 costs what page 1 costs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Connection;
use rusqlite::types::Value;
use serde::Serialize;

use crate::clock;
use crate::error::{AppError, AppResult};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: i64,
}

#[derive(Clone, Copy)]
pub struct Sort {
    column: &'static str,
    desc: bool,
}

impl Sort {
    /// `name`, `created`, `updated`, each optionally prefixed with `-`.
    pub fn parse(s: Option<&str>) -> AppResult<Sort> {
        let s = s.unwrap_or("name");
        let (desc, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let column = match key {
            "name" => "sort_name",
            "created" => "created_at",
            "updated" => "updated_at",
            _ => {
                return Err(AppError::field(
                    "sort",
                    "use name, created or updated (prefix - for descending)",
                ));
            }
        };
        Ok(Sort { column, desc })
    }
}

pub fn limit(l: Option<usize>) -> AppResult<usize> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::field("limit", format!("use 1 to {MAX_LIMIT}"))),
    }
}

fn encode_cursor(value: &str, id: &str) -> String {
    let json = serde_json::json!([value, id]).to_string();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(c: &str) -> AppResult<(String, String)> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice::<(String, String)>(&b).ok())
        .ok_or_else(|| AppError::field("cursor", "not a cursor this server gave out"))
}

/// A list query being built: `WHERE` conditions on the table aliased `t`,
/// and their parameters in order.
#[derive(Default)]
pub struct Filter {
    conditions: Vec<String>,
    args: Vec<Value>,
}

impl Filter {
    pub fn new() -> Filter {
        Filter {
            conditions: vec!["t.deleted_at IS NULL".into()],
            args: Vec::new(),
        }
    }

    pub fn eq(&mut self, column: &str, value: Option<String>) {
        if let Some(v) = value {
            self.conditions.push(format!("t.{column} = ?"));
            self.args.push(Value::Text(v));
        }
    }

    pub fn updated_since(&mut self, since: Option<String>) -> AppResult<()> {
        if let Some(s) = since {
            let stamp = clock::parse_rfc3339(&s).ok_or_else(|| {
                AppError::field(
                    "updated_since",
                    "use an RFC 3339 time, e.g. 2026-01-31T09:00:00Z",
                )
            })?;
            self.conditions.push("t.updated_at >= ?".into());
            self.args.push(Value::Text(stamp));
        }
        Ok(())
    }

    /// Prefix match on lower-cased key columns: `sql` uses `{lo}`/`{hi}` for the
    /// bounds of the range `[q, q + U+10FFFF)`, which any index can serve.
    pub fn prefix(&mut self, q: Option<String>, sql: &str) {
        let Some(q) = q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty()) else {
            return;
        };
        let hi = format!("{q}\u{10FFFF}");
        let mut cond = String::new();
        let mut rest = sql;
        while let Some(pos) = rest.find('{') {
            cond.push_str(&rest[..pos]);
            let end = rest[pos..]
                .find('}')
                .map(|e| pos + e + 1)
                .unwrap_or(rest.len());
            match &rest[pos..end] {
                "{lo}" => self.args.push(Value::Text(q.clone())),
                _ => self.args.push(Value::Text(hi.clone())),
            }
            cond.push('?');
            rest = &rest[end..];
        }
        cond.push_str(rest);
        self.conditions.push(format!("({cond})"));
    }

    fn where_sql(&self) -> String {
        self.conditions.join(" AND ")
    }

    pub fn count(&self, conn: &Connection, table: &str) -> AppResult<i64> {
        let sql = format!("SELECT count(*) FROM {table} t WHERE {}", self.where_sql());
        Ok(
            conn.query_row(&sql, rusqlite::params_from_iter(self.args.iter()), |r| {
                r.get(0)
            })?,
        )
    }

    /// Runs `SELECT {columns} FROM {from}` (the listed table aliased `t`)
    /// with these conditions, keyset-paged. `row` maps a row to an item; the
    /// sort value and id are read from two extra columns after the caller's.
    #[allow(clippy::too_many_arguments)]
    pub fn page<T>(
        mut self,
        conn: &Connection,
        (columns, from): (&str, &str),
        extra_at: usize,
        sort: Sort,
        cursor: Option<&str>,
        limit: usize,
        row: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> AppResult<Page<T>> {
        let dir = if sort.desc { "DESC" } else { "ASC" };
        if let Some(c) = cursor {
            let (value, id) = decode_cursor(c)?;
            let op = if sort.desc { "<" } else { ">" };
            self.conditions
                .push(format!("(t.{col}, t.id) {op} (?, ?)", col = sort.column));
            self.args.push(Value::Text(value));
            self.args.push(Value::Text(id));
        }
        let sql = format!(
            "SELECT {columns}, t.{col}, t.id FROM {from} WHERE {w} ORDER BY t.{col} {dir}, t.id {dir} LIMIT {n}",
            col = sort.column,
            w = self.where_sql(),
            n = limit + 1
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(self.args.iter()))?;
        let mut items = Vec::with_capacity(limit + 1);
        let mut last = None;
        while let Some(r) = rows.next()? {
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next_cursor: last.map(|(v, id): (String, String)| encode_cursor(&v, &id)),
                });
            }
            items.push(row(r)?);
            last = Some((r.get(extra_at)?, r.get(extra_at + 1)?));
        }
        Ok(Page {
            items,
            next_cursor: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor("ann lee", "0190-abc");
        assert_eq!(
            decode_cursor(&c).ok(),
            Some(("ann lee".into(), "0190-abc".into()))
        );
        assert!(decode_cursor("garbage!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("{}")).is_err());
    }

    #[test]
    fn sorts_and_limits_are_checked() {
        assert!(Sort::parse(Some("-updated")).is_ok());
        assert!(Sort::parse(Some("email; DROP TABLE contacts")).is_err());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(201)).is_err());
        assert_eq!(limit(None).ok(), Some(DEFAULT_LIMIT));
    }
}
