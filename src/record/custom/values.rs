//! The values of custom fields: what each type accepts and how it is stored.
//! Numbers are decimal strings (no float rounding surprises); money is
//! `{amount, currency}` in integer minor units; dates `YYYY-MM-DD`; datetimes
//! RFC 3339 UTC; selects store option values; record fields the target's id.

use serde_json::{Map, Value};

use crate::clock;
use crate::error::Problems;
use crate::record::catalogue::FieldType;
use crate::record::custom::CustomField;
use crate::values;

const MAX_TEXT: usize = 500;
const MAX_LONG_TEXT: usize = 20_000;
const MAX_DIGITS: usize = 30;

pub use crate::values::is_currency;

/// A checked value ready to store; `Ok(None)` means empty (cleared).
pub fn clean(f: &CustomField, v: &Value, region: &str) -> Result<Option<Value>, String> {
    if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    if v.as_array().is_some_and(Vec::is_empty) && f.ty == FieldType::MultiSelect {
        return Ok(None);
    }
    let text = || -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.trim().to_string()),
            _ => Err("send a string".into()),
        }
    };
    let value = match f.ty {
        FieldType::Text | FieldType::LongText => {
            let s = text()?;
            let max = if f.ty == FieldType::Text {
                MAX_TEXT
            } else {
                MAX_LONG_TEXT
            };
            if s.chars().count() > max {
                return Err(format!("use at most {max} characters"));
            }
            let newlines_ok = f.ty == FieldType::LongText;
            if s.chars()
                .any(|c| c.is_control() && !(newlines_ok && (c == '\n' || c == '\t')))
            {
                return Err("contains control characters".into());
            }
            Value::String(s)
        }
        FieldType::Number => Value::String(decimal(v)?),
        FieldType::Money => money(v)?,
        FieldType::Date => {
            let s = text()?;
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(&s, &fmt).map_err(|_| "use a date like 2026-12-31".to_string())?;
            Value::String(s)
        }
        FieldType::Datetime => {
            let s = text()?;
            Value::String(
                clock::parse_rfc3339(&s)
                    .ok_or("use an RFC 3339 time, e.g. 2026-12-31T09:00:00Z")?,
            )
        }
        FieldType::Checkbox => match v {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
            _ => return Err("send true or false".into()),
        },
        FieldType::Select => Value::String(option(f, v)?),
        FieldType::MultiSelect => {
            let items = v.as_array().ok_or("send a list of option values")?;
            let mut chosen = Vec::new();
            for item in items {
                let o = option(f, item)?;
                if !chosen.contains(&o) {
                    chosen.push(o);
                }
            }
            // Stored in the options' order, so equal sets compare equal.
            let ordered: Vec<Value> = f
                .options
                .iter()
                .filter(|o| chosen.contains(&o.value))
                .map(|o| Value::String(o.value.clone()))
                .collect();
            Value::Array(ordered)
        }
        FieldType::Url => {
            let s = text()?;
            let with_scheme = if s.contains("://") {
                s.clone()
            } else {
                format!("https://{s}")
            };
            let u = url::Url::parse(&with_scheme).map_err(|_| "not a web address".to_string())?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() || s.len() > 2000 {
                return Err("use an http or https address".into());
            }
            Value::String(u.to_string())
        }
        FieldType::Email => {
            let s = text()?;
            if !values::is_email(&s) {
                return Err("not an email address".into());
            }
            Value::String(s)
        }
        FieldType::Phone => {
            let s = text()?;
            let mut p = Problems::new();
            let e164 = values::phone_number(&mut p, "phone", &s, region);
            if !p.is_empty() {
                return Err("not a phone number".into());
            }
            Value::String(e164)
        }
        FieldType::User | FieldType::Record => {
            let id = match v {
                Value::String(s) => s.trim().to_string(),
                Value::Object(o) => o
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or("send an id")?
                    .to_string(),
                _ => return Err("send an id".into()),
            };
            if id.len() > 64 || id.chars().any(|c| c.is_control()) {
                return Err("not an id".into());
            }
            Value::String(id)
        }
    };
    Ok(Some(value))
}

/// A decimal from a JSON number or string, in canonical form (`-12.5`).
fn decimal(v: &Value) -> Result<String, String> {
    let raw = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err("send a number".into()),
    };
    let bad = || "not a number (use digits, a point and an optional minus)".to_string();
    let (neg, body) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.as_str()),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.len() + frac.len() > MAX_DIGITS {
        return Err(format!("use at most {MAX_DIGITS} digits"));
    }
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if neg && (int != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Ok(out)
}

fn money(v: &Value) -> Result<Value, String> {
    let o = v
        .as_object()
        .ok_or("send {\"amount\": minor units, \"currency\": \"EUR\"}")?;
    if o.keys().any(|k| k != "amount" && k != "currency") {
        return Err("send only amount and currency".into());
    }
    let amount = o
        .get("amount")
        .and_then(Value::as_i64)
        .ok_or("amount: an integer number of minor units (cents)")?;
    let currency = o
        .get("currency")
        .and_then(Value::as_str)
        .map(str::to_uppercase)
        .filter(|c| is_currency(c))
        .ok_or("currency: an ISO 4217 code such as EUR")?;
    let mut m = Map::new();
    m.insert("amount".into(), Value::from(amount));
    m.insert("currency".into(), Value::String(currency));
    Ok(Value::Object(m))
}

/// The option a value names: its value, or its label in any case.
fn option(f: &CustomField, v: &Value) -> Result<String, String> {
    let s = v.as_str().ok_or("send an option's value")?.trim();
    f.options
        .iter()
        .find(|o| o.value == s)
        .or_else(|| f.options.iter().find(|o| o.label.eq_ignore_ascii_case(s)))
        .map(|o| o.value.clone())
        .ok_or_else(|| {
            let shown: Vec<&str> = f
                .options
                .iter()
                .take(20)
                .map(|o| o.value.as_str())
                .collect();
            format!("use one of: {}", shown.join(", "))
        })
}

/// What a record write does to custom values: the values sent are checked
/// (problems named `custom.<key>`) and merged over `current`; on create,
/// defaults fill what is absent; required fields must not end up empty.
/// Values of deleted fields in `current` are kept, so restoring the field
/// brings them back.
pub fn merge(
    fields: &[CustomField],
    current: Map<String, Value>,
    sent: Option<Value>,
    creating: bool,
    region: &str,
    p: &mut Problems,
) -> Map<String, Value> {
    let mut out = current;
    let sent = match sent {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            p.add("custom", "send an object of field keys and values");
            Map::new()
        }
    };
    for (key, v) in &sent {
        let Some(f) = fields.iter().find(|f| &f.key == key) else {
            let shown: String = key.chars().take(60).collect();
            p.add(format!("custom.{shown}"), "no such field");
            continue;
        };
        match clean(f, v, region) {
            Ok(Some(v)) => {
                out.insert(key.clone(), v);
            }
            Ok(None) => {
                out.remove(key);
            }
            Err(problem) => p.add(format!("custom.{key}"), problem),
        }
    }
    for f in fields {
        if creating
            && !sent.contains_key(&f.key)
            && let Some(d) = &f.default
            && let Ok(Some(v)) = clean(f, d, region)
        {
            out.insert(f.key.clone(), v);
        }
        let touched = creating || sent.contains_key(&f.key);
        if f.required && touched && !out.contains_key(&f.key) {
            p.add(format!("custom.{}", f.key), "required");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_canonical_and_exact() {
        assert_eq!(decimal(&Value::from("00012.500")).ok(), Some("12.5".into()));
        assert_eq!(decimal(&Value::from("-0.0")).ok(), Some("0".into()));
        assert_eq!(
            decimal(&Value::from("12345678901234567890.12")).ok(),
            Some("12345678901234567890.12".into())
        );
        assert_eq!(decimal(&serde_json::json!(0.1)).ok(), Some("0.1".into()));
        for bad in ["1e5", "", ".", "1.2.3", "abc", "--1", "1,5"] {
            assert!(decimal(&Value::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_needs_minor_units_and_a_real_currency() {
        assert!(money(&serde_json::json!({"amount": 1999, "currency": "eur"})).is_ok());
        assert!(money(&serde_json::json!({"amount": 19.99, "currency": "EUR"})).is_err());
        assert!(money(&serde_json::json!({"amount": 1, "currency": "ZZZ"})).is_err());
        assert!(money(&serde_json::json!({"amount": 1, "currency": "EUR", "x": 1})).is_err());
    }
}
