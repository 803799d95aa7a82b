//! `GET /schema`: every kind with its built-in and custom fields — what the
//! UI builds its forms, columns and filters from.

use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppResult, ErrorBody, Json};
use crate::platform::access::OrgAccess;
use crate::record::custom::{self, CustomField};
use crate::record::{FieldType, kinds};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct BuiltinField {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub filterable: bool,
    pub sortable: bool,
    pub options: Vec<String>,
    pub target_kind: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KindSchema {
    /// `contact`, `company`, …
    pub kind: String,
    /// Its routes: `/api/v1/orgs/{org}/<path>`.
    pub path: String,
    pub label: String,
    pub label_plural: String,
    pub fields: Vec<BuiltinField>,
    pub custom_fields: Vec<CustomField>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Schema {
    pub kinds: Vec<KindSchema>,
}

/// Every kind of record, its built-in fields and its custom fields.
#[utoipa::path(get, path = "/schema", tag = "fields",
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = Schema), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn schema(access: OrgAccess) -> AppResult<Json<Schema>> {
    let custom = access
        .tenant
        .db
        .read(|c| custom::all(c, None, false))
        .await?;
    let kinds = kinds()
        .iter()
        .map(|k| KindSchema {
            kind: k.name().into(),
            path: k.path().into(),
            label: k.label().into(),
            label_plural: k.label_plural().into(),
            fields: k
                .fields()
                .iter()
                .map(|b| BuiltinField {
                    key: b.key.into(),
                    label: b.label.into(),
                    ty: b.ty,
                    filterable: b.sql.is_some(),
                    sortable: b.sql.is_some() && b.sortable,
                    options: b.options.iter().map(|o| o.to_string()).collect(),
                    target_kind: b.target.map(str::to_string),
                })
                .collect(),
            custom_fields: custom
                .iter()
                .filter(|f| f.kind == k.name())
                .cloned()
                .collect(),
        })
        .collect();
    Ok(Json(Schema { kinds }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schema))
}
