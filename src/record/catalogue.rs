//! What a list can be filtered and sorted by: a kind's built-in fields and
//! its custom fields, each with the SQL expression that reads it. Field names
//! in a request are looked up here and nowhere else, so no input ever becomes
//! SQL; values are always bound parameters.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::record::custom::CustomField;

/// The types a field can have, built-in or custom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Money,
    Date,
    Datetime,
    Checkbox,
    Select,
    MultiSelect,
    Url,
    Email,
    Phone,
    User,
    Record,
}

impl FieldType {
    pub const ALL: [FieldType; 14] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Number,
        FieldType::Money,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Checkbox,
        FieldType::Select,
        FieldType::MultiSelect,
        FieldType::Url,
        FieldType::Email,
        FieldType::Phone,
        FieldType::User,
        FieldType::Record,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Number => "number",
            FieldType::Money => "money",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Checkbox => "checkbox",
            FieldType::Select => "select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Url => "url",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::User => "user",
            FieldType::Record => "record",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::LongText
                | FieldType::Url
                | FieldType::Email
                | FieldType::Phone
        )
    }
}

/// A field every record of a kind has, as a column (or SQL expression).
pub struct Builtin {
    /// The name in the record JSON, filters and sorts.
    pub key: &'static str,
    pub label: &'static str,
    pub ty: FieldType,
    /// SQL over the kind's table aliased `t`; None: not filterable or sortable.
    pub sql: Option<&'static str>,
    pub sortable: bool,
    /// The expression is never NULL (no null ordering needed).
    pub not_null: bool,
    /// Allowed values of a select field.
    pub options: &'static [&'static str],
    /// The kind a record field points to.
    pub target: Option<&'static str>,
    /// Other names accepted in `sort` (`created` for `created_at`).
    pub aliases: &'static [&'static str],
    /// A simple list parameter filtering by equality (`?stage=lead`).
    pub param: Option<&'static str>,
    /// What a list sorts by when it is not the value itself: a name's
    /// natural key (`crate::order`), a contact's company by that company's
    /// name, the first email. Filters still compare `sql`.
    pub order_by: Option<&'static str>,
    /// The field that orders records this one ties (before the id), when a
    /// list is sorted by this one last: a contact's stage, then the name.
    /// Its index is then the filter's `(stage, name_key, id)` and the list
    /// needs none of its own (SQLite keeps every index on every insert).
    pub then: Option<&'static str>,
    /// `order_by` is `crate::order::natural_key` of `sql`, kept with the
    /// row (a name's `name_key`): an equality then also compares the key,
    /// so the key's index, which the list's sort needs anyway, serves the
    /// filter and `sql` needs no index of its own.
    pub order_is_natural_key: bool,
}

impl Builtin {
    /// A plain column field with no extras.
    pub const fn column(
        key: &'static str,
        label: &'static str,
        ty: FieldType,
        sql: &'static str,
    ) -> Builtin {
        Builtin {
            key,
            label,
            ty,
            sql: Some(sql),
            sortable: true,
            not_null: false,
            options: &[],
            target: None,
            aliases: &[],
            param: None,
            order_by: None,
            then: None,
            order_is_natural_key: false,
        }
    }
}

/// When a record was created and last changed: every kind has them.
pub const CREATED_AT: Builtin = Builtin {
    not_null: true,
    aliases: &["created"],
    ..Builtin::column("created_at", "Created", FieldType::Datetime, "t.created_at")
};
pub const UPDATED_AT: Builtin = Builtin {
    not_null: true,
    aliases: &["updated"],
    ..Builtin::column("updated_at", "Updated", FieldType::Datetime, "t.updated_at")
};

/// A field a filter or sort names, resolved.
#[derive(Clone, Debug)]
pub struct FieldRef {
    pub key: String,
    pub ty: FieldType,
    /// SQL reading the value (for multi-select and tags: see `multi`).
    pub sql: String,
    pub not_null: bool,
    pub sortable: bool,
    /// Valid option values of a select or multi-select.
    pub options: Vec<String>,
    /// For multi-valued fields, SQL of a table-valued source of the values
    /// (`json_each(…)` or a subquery with a `value` column).
    pub multi: Option<String>,
    /// SQL of the value's natural key (`Builtin::order_is_natural_key`).
    pub natural_key: Option<String>,
}

/// The fields of one kind in one organization.
pub struct Catalogue<'a> {
    pub builtins: &'static [Builtin],
    pub custom: &'a [CustomField],
}

/// The SQL reading custom field `key`. Keys are checked snake_case when the
/// field is created, so they are safe inside the JSON path.
pub fn custom_sql(key: &str, ty: FieldType) -> String {
    match ty {
        FieldType::Number => format!("CAST(json_extract(t.custom, '$.{key}') AS REAL)"),
        FieldType::Money => format!("json_extract(t.custom, '$.{key}.amount')"),
        FieldType::Checkbox => format!("coalesce(json_extract(t.custom, '$.{key}'), 0)"),
        _ => format!("json_extract(t.custom, '$.{key}')"),
    }
}

impl Catalogue<'_> {
    pub fn resolve(&self, name: &str) -> AppResult<FieldRef> {
        if name == "tags" {
            return Ok(FieldRef {
                key: "tags".into(),
                ty: FieldType::MultiSelect,
                sql: String::new(),
                not_null: false,
                sortable: false,
                options: Vec::new(),
                multi: Some(
                    "(SELECT tag_id AS value FROM record_tags WHERE record_id = t.id)".into(),
                ),
                natural_key: None,
            });
        }
        if let Some(key) = name.strip_prefix("custom.") {
            let f = self
                .custom
                .iter()
                .find(|f| f.key == key)
                .ok_or_else(|| unknown(name))?;
            let multi = (f.ty == FieldType::MultiSelect)
                .then(|| format!("json_each(t.custom, '$.{}')", f.key));
            return Ok(FieldRef {
                key: name.to_string(),
                ty: f.ty,
                sql: custom_sql(&f.key, f.ty),
                not_null: f.ty == FieldType::Checkbox,
                sortable: f.ty != FieldType::MultiSelect,
                options: f.options.iter().map(|o| o.value.clone()).collect(),
                multi,
                natural_key: None,
            });
        }
        let b = self
            .builtins
            .iter()
            .find(|b| b.key == name || b.aliases.contains(&name))
            .ok_or_else(|| unknown(name))?;
        let sql = b.sql.ok_or_else(|| unknown(name))?;
        Ok(FieldRef {
            key: b.key.to_string(),
            ty: b.ty,
            sql: sql.to_string(),
            not_null: b.not_null,
            sortable: b.sortable,
            options: b.options.iter().map(|o| o.to_string()).collect(),
            multi: None,
            natural_key: b
                .order_by
                .filter(|_| b.order_is_natural_key)
                .map(str::to_string),
        })
    }

    /// The field a list sorts by under `name`: as `resolve`, but a built-in
    /// field with its own order (`Builtin::order_by`) sorts by that.
    /// The field that breaks ties of sort field `key` (`Builtin::then`).
    pub fn tie_break(&self, key: &str) -> Option<AppResult<FieldRef>> {
        let b = self.builtins.iter().find(|b| b.key == key)?;
        b.then.map(|then| self.resolve_sort(then))
    }

    pub fn resolve_sort(&self, name: &str) -> AppResult<FieldRef> {
        let ordered = self
            .builtins
            .iter()
            .find(|b| b.key == name || b.aliases.contains(&name));
        if let Some(b) = ordered
            && let Some(order) = b.order_by
        {
            return Ok(FieldRef {
                key: b.key.to_string(),
                ty: b.ty,
                sql: order.to_string(),
                not_null: b.not_null,
                sortable: b.sortable,
                options: Vec::new(),
                multi: None,
                natural_key: None,
            });
        }
        self.resolve(name)
    }
}

fn unknown(name: &str) -> AppError {
    let shown: String = name.chars().take(60).collect();
    AppError::field(
        "filter",
        format!("no field named {shown:?} (see GET /schema)"),
    )
}
