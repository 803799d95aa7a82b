//! A record as a row of cells: the columns of a kind (its built-in fields,
//! the rest of what the API shows, its custom fields, tags) and each value
//! flattened to one cell. CSV and XLSX write these rows; text that a
//! spreadsheet would run as a formula is neutralized here, once.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::record::catalogue::FieldType;
use crate::record::custom::CustomField;

/// One cell. Numbers are kept apart from text: they are written as numbers
/// and never neutralized (a negative amount stays `-500`).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number as written (an integer or a decimal), checked numeric.
    Number(String),
    Bool(bool),
}

impl Cell {
    /// The cell as a spreadsheet may safely read it: text starting with
    /// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
    /// (OWASP, "CSV Injection"), so it is shown, not evaluated.
    pub fn safe_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => neutralize(s),
            Cell::Number(n) => Cow::Borrowed(n),
            Cell::Bool(true) => Cow::Borrowed("true"),
            Cell::Bool(false) => Cow::Borrowed("false"),
        }
    }
}

/// Text with a leading formula character made inert.
pub fn neutralize(s: &str) -> Cow<'_, str> {
    match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Whether `s` is a plain decimal number (`12`, `-3.5`): what a custom
/// number field stores. Anything else (`1e5`, `inf`, `+1`) stays text.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Where a column's value comes from.
#[derive(Clone, Debug)]
enum Source {
    /// A top-level key of the record as the API shows it.
    Key(String),
    /// A custom field's value (for money, its amount in minor units).
    Custom(String, FieldType),
    /// A money custom field's currency.
    Currency(String),
    Tags,
}

/// The columns of one export: headers and where each value comes from.
pub struct Columns {
    headers: Vec<String>,
    sources: Vec<Source>,
}

/// Keys every record shows that go at the end, in this order.
const TRAILING: &[&str] = &["created_at", "created_by", "updated_at", "updated_by"];

impl Columns {
    /// The columns of a kind: `id`, its built-in fields in catalogue order,
    /// the rest of what `sample` (one record as the API shows it) carries,
    /// when it was made and changed, each live custom field, then tags.
    /// Without a sample (an empty export) only the catalogue's keys.
    pub fn new(
        builtins: &[&str],
        sample: Option<&Map<String, Value>>,
        custom: &[CustomField],
    ) -> Columns {
        let mut keys: Vec<String> = vec!["id".into()];
        let skip = |k: &str| matches!(k, "id" | "custom" | "tags") || TRAILING.contains(&k);
        for b in builtins {
            let shown = sample.is_none_or(|s| s.contains_key(*b));
            if shown && !skip(b) && !keys.iter().any(|k| k == b) {
                keys.push((*b).to_string());
            }
        }
        if let Some(s) = sample {
            for k in s.keys() {
                if !skip(k) && !keys.iter().any(|x| x == k) {
                    keys.push(k.clone());
                }
            }
        }
        keys.extend(TRAILING.iter().map(|k| k.to_string()));
        let mut headers = keys.clone();
        let mut sources: Vec<Source> = keys.into_iter().map(Source::Key).collect();
        for f in custom {
            headers.push(format!("custom.{}", f.key));
            sources.push(Source::Custom(f.key.clone(), f.ty));
            if f.ty == FieldType::Money {
                headers.push(format!("custom.{}.currency", f.key));
                sources.push(Source::Currency(f.key.clone()));
            }
        }
        headers.push("tags".into());
        sources.push(Source::Tags);
        Columns { headers, sources }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The cells of one record (as the API shows it), in column order.
    pub fn row(&self, rec: &Map<String, Value>) -> Vec<Cell> {
        let custom = rec.get("custom").and_then(Value::as_object);
        self.sources
            .iter()
            .map(|s| match s {
                Source::Key(k) => rec.get(k).map(cell).unwrap_or(Cell::Empty),
                Source::Custom(k, ty) => custom
                    .and_then(|c| c.get(k))
                    .map(|v| custom_cell(v, *ty))
                    .unwrap_or(Cell::Empty),
                Source::Currency(k) => custom
                    .and_then(|c| c.get(k))
                    .and_then(|v| v.get("currency"))
                    .map(cell)
                    .unwrap_or(Cell::Empty),
                Source::Tags => rec.get("tags").map(cell).unwrap_or(Cell::Empty),
            })
            .collect()
    }
}

fn custom_cell(v: &Value, ty: FieldType) -> Cell {
    match (ty, v) {
        (FieldType::Number, Value::String(s)) if is_number(s) => Cell::Number(s.clone()),
        (FieldType::Money, Value::Object(o)) => o.get("amount").map(cell).unwrap_or(Cell::Empty),
        _ => cell(v),
    }
}

/// Any value as one cell: lists joined with `; `, references by name,
/// addresses on one line.
pub fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => Cell::Number(n.to_string()),
        Value::String(s) if s.is_empty() => Cell::Empty,
        Value::String(s) => Cell::Text(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(text).filter(|t| !t.is_empty()).collect();
            if parts.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(parts.join("; "))
            }
        }
        Value::Object(_) => match text(v) {
            t if t.is_empty() => Cell::Empty,
            t => Cell::Text(t),
        },
    }
}

/// The part of an address, in the order it is written.
const ADDRESS: &[&str] = &["street", "city", "region", "postal_code", "country"];

/// One value as text: an object by its name (a company, a stage, a tag),
/// its email or phone (a labelled email), or its parts (an address).
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Object(o) => {
            for k in [
                "name",
                "email",
                "phone",
                "value",
                "title",
                "contact_id",
                "id",
            ] {
                if let Some(Value::String(s)) = o.get(k)
                    && !s.is_empty()
                {
                    return s.clone();
                }
            }
            if o.keys().any(|k| ADDRESS.contains(&k.as_str())) {
                return ADDRESS
                    .iter()
                    .filter_map(|k| o.get(*k).and_then(Value::as_str))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            serde_json::to_string(v).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formula_characters_are_made_inert_and_numbers_are_not() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(Cell::Text(s.into()).safe_text(), format!("'{s}"));
        }
        assert_eq!(Cell::Text("Ada".into()).safe_text(), "Ada");
        assert_eq!(Cell::Number("-500".into()).safe_text(), "-500");
    }

    #[test]
    fn only_plain_decimals_count_as_numbers() {
        for ok in ["0", "12", "-3.5", "10.25"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", "1e5", "inf", "+1", "1.", ".5", "=1", "1-2"] {
            assert!(!is_number(bad), "{bad}");
        }
        assert_eq!(
            custom_cell(&json!("=cmd"), FieldType::Number),
            Cell::Text("=cmd".into())
        );
    }

    #[test]
    fn values_flatten_to_one_cell() {
        assert_eq!(
            cell(&json!([{"label": "work", "email": "a@x.org"}, {"email": "b@x.org"}])),
            Cell::Text("a@x.org; b@x.org".into())
        );
        assert_eq!(
            cell(&json!({"street": "1 Main St", "city": "Springfield", "country": "US"})),
            Cell::Text("1 Main St, Springfield, US".into())
        );
        assert_eq!(
            cell(&json!({"id": "c1", "name": "Acme"})),
            Cell::Text("Acme".into())
        );
        assert_eq!(cell(&json!([])), Cell::Empty);
    }
}
