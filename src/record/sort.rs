//! Sorting and keyset paging for every list: `sort=-updated,name` (up to
//! three keys, `-` for descending), nulls last in both directions, the id as
//! the final tie-break, and an opaque cursor holding the last row's sort
//! values. Never OFFSET: page 10,000 costs what page 1 costs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::types::Value as Sql;
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::record::catalogue::{Catalogue, FieldRef};

pub const MAX_KEYS: usize = 3;

pub struct SortKey {
    pub field: FieldRef,
    pub desc: bool,
}

pub struct Sorts(pub Vec<SortKey>);

/// Part of a list read in one walk: a condition over `t` (empty for none),
/// its arguments, and the `ORDER BY` of the walk.
pub struct Range {
    pub cond: String,
    pub args: Vec<Sql>,
    pub order: String,
}

/// How the first key takes part in an order: as itself, known not to be
/// empty (the values' range), or left out (the empty ones').
#[derive(Clone, Copy, PartialEq)]
enum First {
    Whole,
    Values,
    Left,
}

fn join(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a} AND {b}")
    }
}

fn bad(problem: impl Into<String>) -> AppError {
    AppError::field("sort", problem)
}

impl Sorts {
    /// `name`, `-updated`, `custom.renewal,-created` …
    pub fn parse(s: Option<&str>, cat: &Catalogue<'_>) -> AppResult<Sorts> {
        let s = s.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("name");
        let mut keys = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (desc, name) = match part.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, part),
            };
            let field = cat.resolve_sort(name).map_err(|_| {
                let shown: String = name.chars().take(60).collect();
                bad(format!(
                    "no sortable field named {shown:?} (see GET /schema)"
                ))
            })?;
            if !field.sortable {
                return Err(bad(format!("{} cannot be sorted by", field.key)));
            }
            keys.push(SortKey { field, desc });
            if keys.len() > MAX_KEYS {
                return Err(bad(format!("sort by at most {MAX_KEYS} fields")));
            }
        }
        // A field whose ties another orders (a stage, by name) brings it
        // along, in the same direction so that one index serves both; the
        // cursor carries its value like any key's.
        let last = keys.last().map(|k| (k.field.key.clone(), k.desc));
        if let Some((key, desc)) = last
            && let Some(tie) = cat.tie_break(&key)
        {
            let field = tie?;
            if !keys.iter().any(|k| k.field.key == field.key) {
                keys.push(SortKey { field, desc });
            }
        }
        Ok(Sorts(keys))
    }

    fn id_desc(&self) -> bool {
        self.0.first().is_some_and(|k| k.desc)
    }

    /// `ORDER BY` terms. A nullable key orders `(e) IS NULL, e` ascending and
    /// `(e) IS NOT NULL DESC, e DESC` descending — nulls last both ways.
    pub fn order_by(&self) -> String {
        self.order_by_with(|i| self.0[i].field.sql.clone(), "t.id", First::Whole)
    }

    /// The same order over a page's own columns (`p.k0`, …, `p.kid`).
    pub fn order_by_page(&self) -> String {
        self.order_by_with(|i| format!("p.k{i}"), "p.kid", First::Whole)
    }

    fn order_by_with(&self, expr: impl Fn(usize) -> String, id: &str, first: First) -> String {
        let mut terms = Vec::new();
        for (i, k) in self.0.iter().enumerate() {
            let e = expr(i);
            let not_null = k.field.not_null || (i == 0 && first == First::Values);
            if i == 0 && first == First::Left {
                continue;
            }
            match (not_null, k.desc) {
                (true, false) => terms.push(e),
                (true, true) => terms.push(format!("{e} DESC")),
                (false, false) => {
                    terms.push(format!("({e}) IS NULL"));
                    terms.push(e);
                }
                (false, true) => {
                    terms.push(format!("({e}) IS NOT NULL DESC"));
                    terms.push(format!("{e} DESC"));
                }
            }
        }
        terms.push(if self.id_desc() {
            format!("{id} DESC")
        } else {
            id.to_string()
        });
        terms.join(", ")
    }

    /// A page's key columns, named for `order_by_page`: rowid, each key, id.
    pub fn page_columns(&self) -> String {
        let mut cols = vec!["t.rowid AS rid".to_string()];
        for (i, k) in self.0.iter().enumerate() {
            cols.push(format!("{} AS k{i}", k.field.sql));
        }
        cols.push("t.id AS kid".into());
        cols.join(", ")
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list — all of it, or the rest after `cursor` — as index ranges,
    /// each read in its own order, in list order. A list whose first key is
    /// nullable (owner, company, job title, a custom field) is two ranges:
    /// the values, then the empty ones, each a walk of the key's one index
    /// `(e, id)` — the values forwards or backwards from the cursor, the
    /// empty ones (a run of equal keys) by id. One index a column: SQLite
    /// keeps every index on every insert, and two a column (flagged so that
    /// empty values came last both ways) cost a contact four more. As one
    /// condition with `OR … IS NULL` SQLite walked the index from its
    /// start: a page half-way down 200,000 contacts took 350–420 ms.
    pub fn ranges(&self, cursor: Option<&str>) -> AppResult<Vec<Range>> {
        let nullable_first = self.0.first().is_some_and(|k| !k.field.not_null);
        if !nullable_first {
            let (cond, args) = match cursor {
                Some(c) => self.after(c)?,
                None => (String::new(), Vec::new()),
            };
            return Ok(vec![Range {
                cond,
                args,
                order: self.order_by(),
            }]);
        }
        let k = &self.0[0];
        let e = &k.field.sql;
        let values = |cond: String, args: Vec<Sql>| Range {
            cond: join(&format!("{e} IS NOT NULL"), &cond),
            args,
            order: self.order_by_with(|i| self.0[i].field.sql.clone(), "t.id", First::Values),
        };
        let empties = |cond: String, args: Vec<Sql>| Range {
            cond: join(&format!("{e} IS NULL"), &cond),
            args,
            order: self.order_by_with(|i| self.0[i].field.sql.clone(), "t.id", First::Left),
        };
        let Some(c) = cursor else {
            return Ok(vec![
                values(String::new(), Vec::new()),
                empties(String::new(), Vec::new()),
            ]);
        };
        let (after, after_args) = self.after(c)?;
        let (at, id) = decode(c, self.0.len())?;
        let op = if k.desc { "<" } else { ">" };
        Ok(match at.into_iter().next() {
            // Past the values: the rest of the empty ones.
            Some(Sql::Null) | None => vec![empties(after, after_args)],
            // One key: a seek into the index.
            Some(v) if self.0.len() == 1 => vec![
                values(format!("({e}, t.id) {op} (?, ?)"), vec![v, Sql::Text(id)]),
                empties(String::new(), Vec::new()),
            ],
            Some(_) => vec![
                values(after, after_args),
                empties(String::new(), Vec::new()),
            ],
        })
    }

    /// The condition "after the row with these sort values and id".
    pub fn after(&self, cursor: &str) -> AppResult<(String, Vec<Sql>)> {
        let (values, id) = decode(cursor, self.0.len())?;
        let mut args = Vec::new();
        // Keys that are never null, all one way: a row-value comparison,
        // which an index on (keys…, id) serves with one seek.
        let desc = self.id_desc();
        if self.0.iter().all(|k| k.field.not_null && k.desc == desc)
            && values.iter().all(|v| *v != Sql::Null)
        {
            let op = if desc { "<" } else { ">" };
            let mut cols: Vec<&str> = self.0.iter().map(|k| k.field.sql.as_str()).collect();
            cols.push("t.id");
            let marks = vec!["?"; cols.len()].join(", ");
            args.extend(values);
            args.push(Sql::Text(id));
            return Ok((format!("({}) {op} ({marks})", cols.join(", ")), args));
        }
        let id_op = if self.id_desc() { "<" } else { ">" };
        let mut sql = format!("t.id {id_op} ?");
        let mut tail_args = vec![Sql::Text(id)];
        for (k, v) in self.0.iter().zip(values).rev() {
            let e = &k.field.sql;
            let op = if k.desc { "<" } else { ">" };
            let mut a = Vec::new();
            let cond = if v == Sql::Null {
                format!("(({e}) IS NULL AND {sql})")
            } else if k.field.not_null {
                a.push(v.clone());
                a.push(v);
                format!("({e} {op} ? OR ({e} = ? AND {sql}))")
            } else {
                a.push(v.clone());
                a.push(v);
                format!("({e} {op} ? OR ({e}) IS NULL OR ({e} = ? AND {sql}))")
            };
            // Arguments in the order their placeholders appear.
            let mut ordered = Vec::new();
            if a.is_empty() {
                ordered.extend(tail_args);
            } else {
                ordered.push(a[0].clone());
                ordered.push(a[1].clone());
                ordered.extend(tail_args);
            }
            tail_args = ordered;
            sql = cond;
        }
        args.extend(tail_args);
        Ok((sql, args))
    }
}

fn to_json(v: &Sql) -> Value {
    match v {
        Sql::Null => Value::Null,
        Sql::Integer(i) => Value::from(*i),
        Sql::Real(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Sql::Text(s) => Value::String(s.clone()),
        Sql::Blob(_) => Value::Null,
    }
}

fn from_json(v: &Value) -> Option<Sql> {
    Some(match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64()?),
        },
        Value::String(s) => Sql::Text(s.clone()),
        _ => return None,
    })
}

/// A cursor for the row whose sort values and id are these.
pub fn encode(values: &[Sql], id: &str) -> String {
    let mut items: Vec<Value> = values.iter().map(to_json).collect();
    items.push(Value::String(id.to_string()));
    URL_SAFE_NO_PAD.encode(Value::Array(items).to_string())
}

/// A cursor's sort values and id (`keys` values).
pub fn decode(c: &str, keys: usize) -> AppResult<(Vec<Sql>, String)> {
    let bad = || AppError::field("cursor", "not a cursor this server gave out for this sort");
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let items: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if items.len() != keys + 1 {
        return Err(bad());
    }
    let id = items[keys].as_str().ok_or_else(bad)?.to_string();
    let values = items[..keys]
        .iter()
        .map(from_json)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((values, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode(&[Sql::Text("ann lee".into()), Sql::Null], "0190-abc");
        let (v, id) = decode(&c, 2).expect("decodes");
        assert_eq!(id, "0190-abc");
        assert_eq!(v, vec![Sql::Text("ann lee".into()), Sql::Null]);
        assert!(decode(&c, 1).is_err());
        assert!(decode("garbage!", 1).is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("{}"), 1).is_err());
    }
}
