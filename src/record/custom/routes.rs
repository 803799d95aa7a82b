//! `/fields`: custom field definitions. Everyone reads them; admins change them.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit;
use crate::auth::roles::Role;
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems, Query};
use crate::paths::IdPath;
use crate::platform::access::OrgAccess;
use crate::record::catalogue::FieldType;
use crate::record::custom::{self, CustomField, MAX_OPTIONS, NewField, SelectOption, values};
use crate::record::list::Items;
use crate::record::{kind, tags};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FieldParams {
    /// Only this kind's fields.
    pub kind: Option<String>,
    /// true: the deleted fields that can still be restored.
    pub deleted: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionInput {
    /// Keep an existing option's value to rename it; new options get one from the label.
    pub value: Option<String>,
    pub label: String,
    #[schema(pattern = "^(gray|red|orange|yellow|green|teal|blue|purple|pink)$")]
    pub color: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    pub kind: Option<String>,
    pub key: Option<String>,
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub ty: Option<FieldType>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub default: Option<Value>,
    pub options: Option<Vec<OptionInput>>,
    pub target_kind: Option<String>,
    pub position: Option<i64>,
    /// When options in use are removed: "clear" empties those values; without
    /// it the change is refused with 409.
    pub removed_options: Option<String>,
}

fn check_key(p: &mut Problems, key: &str) {
    let ok = (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        p.add(
            "key",
            "use snake_case: a-z, 0-9 and _, starting with a letter, at most 40",
        );
    }
}

fn slug(label: &str) -> String {
    let s: String = label
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let s = s
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if s.is_empty() {
        "option".into()
    } else {
        s.chars().take(40).collect()
    }
}

fn clean_options(
    p: &mut Problems,
    given: Vec<OptionInput>,
    existing: &[SelectOption],
) -> Vec<SelectOption> {
    if given.len() > MAX_OPTIONS {
        p.add("options", format!("use at most {MAX_OPTIONS} options"));
    }
    let mut out: Vec<SelectOption> = Vec::new();
    for (i, o) in given.into_iter().enumerate() {
        let label = crate::values::text(p, &format!("options[{i}].label"), Some(o.label), 100)
            .unwrap_or_default();
        if label.is_empty() {
            p.add(format!("options[{i}].label"), "required");
        }
        let color = tags::check_color(p, &format!("options[{i}].color"), o.color)
            .unwrap_or_else(|| "gray".into());
        let mut value = match o.value {
            Some(v) if existing.iter().any(|e| e.value == v) => v,
            Some(v) => {
                let s = slug(&v);
                if s != v {
                    p.add(format!("options[{i}].value"), "use a-z, 0-9 and _");
                }
                s
            }
            None => slug(&label),
        };
        let base = value.clone();
        let mut n = 2;
        while out.iter().any(|x| x.value == value) {
            value = format!("{base}_{n}");
            n += 1;
        }
        if out.iter().any(|x| x.label.eq_ignore_ascii_case(&label)) {
            p.add(format!("options[{i}].label"), "two options have this label");
        }
        out.push(SelectOption {
            value,
            label,
            color,
        });
    }
    out
}

fn check_kind(p: &mut Problems, field: &str, k: Option<&str>) -> Option<&'static str> {
    match k.and_then(kind) {
        Some(k) => Some(k.name()),
        None => {
            let known: Vec<&str> = crate::record::kinds().iter().map(|k| k.name()).collect();
            p.add(field, format!("use one of {}", known.join(", ")));
            None
        }
    }
}

/// Checks a field's settings together; `p` collects every problem.
fn check_settings(p: &mut Problems, f: &CustomField) {
    if f.unique && !(f.ty.is_textual() || f.ty == FieldType::Number) {
        p.add(
            "unique",
            "only text, email, phone and number fields can be unique",
        );
    }
    if matches!(f.ty, FieldType::Select | FieldType::MultiSelect) && f.options.is_empty() {
        p.add("options", "a select field needs options");
    }
    if f.ty == FieldType::Record && f.target_kind.is_none() {
        p.add("target_kind", "a record field needs the kind it points to");
    }
    if let Some(d) = &f.default
        && let Err(problem) = values::clean(f, d, "US")
    {
        p.add("default", problem);
    }
}

/// Custom fields of every kind (or one), in order.
#[utoipa::path(get, path = "/fields", tag = "fields",
    params(("org" = String, Path, description = "organization slug"), FieldParams),
    responses((status = 200, body = Items<CustomField>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_fields(
    access: OrgAccess,
    Query(params): Query<FieldParams>,
) -> AppResult<Json<Items<CustomField>>> {
    let deleted = params.deleted.unwrap_or(false);
    let items = access
        .tenant
        .db
        .read(move |c| custom::all(c, params.kind.as_deref(), deleted))
        .await?;
    Ok(Json(Items { items }))
}

/// Add a custom field to a kind (admin+).
#[utoipa::path(post, path = "/fields", tag = "fields", request_body = FieldInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = CustomField), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_field(
    access: OrgAccess,
    Json(input): Json<FieldInput>,
) -> AppResult<(StatusCode, Json<CustomField>)> {
    access.require(Role::Admin)?;
    let mut p = Problems::new();
    let kind_name = check_kind(&mut p, "kind", input.kind.as_deref());
    let key = input.key.unwrap_or_default();
    check_key(&mut p, &key);
    let label = crate::values::text(&mut p, "label", input.label, 100);
    if label.is_none() {
        p.add("label", "required");
    }
    let ty = input.ty.unwrap_or_else(|| {
        p.add("type", "required");
        FieldType::Text
    });
    let target_kind = match (&input.target_kind, ty) {
        (Some(t), FieldType::Record) => {
            check_kind(&mut p, "target_kind", Some(t)).map(str::to_string)
        }
        (Some(_), _) => {
            p.add("target_kind", "only record fields point to a kind");
            None
        }
        _ => None,
    };
    let options = clean_options(&mut p, input.options.unwrap_or_default(), &[]);
    let draft = CustomField {
        id: String::new(),
        kind: kind_name.unwrap_or_default().to_string(),
        key: key.clone(),
        label: label.clone().unwrap_or_default(),
        ty,
        required: input.required.unwrap_or(false),
        unique: input.unique.unwrap_or(false),
        default: input.default.filter(|d| !d.is_null()),
        options,
        target_kind,
        position: 0,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
    };
    check_settings(&mut p, &draft);
    p.into_result()?;
    let table = kind(&draft.kind)
        .map(|k| k.table())
        .ok_or(AppError::NotFound)?;
    let actor = access.audit_actor();
    let field = access
        .tenant
        .write(move |tx| {
            let field = custom::insert(
                tx,
                table,
                NewField {
                    kind: draft.kind,
                    key: draft.key,
                    label: draft.label,
                    ty: draft.ty,
                    required: draft.required,
                    unique: draft.unique,
                    default: draft.default,
                    options: draft.options,
                    target_kind: draft.target_kind,
                    position: input.position,
                },
            )?;
            audit::record(
                tx,
                &audit::Entry::new(actor, "custom_field.created")
                    .target("custom_field", &field.id, &field_label(&field))
                    .after(serde_json::to_value(&field).unwrap_or_default()),
            )?;
            Ok(field)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(field)))
}

/// Change a field (admin+): label, required, unique, default, options,
/// position, or its type — refused unless every stored value converts.
#[utoipa::path(patch, path = "/fields/{id}", tag = "fields", request_body = FieldInput,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = CustomField), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn update_field(
    access: OrgAccess,
    Path(path): Path<IdPath>,
    Json(input): Json<FieldInput>,
) -> AppResult<Json<CustomField>> {
    access.require(Role::Admin)?;
    let region = access.org.default_country.clone();
    let actor = access.audit_actor();
    let field = access
        .tenant
        .write(move |tx| {
            let mut f = custom::get(tx, &path.id)?
                .filter(|f| f.deleted_at.is_none())
                .ok_or(AppError::NotFound)?;
            let was = f.clone();
            let table = kind(&f.kind).map(|k| k.table()).ok_or(AppError::NotFound)?;
            let mut p = Problems::new();
            if input.kind.as_deref().is_some_and(|k| k != f.kind) {
                p.add("kind", "a field's kind cannot change");
            }
            if input.key.as_deref().is_some_and(|k| k != f.key) {
                p.add("key", "a field's key cannot change");
            }
            let label_sent = input.label.is_some();
            match crate::values::text(&mut p, "label", input.label, 100) {
                Some(l) => f.label = l,
                None if label_sent => p.add("label", "required"),
                None => {}
            }
            let old = f.clone();
            f.ty = input.ty.unwrap_or(f.ty);
            f.required = input.required.unwrap_or(f.required);
            f.unique = input.unique.unwrap_or(f.unique);
            if let Some(d) = input.default {
                f.default = (!d.is_null()).then_some(d);
            }
            if let Some(pos) = input.position {
                f.position = pos;
            }
            if let Some(t) = input.target_kind {
                f.target_kind = check_kind(&mut p, "target_kind", Some(&t)).map(str::to_string);
            }
            if let Some(opts) = input.options {
                f.options = clean_options(&mut p, opts, &old.options);
            }
            check_settings(&mut p, &f);
            p.into_result()?;
            convert_values(
                tx,
                table,
                &old,
                &f,
                input.removed_options.as_deref(),
                &region,
            )?;
            custom::update(tx, &f)?;
            if old.ty != f.ty {
                custom::create_index(tx, table, &f)?;
            }
            let saved = custom::get(tx, &f.id)?.ok_or(AppError::NotFound)?;
            let (before, after) = audit::changed(
                &serde_json::to_value(&was).unwrap_or_default(),
                &serde_json::to_value(&saved).unwrap_or_default(),
            );
            audit::record(
                tx,
                &audit::Entry::new(actor, "custom_field.updated")
                    .target("custom_field", &saved.id, &field_label(&saved))
                    .before(before)
                    .after(after),
            )?;
            Ok(saved)
        })
        .await?;
    Ok(Json(field))
}

/// Re-checks every stored value against the field's new settings: a type
/// change converts them (or is refused), removed options in use need consent.
fn convert_values(
    tx: &rusqlite::Connection,
    table: &str,
    old: &CustomField,
    new: &CustomField,
    removed: Option<&str>,
    region: &str,
) -> AppResult<()> {
    let options_changed = old
        .options
        .iter()
        .any(|o| !new.options.iter().any(|n| n.value == o.value));
    if old.ty == new.ty && !options_changed {
        return Ok(());
    }
    let mut failed = 0;
    let mut in_use = 0;
    let mut updates = Vec::new();
    for (id, v) in custom::stored_values(tx, table, &old.key)? {
        let as_new = convert(old, new, &v, region);
        match as_new {
            Ok(nv) if nv.as_ref() == Some(&v) => {}
            Ok(nv) => updates.push((id, nv)),
            Err(_) if old.ty == new.ty => {
                in_use += 1;
                updates.push((id, strip_options(new, &v)));
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        return Err(AppError::field(
            "type",
            format!(
                "{failed} stored values cannot become {}; change or clear them first",
                new.ty.as_str()
            ),
        ));
    }
    if in_use > 0 && removed != Some("clear") {
        // The UI offers to clear them; an API client sends
        // `"removed_options": "clear"`.
        return Err(AppError::Conflict(format!(
            "{in_use} records use the options you removed. Clear those values to remove the options."
        )));
    }
    for (id, v) in updates {
        custom::set_value(tx, table, &id, &old.key, v.as_ref())?;
    }
    Ok(())
}

fn convert(
    old: &CustomField,
    new: &CustomField,
    v: &Value,
    region: &str,
) -> Result<Option<Value>, String> {
    if let Ok(c) = values::clean(new, v, region) {
        return Ok(c);
    }
    // Across types, through the value's text (a number becomes text, a
    // select becomes a one-value multi-select, …).
    let text = match (old.ty, v) {
        (FieldType::Money, Value::Object(o)) => {
            o.get("amount").map(|a| a.to_string()).unwrap_or_default()
        }
        (_, Value::String(s)) => s.clone(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Array(items)) if items.len() == 1 => {
            items[0].as_str().unwrap_or_default().to_string()
        }
        (_, other) => other.to_string(),
    };
    let candidate = if new.ty == FieldType::MultiSelect {
        Value::Array(vec![Value::String(text)])
    } else {
        Value::String(text)
    };
    values::clean(new, &candidate, region)
}

/// A select value without the options that no longer exist.
fn strip_options(f: &CustomField, v: &Value) -> Option<Value> {
    match v {
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter(|i| {
                    f.options
                        .iter()
                        .any(|o| Some(o.value.as_str()) == i.as_str())
                })
                .cloned()
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Delete a field (admin+): its values are hidden and kept 30 days.
#[utoipa::path(delete, path = "/fields/{id}", tag = "fields",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_field(access: OrgAccess, Path(path): Path<IdPath>) -> AppResult<StatusCode> {
    access.require(Role::Admin)?;
    let actor = access.audit_actor();
    access
        .tenant
        .write(move |tx| {
            let f = custom::get(tx, &path.id)?
                .filter(|f| f.deleted_at.is_none())
                .ok_or(AppError::NotFound)?;
            custom::set_deleted(tx, &path.id, true)?;
            audit::record(
                tx,
                &audit::Entry::new(actor, "custom_field.deleted").target(
                    "custom_field",
                    &f.id,
                    &field_label(&f),
                ),
            )?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a deleted field back with its values (admin+).
#[utoipa::path(post, path = "/fields/{id}/restore", tag = "fields",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = CustomField), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore_field(
    access: OrgAccess,
    Path(path): Path<IdPath>,
) -> AppResult<Json<CustomField>> {
    access.require(Role::Admin)?;
    let actor = access.audit_actor();
    let field = access
        .tenant
        .write(move |tx| {
            custom::get(tx, &path.id)?
                .filter(|f| f.deleted_at.is_some())
                .ok_or(AppError::NotFound)?;
            custom::set_deleted(tx, &path.id, false)?;
            let f = custom::get(tx, &path.id)?.ok_or(AppError::NotFound)?;
            audit::record(
                tx,
                &audit::Entry::new(actor, "custom_field.restored").target(
                    "custom_field",
                    &f.id,
                    &field_label(&f),
                ),
            )?;
            Ok(f)
        })
        .await?;
    Ok(Json(field))
}

/// How a field is named in the audit log: its kind, key and label.
fn field_label(f: &CustomField) -> String {
    format!("{}.{} ({})", f.kind, f.key, f.label)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_fields, create_field))
        .routes(routes!(update_field, delete_field))
        .routes(routes!(restore_field))
}
