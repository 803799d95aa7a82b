//! The filter language every list takes (`?filter=`): JSON with `and`/`or`
//! groups of `{field, op, value}`. It compiles to an SQL condition over the
//! kind's table aliased `t`; field names resolve only through the kind's
//! catalogue and every value is a bound parameter, so no input can change
//! the SQL. An unknown field or an operator that doesn't fit the type is 422.

use rusqlite::types::Value as Sql;
use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::clock;
use crate::error::{AppError, AppResult};
use crate::record::catalogue::{Catalogue, FieldRef, FieldType};

/// Limits that keep a filter's SQL small.
pub const MAX_DEPTH: usize = 6;
pub const MAX_CONDITIONS: usize = 100;
pub const MAX_VALUES: usize = 500;

/// A parsed filter: conditions and groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Cond {
        field: String,
        op: String,
        value: Value,
    },
}

fn bad(problem: impl Into<String>) -> AppError {
    AppError::field("filter", problem)
}

impl Filter {
    /// Parses the `filter` parameter.
    pub fn parse(text: &str) -> AppResult<Filter> {
        let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut count = 0;
        Filter::from_json(&v, 0, &mut count)
    }

    pub fn from_json(v: &Value, depth: usize, count: &mut usize) -> AppResult<Filter> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("groups nest at most {MAX_DEPTH} deep")));
        }
        let o = v
            .as_object()
            .ok_or_else(|| bad("each part is an object: {\"and\": […]}, {\"or\": […]} or {\"field\", \"op\", \"value\"}"))?;
        for (group, make) in [("and", Filter::And as fn(_) -> _), ("or", Filter::Or)] {
            if let Some(items) = o.get(group) {
                if o.len() != 1 {
                    return Err(bad(format!("a group has only the key {group:?}")));
                }
                let items = items
                    .as_array()
                    .ok_or_else(|| bad(format!("{group} takes a list")))?;
                let parts = items
                    .iter()
                    .map(|i| Filter::from_json(i, depth + 1, count))
                    .collect::<AppResult<Vec<_>>>()?;
                return Ok(make(parts));
            }
        }
        *count += 1;
        if *count > MAX_CONDITIONS {
            return Err(bad(format!("use at most {MAX_CONDITIONS} conditions")));
        }
        if o.keys()
            .any(|k| !matches!(k.as_str(), "field" | "op" | "value"))
        {
            return Err(bad("a condition has the keys field, op and value"));
        }
        let field = o
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a condition needs a field"))?;
        let op = o
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a condition needs an op"))?;
        Ok(Filter::Cond {
            field: field.to_string(),
            op: op.to_string(),
            value: o.get("value").cloned().unwrap_or(Value::Null),
        })
    }

    /// The SQL condition and its parameters, in order.
    pub fn compile(&self, cat: &Catalogue<'_>, ctx: &Context) -> AppResult<(String, Vec<Sql>)> {
        let mut args = Vec::new();
        let sql = self.sql(cat, ctx, &mut args)?;
        Ok((sql, args))
    }

    fn sql(&self, cat: &Catalogue<'_>, ctx: &Context, args: &mut Vec<Sql>) -> AppResult<String> {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                if parts.is_empty() {
                    return Ok("1".into());
                }
                let joiner = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let inner = parts
                    .iter()
                    .map(|p| p.sql(cat, ctx, args))
                    .collect::<AppResult<Vec<_>>>()?;
                Ok(format!("({})", inner.join(joiner)))
            }
            Filter::Cond { field, op, value } => {
                let f = cat.resolve(field)?;
                condition(&f, op, value, ctx, args)
                    .map_err(|problem| AppError::field("filter", format!("{}: {problem}", f.key)))
            }
        }
    }
}

/// What a filter may refer to besides its own values.
pub struct Context {
    /// The caller's user id, for `me`.
    pub me: Option<String>,
    pub now: OffsetDateTime,
}

type Res<T> = Result<T, String>;

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn condition(f: &FieldRef, op: &str, v: &Value, ctx: &Context, args: &mut Vec<Sql>) -> Res<String> {
    let e = &f.sql;
    let ty = f.ty;
    let ordered = matches!(
        ty,
        FieldType::Number | FieldType::Money | FieldType::Date | FieldType::Datetime
    );
    if let Some(source) = &f.multi {
        return multi(source, op, v, args);
    }
    let empty_sql = if ty.is_textual() {
        format!("({e} IS NULL OR {e} = '')")
    } else if ty == FieldType::Checkbox {
        format!("{e} = 0")
    } else {
        format!("{e} IS NULL")
    };
    Ok(match op {
        "is_empty" => empty_sql,
        "is_not_empty" => format!("NOT {empty_sql}"),
        "eq" | "neq" => {
            let value = scalar(f, v, ctx)?;
            if op == "eq"
                && let (Some(key), Sql::Text(text)) = (&f.natural_key, &value)
            {
                // The same rows (the key is made from the value), found
                // through the key's index.
                let natural = crate::order::natural_key(text);
                args.push(value);
                args.push(Sql::Text(natural));
                return Ok(format!("({e} = ? AND {key} = ?)"));
            }
            args.push(value);
            if op == "eq" {
                format!("{e} = ?")
            } else {
                format!("({e} IS NULL OR {e} <> ?)")
            }
        }
        "in" | "not_in" => {
            let items = list(v)?;
            let first = args.len();
            for i in items {
                args.push(scalar(f, i, ctx)?);
            }
            let ph = placeholders(items.len());
            if op == "in"
                && let Some(key) = &f.natural_key
                && let Some(keys) = args[first..]
                    .iter()
                    .map(|a| match a {
                        Sql::Text(text) => Some(Sql::Text(crate::order::natural_key(text))),
                        _ => None,
                    })
                    .collect::<Option<Vec<Sql>>>()
            {
                // As `eq`: the same rows, through the key's index.
                args.extend(keys);
                return Ok(format!("({e} IN ({ph}) AND {key} IN ({ph}))"));
            }
            if op == "in" {
                format!("{e} IN ({ph})")
            } else {
                format!("({e} IS NULL OR {e} NOT IN ({ph}))")
            }
        }
        "lt" | "lte" | "gt" | "gte" if ordered => {
            args.push(scalar(f, v, ctx)?);
            let sym = match op {
                "lt" => "<",
                "lte" => "<=",
                "gt" => ">",
                _ => ">=",
            };
            format!("{e} {sym} ?")
        }
        "between" if ordered => {
            let pair = v
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or("between takes [low, high]")?;
            args.push(scalar(f, &pair[0], ctx)?);
            args.push(scalar(f, &pair[1], ctx)?);
            format!("{e} BETWEEN ? AND ?")
        }
        "within" if matches!(ty, FieldType::Date | FieldType::Datetime) => {
            let name = v
                .as_str()
                .ok_or("within takes a period name such as last_30_days")?;
            let (from, to) = period(name, ctx.now)?;
            let show = |d: OffsetDateTime| {
                if ty == FieldType::Date {
                    d.date().to_string()
                } else {
                    clock::stamp(d)
                }
            };
            args.push(Sql::Text(show(from)));
            args.push(Sql::Text(show(to)));
            format!("({e} >= ? AND {e} < ?)")
        }
        "contains" | "not_contains" | "starts_with" if ty.is_textual() => {
            let needle = v.as_str().ok_or("send a string")?.to_lowercase();
            if needle.chars().count() > 200 {
                return Err("use at most 200 characters".into());
            }
            match op {
                "contains" => {
                    args.push(Sql::Text(needle));
                    format!("instr(lower({e}), ?) > 0")
                }
                "not_contains" => {
                    args.push(Sql::Text(needle));
                    format!("({e} IS NULL OR instr(lower({e}), ?) = 0)")
                }
                _ => {
                    args.push(Sql::Integer(needle.chars().count() as i64));
                    args.push(Sql::Text(needle));
                    format!("substr(lower({e}), 1, ?) = ?")
                }
            }
        }
        "me" if ty == FieldType::User => {
            args.push(Sql::Text(
                ctx.me.clone().ok_or("me needs a signed-in user")?,
            ));
            format!("{e} = ?")
        }
        _ => {
            return Err(format!(
                "the operator {:?} does not apply to a {} field",
                short(op),
                ty.as_str()
            ));
        }
    })
}

fn short(s: &str) -> String {
    s.chars().take(30).collect()
}

fn list(v: &Value) -> Res<&Vec<Value>> {
    let items = v.as_array().ok_or("send a list")?;
    if items.is_empty() || items.len() > MAX_VALUES {
        return Err(format!("send 1 to {MAX_VALUES} values"));
    }
    Ok(items)
}

/// Conditions on multi-valued fields (multi-select, tags).
fn multi(source: &str, op: &str, v: &Value, args: &mut Vec<Sql>) -> Res<String> {
    Ok(match op {
        "is_empty" => format!("NOT EXISTS (SELECT 1 FROM {source})"),
        "is_not_empty" => format!("EXISTS (SELECT 1 FROM {source})"),
        "has_any" | "has_all" | "has_none" => {
            let items = list(v)?;
            let mut distinct: Vec<&str> = Vec::new();
            for i in items {
                let s = i.as_str().ok_or("send a list of strings")?;
                if !distinct.contains(&s) {
                    distinct.push(s);
                }
            }
            for s in &distinct {
                args.push(Sql::Text(s.to_string()));
            }
            let ph = placeholders(distinct.len());
            match op {
                "has_any" => format!("EXISTS (SELECT 1 FROM {source} WHERE value IN ({ph}))"),
                "has_none" => format!("NOT EXISTS (SELECT 1 FROM {source} WHERE value IN ({ph}))"),
                _ => {
                    args.push(Sql::Integer(distinct.len() as i64));
                    format!(
                        "(SELECT count(DISTINCT value) FROM {source} WHERE value IN ({ph})) = ?"
                    )
                }
            }
        }
        _ => {
            return Err(format!(
                "the operator {:?} does not apply to a multi-valued field",
                short(op)
            ));
        }
    })
}

/// One comparison value, checked against the field's type.
fn scalar(f: &FieldRef, v: &Value, ctx: &Context) -> Res<Sql> {
    Ok(match f.ty {
        FieldType::Number => Sql::Real(match v {
            Value::Number(n) => n.as_f64().ok_or("not a number")?,
            Value::String(s) => s.trim().parse::<f64>().map_err(|_| "not a number")?,
            _ => return Err("send a number".into()),
        }),
        FieldType::Money => Sql::Integer(v.as_i64().ok_or("send an amount in minor units")?),
        FieldType::Checkbox => Sql::Integer(i64::from(v.as_bool().ok_or("send true or false")?)),
        FieldType::Date => {
            let s = v.as_str().ok_or("send a date like 2026-12-31")?;
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            Date::parse(s, &fmt).map_err(|_| "send a date like 2026-12-31")?;
            Sql::Text(s.to_string())
        }
        FieldType::Datetime => {
            let s = v.as_str().ok_or("send an RFC 3339 time")?;
            Sql::Text(match clock::parse_rfc3339(s) {
                Some(t) => t,
                None => {
                    let fmt = time::macros::format_description!("[year]-[month]-[day]");
                    let d = Date::parse(s, &fmt).map_err(|_| "send an RFC 3339 time or a date")?;
                    clock::stamp(d.with_time(Time::MIDNIGHT).assume_utc())
                }
            })
        }
        FieldType::Select => {
            let s = v.as_str().ok_or("send an option value")?;
            if !f.options.iter().any(|o| o == s) {
                let shown: Vec<&str> = f.options.iter().take(20).map(String::as_str).collect();
                return Err(format!("use one of: {}", shown.join(", ")));
            }
            Sql::Text(s.to_string())
        }
        FieldType::User if v.as_str() == Some("me") => {
            Sql::Text(ctx.me.clone().ok_or("me needs a signed-in user")?)
        }
        _ => {
            let s = v.as_str().ok_or("send a string")?;
            if s.chars().count() > 500 {
                return Err("use at most 500 characters".into());
            }
            Sql::Text(s.to_string())
        }
    })
}

/// A named period around `now` (UTC) as [from, to).
pub fn period(name: &str, now: OffsetDateTime) -> Res<(OffsetDateTime, OffsetDateTime)> {
    let today = now.date().with_time(Time::MIDNIGHT).assume_utc();
    let day = Duration::days(1);
    let week_start = today - Duration::days(i64::from(now.weekday().number_days_from_monday()));
    let month_start = |y: i32, m: Month| {
        Date::from_calendar_date(y, m, 1)
            .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
            .map_err(|e| e.to_string())
    };
    let add_months = |t: OffsetDateTime, n: i32| {
        let total = t.year() * 12 + (t.month() as i32 - 1) + n;
        let m = Month::try_from((total.rem_euclid(12) + 1) as u8).map_err(|e| e.to_string())?;
        month_start(total.div_euclid(12), m)
    };
    let this_month = month_start(now.year(), now.month())?;
    let q_month = ((now.month() as i32 - 1) / 3) * 3;
    let this_quarter = add_months(month_start(now.year(), Month::January)?, q_month)?;
    let this_year = month_start(now.year(), Month::January)?;
    Ok(match name {
        "today" => (today, today + day),
        "yesterday" => (today - day, today),
        "tomorrow" => (today + day, today + day * 2),
        "this_week" => (week_start, week_start + Duration::weeks(1)),
        "last_week" => (week_start - Duration::weeks(1), week_start),
        "next_week" => (week_start + Duration::weeks(1), week_start + Duration::weeks(2)),
        "this_month" => (this_month, add_months(this_month, 1)?),
        "last_month" => (add_months(this_month, -1)?, this_month),
        "next_month" => (add_months(this_month, 1)?, add_months(this_month, 2)?),
        "this_quarter" => (this_quarter, add_months(this_quarter, 3)?),
        "last_quarter" => (add_months(this_quarter, -3)?, this_quarter),
        "next_quarter" => (add_months(this_quarter, 3)?, add_months(this_quarter, 6)?),
        "this_year" => (this_year, add_months(this_year, 12)?),
        "last_year" => (add_months(this_year, -12)?, this_year),
        "next_year" => (add_months(this_year, 12)?, add_months(this_year, 24)?),
        "last_7_days" => (today - day * 6, today + day),
        "last_30_days" => (today - day * 29, today + day),
        "last_90_days" => (today - day * 89, today + day),
        "next_7_days" => (today, today + day * 7),
        "next_30_days" => (today, today + day * 30),
        "next_90_days" => (today, today + day * 90),
        _ => return Err("use a period such as today, this_week, last_30_days, next_month, this_quarter or last_year".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_are_half_open_and_calendar_aligned() {
        let now = datetime!(2026-12-04 15:30 UTC); // a Friday
        let (a, b) = period("this_week", now).expect("week");
        assert_eq!(
            (a.date().to_string(), b.date().to_string()),
            ("2026-11-30".into(), "2026-12-07".into())
        );
        let (a, b) = period("next_month", now).expect("month");
        assert_eq!(
            (a.date().to_string(), b.date().to_string()),
            ("2027-01-01".into(), "2027-02-01".into())
        );
        let (a, _) = period("last_quarter", now).expect("quarter");
        assert_eq!(a.date().to_string(), "2026-07-01");
        assert!(period("someday", now).is_err());
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let mut deep = String::from(r#"{"field":"name","op":"eq","value":"a"}"#);
        for _ in 0..1000 {
            deep = format!(r#"{{"and":[{deep}]}}"#);
        }
        assert!(Filter::parse(&deep).is_err());
        let many: Vec<String> = (0..10_000)
            .map(|i| format!(r#"{{"field":"name","op":"eq","value":"{i}"}}"#))
            .collect();
        assert!(Filter::parse(&format!(r#"{{"or":[{}]}}"#, many.join(","))).is_err());
        assert!(Filter::parse("[1]").is_err());
        assert!(Filter::parse(r#"{"and":[], "or":[]}"#).is_err());
    }
}
