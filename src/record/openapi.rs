//! The OpenAPI description of the routes every kind gets, built from the
//! kind's description: the same for every kind, so it cannot drift.

use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
    Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};

use crate::error::ErrorBody;
use crate::record::history::Change;
use crate::record::list::Count;
use crate::record::routes::{BulkTags, TagIds, Updated};
use crate::record::{Extras, RecordKind};

fn r(name: impl Into<String>) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn string() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// A string parameter that may not be empty.
fn text() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .into()
}

/// The schemas the kind's routes refer to.
pub fn schemas<K: RecordKind>() -> Vec<(String, RefOr<Schema>)> {
    let mut out = Vec::new();
    fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().to_string(), T::schema()));
        T::schemas(out);
    }
    add::<K::Record>(&mut out);
    add::<K::Input>(&mut out);
    add::<ErrorBody>(&mut out);
    add::<Change>(&mut out);
    add::<crate::record::routes::Timeline>(&mut out);
    add::<Count>(&mut out);
    add::<TagIds>(&mut out);
    add::<BulkTags>(&mut out);
    add::<crate::record::bulk::BulkAction>(&mut out);
    add::<crate::record::bulk::BulkDone>(&mut out);
    add::<Updated>(&mut out);
    add::<Extras>(&mut out);
    out
}

fn path_param(name: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(string()))
        .build()
}

fn query(name: &str, description: &str, schema: RefOr<Schema>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

/// An operation answering `ok` (status, body) and these error statuses.
fn op<K: RecordKind>(
    id: &str,
    summary: &str,
    params: Vec<Parameter>,
    body: Option<RefOr<Schema>>,
    ok: (&str, Option<RefOr<Schema>>),
    errors: &[&str],
) -> Operation {
    let mut b = OperationBuilder::new()
        .tag(K::PATH)
        .operation_id(Some(format!("{id}_{}", K::KIND)))
        .summary(Some(summary.to_string()))
        .parameters(Some(params));
    if let Some(schema) = body {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json(schema))
                .build(),
        ));
    }
    let mut ok_resp = ResponseBuilder::new().description("success");
    if let Some(schema) = ok.1 {
        ok_resp = ok_resp.content("application/json", json(schema));
    }
    b = b.response(ok.0, ok_resp.build());
    for status in errors {
        b = b.response(
            *status,
            ResponseBuilder::new()
                .description(describe(status))
                .content("application/json", json(r("ErrorBody")))
                .build(),
        );
    }
    b.build()
}

fn describe(status: &str) -> &'static str {
    match status {
        "400" => "malformed request",
        "401" => "not signed in",
        "403" => "role too low",
        "404" => "no such organization or record (or another organization's)",
        "413" => "body too large",
        "409" => {
            "the record, or one a new link names, is restricted by a privacy request (code `restricted`: read-only until an admin lifts it), or a unique value is taken"
        }
        "415" => "not JSON",
        "422" => "invalid input; `fields` names each problem",
        _ => "error",
    }
}

const READ: &[&str] = &["401", "404", "422"];
/// A write: a record restricted by a privacy request (the one written, or
/// one a new link names) refuses it with 409, as does a unique value taken.
const WRITE: &[&str] = &["400", "401", "403", "404", "409", "413", "415", "422"];
/// The same without a body.
const CHANGE_BARE: &[&str] = &["401", "403", "404", "409"];

fn page_of(record: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property("items", ArrayBuilder::new().items(r(record)))
        .required("items")
        .property(
            "next_cursor",
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ])),
        )
        .into()
}

/// The record body a create or PATCH takes: the kind's input plus custom values.
fn input<K: RecordKind>() -> RefOr<Schema> {
    utoipa::openapi::schema::AllOfBuilder::new()
        .item(r(K::Input::name()))
        .item(
            ObjectBuilder::new().property(
                "custom",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::Object,
                        Type::Null,
                    ]))
                    .description(Some("custom field values by key (null: none changed)")),
            ),
        )
        .into()
}

fn list_params<K: RecordKind>() -> Vec<Parameter> {
    let integer = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(200))
        .into();
    let mut p = vec![
        path_param("org"),
        query("limit", "page size, 1–200 (default 50)", integer),
        query("cursor", "`next_cursor` of the previous page", text()),
        query(
            "sort",
            "fields, comma-separated, `-` for descending (e.g. `-updated,name`, `custom.renewal`)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^-?[a-z][a-z0-9_.]*(,-?[a-z][a-z0-9_.]*){0,2}$"))
                .into(),
        ),
        query(
            "q",
            "prefix of a name (or email, domain); at most 200 characters",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(200))
                .into(),
        ),
        query(
            "filter",
            "JSON filter: `and`/`or` groups of `{field, op, value}` (docs/api.md)",
            text(),
        ),
        query(
            "updated_since",
            "only records changed at or after this RFC 3339 time",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::DateTime,
                )))
                .into(),
        ),
    ];
    for b in K::fields() {
        if let Some(name) = b.param {
            let schema: RefOr<Schema> = if b.options.is_empty() {
                text()
            } else {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(b.options.iter().copied()))
                    .into()
            };
            p.push(query(name, b.label, schema));
        }
    }
    for name in K::SHORTCUTS {
        p.push(query(
            name,
            "the kind's own list shortcut (docs/api.md)",
            text(),
        ));
    }
    p
}

fn item(path: &str, ops: Vec<(HttpMethod, Operation)>) -> Paths {
    let mut item: Option<PathItem> = None;
    for (m, o) in ops {
        let next = PathItem::new(m, o);
        match &mut item {
            Some(i) => i.merge_operations(next),
            None => item = Some(next),
        }
    }
    let mut paths = Paths::new();
    if let Some(i) = item {
        paths.paths.insert(path.to_string(), i);
    }
    paths
}

fn record<K: RecordKind>() -> RefOr<Schema> {
    r(K::Record::name())
}

pub fn collection<K: RecordKind>(path: &str) -> Paths {
    item(
        path,
        vec![
            (
                HttpMethod::Get,
                op::<K>(
                    "list",
                    &format!(
                        "List {}: keyset-paged, filtered, sorted",
                        K::LABEL_PLURAL.to_lowercase()
                    ),
                    list_params::<K>(),
                    None,
                    ("200", Some(page_of(&K::Record::name()))),
                    READ,
                ),
            ),
            (
                HttpMethod::Post,
                op::<K>(
                    "create",
                    &format!("Create a {} (member+)", K::LABEL.to_lowercase()),
                    vec![path_param("org")],
                    Some(input::<K>()),
                    ("201", Some(record::<K>())),
                    WRITE,
                ),
            ),
        ],
    )
}

pub fn count<K: RecordKind>(base: &str) -> Paths {
    item(
        &format!("{base}/count"),
        vec![(
            HttpMethod::Get,
            op::<K>(
                "count",
                "How many match the same parameters as the list",
                list_params::<K>(),
                None,
                ("200", Some(r("Count"))),
                READ,
            ),
        )],
    )
}

pub fn export<K: RecordKind>(base: &str) -> Paths {
    let mut params: Vec<Parameter> = list_params::<K>()
        .into_iter()
        .filter(|p| p.name != "limit" && p.name != "cursor")
        .collect();
    let formats: Vec<&str> = crate::record::export::Format::ALL
        .into_iter()
        .filter(|f| *f != "vcf" || K::VCARD)
        .collect();
    params.push(query(
        "format",
        "csv (default), ndjson, xlsx, or vcf (contacts)",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(formats))
            .into(),
    ));
    params.push(query(
        "view",
        "a saved view's id: its filter and sort apply too",
        text(),
    ));
    let mut o = op::<K>(
        "export",
        "The whole list as a file (member+): the list's search, filters and sort; streamed",
        params,
        None,
        ("200", None),
        &["401", "403", "404", "422"],
    );
    let binary: RefOr<Schema> = ObjectBuilder::new().schema_type(Type::String).into();
    let mut ok = ResponseBuilder::new().description("the file, as an attachment");
    for t in [
        "text/csv",
        "application/x-ndjson",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/vcard",
    ] {
        ok = ok.content(t, json(binary.clone()));
    }
    o.responses
        .responses
        .insert("200".into(), ok.build().into());
    item(&format!("{base}/export"), vec![(HttpMethod::Get, o)])
}

fn id_params() -> Vec<Parameter> {
    vec![path_param("org"), path_param("id")]
}

pub fn one<K: RecordKind>(path: &str) -> Paths {
    item(
        path,
        vec![
            (
                HttpMethod::Get,
                op::<K>(
                    "get",
                    &format!("One {}", K::LABEL.to_lowercase()),
                    id_params(),
                    None,
                    ("200", Some(record::<K>())),
                    &["401", "404"],
                ),
            ),
            (
                HttpMethod::Patch,
                op::<K>(
                    "update",
                    "Change some fields (member+): fields sent replace, null clears; `custom` merges per key",
                    id_params(),
                    Some(input::<K>()),
                    ("200", Some(record::<K>())),
                    WRITE,
                ),
            ),
            (
                HttpMethod::Delete,
                op::<K>(
                    "delete",
                    "Move to the trash (member+); restorable for 30 days",
                    id_params(),
                    None,
                    ("204", None),
                    CHANGE_BARE,
                ),
            ),
        ],
    )
}

pub fn restore<K: RecordKind>(one: &str) -> Paths {
    item(
        &format!("{one}/restore"),
        vec![(
            HttpMethod::Post,
            op::<K>(
                "restore",
                "Bring back from the trash (member+)",
                id_params(),
                None,
                ("200", Some(record::<K>())),
                CHANGE_BARE,
            ),
        )],
    )
}

pub fn history<K: RecordKind>(one: &str) -> Paths {
    let mut params = id_params();
    params.push(query(
        "limit",
        "entries per page, 1–200 (default 50)",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(200))
            .into(),
    ));
    params.push(query(
        "cursor",
        "`next_cursor` of the previous page",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{1,18}$"))
            .into(),
    ));
    item(
        &format!("{one}/history"),
        vec![(
            HttpMethod::Get,
            op::<K>(
                "history",
                "What changed, newest first",
                params,
                None,
                ("200", Some(page_of("Change"))),
                READ,
            ),
        )],
    )
}

pub fn timeline<K: RecordKind>(one: &str) -> Paths {
    let mut params = id_params();
    params.push(query(
        "limit",
        "entries per page, 1–200 (default 50)",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(200))
            .into(),
    ));
    params.push(query(
        "cursor",
        "`next_cursor` of the previous page",
        text(),
    ));
    params.push(query(
        "types",
        "comma-separated groups: changes, notes, tasks, activities, … (default all)",
        text(),
    ));
    params.push(query(
        "include",
        "`related`: entries of related records too (a company's contacts)",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["related"]))
            .into(),
    ));
    item(
        &format!("{one}/timeline"),
        vec![(
            HttpMethod::Get,
            op::<K>(
                "timeline",
                "History, notes, tasks and activities, newest first",
                params,
                None,
                ("200", Some(r("Timeline"))),
                READ,
            ),
        )],
    )
}

pub fn tags<K: RecordKind>(one: &str) -> Paths {
    item(
        &format!("{one}/tags"),
        vec![(
            HttpMethod::Post,
            op::<K>(
                "tag",
                "Add tags (member+)",
                id_params(),
                Some(r("TagIds")),
                ("200", Some(record::<K>())),
                WRITE,
            ),
        )],
    )
}

pub fn untag<K: RecordKind>(one: &str) -> Paths {
    let mut params = id_params();
    params.push(path_param("tag_id"));
    item(
        &format!("{one}/tags/{{tag_id}}"),
        vec![(
            HttpMethod::Delete,
            op::<K>(
                "untag",
                "Remove a tag (member+)",
                params,
                None,
                ("200", Some(record::<K>())),
                CHANGE_BARE,
            ),
        )],
    )
}

pub fn bulk_tags<K: RecordKind>(base: &str) -> Paths {
    item(
        &format!("{base}/bulk/tags"),
        vec![(
            HttpMethod::Post,
            op::<K>(
                "bulk_tag",
                "Add and remove tags on many records (member+)",
                vec![path_param("org")],
                Some(r("BulkTags")),
                ("200", Some(r("Updated"))),
                WRITE,
            ),
        )],
    )
}

pub fn bulk<K: RecordKind>(base: &str) -> Paths {
    item(
        &format!("{base}/bulk"),
        vec![(
            HttpMethod::Post,
            op::<K>(
                "bulk",
                "Change, tag or delete many records at once — by id, or every record a list's parameters match (member+)",
                vec![path_param("org")],
                Some(r("BulkAction")),
                ("200", Some(r("BulkDone"))),
                WRITE,
            ),
        )],
    )
}
