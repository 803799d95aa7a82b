//! Contacts: the people a business works with.

use axum::extract::State;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::roles::Role;
use crate::clock;
use crate::crm::list::{self, Count, Filter, Page, Sort};
use crate::error::{AppError, AppResult, ErrorBody, Json, Path, Problems, Query};
use crate::platform::access::OrgAccess;
use crate::search::{SearchDoc, TableSource};
use crate::state::AppState;
use crate::values::{self, Address, LabeledEmail, LabeledPhone};

#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Lead,
    Prospect,
    Customer,
    FormerCustomer,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Prospect => "prospect",
            Stage::Customer => "customer",
            Stage::FormerCustomer => "former_customer",
        }
    }
    fn parse(s: &str) -> Stage {
        match s {
            "prospect" => Stage::Prospect,
            "customer" => Stage::Customer,
            "former_customer" => Stage::FormerCustomer,
            _ => Stage::Lead,
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CompanyRef {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    /// Display name (read-only): first and last name, or the first email.
    pub name: String,
    pub emails: Vec<LabeledEmail>,
    pub phones: Vec<LabeledPhone>,
    pub job_title: Option<String>,
    pub company_id: Option<String>,
    /// The linked company (read-only).
    pub company: Option<CompanyRef>,
    pub address: Option<Address>,
    pub owner_id: Option<String>,
    pub stage: Stage,
    pub source: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub updated_by: String,
}

/// What a client sends to create a contact, or (partially) to change one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub emails: Option<Vec<LabeledEmail>>,
    #[serde(default)]
    pub phones: Option<Vec<LabeledPhone>>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// lead (default), prospect, customer or former_customer.
    #[serde(default)]
    pub stage: Option<Stage>,
    /// Where the contact came from (free text, e.g. "web form", "referral").
    #[serde(default)]
    pub source: Option<String>,
}

/// Fields of the response that a PATCH may carry back but cannot change.
const READ_ONLY: &[&str] = &[
    "id",
    "name",
    "company",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
];

pub(crate) struct Clean {
    first_name: String,
    last_name: String,
    emails: Vec<LabeledEmail>,
    phones: Vec<LabeledPhone>,
    job_title: Option<String>,
    company_id: Option<String>,
    address: Option<Address>,
    owner_id: Option<String>,
    stage: Stage,
    source: Option<String>,
}

impl ContactInput {
    fn validate(self, region: &str) -> AppResult<Clean> {
        let mut p = Problems::new();
        let first_name =
            values::text(&mut p, "first_name", self.first_name, 100).unwrap_or_default();
        let last_name = values::text(&mut p, "last_name", self.last_name, 100).unwrap_or_default();
        let emails = values::emails(&mut p, "emails", self.emails.unwrap_or_default());
        let phones = values::phones(&mut p, "phones", self.phones.unwrap_or_default(), region);
        if first_name.is_empty() && last_name.is_empty() && emails.is_empty() {
            p.add("first_name", "give a name or an email address");
        }
        let clean = Clean {
            first_name,
            last_name,
            emails,
            phones,
            job_title: values::text(&mut p, "job_title", self.job_title, 200),
            company_id: values::text(&mut p, "company_id", self.company_id, 64),
            address: values::address(&mut p, "address", self.address),
            owner_id: values::text(&mut p, "owner_id", self.owner_id, 64),
            stage: self.stage.unwrap_or_default(),
            source: values::text(&mut p, "source", self.source, 100),
        };
        p.into_result()?;
        Ok(clean)
    }
}

impl Contact {
    fn as_input(&self) -> ContactInput {
        ContactInput {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            emails: Some(self.emails.clone()),
            phones: Some(self.phones.clone()),
            job_title: self.job_title.clone(),
            company_id: self.company_id.clone(),
            address: self.address.clone(),
            owner_id: self.owner_id.clone(),
            stage: Some(self.stage),
            source: self.source.clone(),
        }
    }
}

fn display_name(first: &str, last: &str, emails: &[LabeledEmail]) -> String {
    let full = format!("{first} {last}").trim().to_string();
    if full.is_empty() {
        emails.first().map(|e| e.email.clone()).unwrap_or_default()
    } else {
        full
    }
}

const COLUMNS: &str = "t.id, t.first_name, t.last_name, t.emails, t.phones, t.job_title,
    t.company_id, co.name, t.address, t.owner_id, t.stage, t.source,
    t.created_at, t.updated_at, t.created_by, t.updated_by";
const FROM: &str =
    "contacts t LEFT JOIN companies co ON co.id = t.company_id AND co.deleted_at IS NULL";
const SELECT_COLUMNS: usize = 16;

fn json_col<T: serde::de::DeserializeOwned>(r: &rusqlite::Row, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    serde_json::from_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Contact> {
    let first_name: String = r.get(1)?;
    let last_name: String = r.get(2)?;
    let emails: Vec<LabeledEmail> = json_col(r, 3)?;
    let company_id: Option<String> = r.get(6)?;
    let company_name: Option<String> = r.get(7)?;
    let address: Option<String> = r.get(8)?;
    let stage: String = r.get(10)?;
    Ok(Contact {
        id: r.get(0)?,
        name: display_name(&first_name, &last_name, &emails),
        first_name,
        last_name,
        emails,
        phones: json_col(r, 4)?,
        job_title: r.get(5)?,
        company: match (&company_id, company_name) {
            (Some(id), Some(name)) => Some(CompanyRef {
                id: id.clone(),
                name,
            }),
            _ => None,
        },
        company_id,
        address: address.and_then(|a| serde_json::from_str(&a).ok()),
        owner_id: r.get(9)?,
        stage: Stage::parse(&stage),
        source: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        created_by: r.get(14)?,
        updated_by: r.get(15)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> AppResult<Option<Contact>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE t.id = ?1 AND t.deleted_at IS NULL"
        ))?
        .query_row([id], from_row)
        .optional()?)
}

fn check_company(conn: &Connection, company_id: Option<&str>) -> AppResult<()> {
    if let Some(cid) = company_id {
        let exists: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM companies WHERE id = ?1 AND deleted_at IS NULL)",
            )?
            .query_row([cid], |r| r.get(0))?;
        if !exists {
            return Err(AppError::field("company_id", "no such company"));
        }
    }
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.into()))
}

/// Validates and inserts a contact stamped with time `at` (for importers
/// and the demo generator: the same rules as the API, in the caller's
/// transaction). The owner is not checked against the members.
pub fn insert_at(
    conn: &Connection,
    input: ContactInput,
    region: &str,
    actor: &str,
    at: &str,
) -> AppResult<String> {
    let clean = input.validate(region)?;
    let id = clock::new_id();
    save(conn, &id, &clean, actor, false, at)?;
    Ok(id)
}

/// Inserts or (with `existing`) replaces a contact's fields.
fn save(
    conn: &Connection,
    id: &str,
    c: &Clean,
    actor: &str,
    existing: bool,
    now: &str,
) -> AppResult<()> {
    check_company(conn, c.company_id.as_deref())?;
    let sort_name = format!("{} {}", c.first_name, c.last_name)
        .trim()
        .to_lowercase();
    let sort_name = if sort_name.is_empty() {
        c.emails
            .first()
            .map(|e| e.email.to_lowercase())
            .unwrap_or_default()
    } else {
        sort_name
    };
    let emails = to_json(&c.emails)?;
    let phones = to_json(&c.phones)?;
    let address = c.address.as_ref().map(to_json).transpose()?;
    let values = params![
        id,
        c.first_name,
        c.last_name,
        sort_name,
        c.last_name.to_lowercase(),
        emails,
        phones,
        c.job_title,
        c.company_id,
        address,
        c.owner_id,
        c.stage.as_str(),
        c.source,
        now,
        actor
    ];
    if existing {
        conn.prepare_cached(
            "UPDATE contacts SET first_name = ?2, last_name = ?3, sort_name = ?4, last_key = ?5,
               emails = ?6, phones = ?7, job_title = ?8, company_id = ?9, address = ?10,
               owner_id = ?11, stage = ?12, source = ?13, updated_at = ?14, updated_by = ?15
             WHERE id = ?1 AND deleted_at IS NULL",
        )?
        .execute(values)?;
        conn.prepare_cached("DELETE FROM contact_emails WHERE contact_id = ?1")?
            .execute([id])?;
    } else {
        conn.prepare_cached(
            "INSERT INTO contacts (id, first_name, last_name, sort_name, last_key, emails, phones,
               job_title, company_id, address, owner_id, stage, source,
               created_at, updated_at, created_by, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?15)",
        )?
        .execute(values)?;
    }
    crate::search::enqueue(conn, "contact", id)?;
    let mut add_email = conn.prepare_cached(
        "INSERT OR IGNORE INTO contact_emails (email, contact_id) VALUES (?1, ?2)",
    )?;
    for e in &c.emails {
        add_email.execute(params![e.email.to_lowercase(), id])?;
    }
    Ok(())
}

/// Contacts in search: found by name, email, phone, job title, company, city.
pub static SEARCH: TableSource<Contact> = TableSource {
    kind: "contact",
    columns: COLUMNS,
    from: FROM,
    row: from_row,
    doc: search_doc,
};

fn search_doc(c: Contact) -> SearchDoc {
    let company = c.company.map(|co| co.name);
    let emails: Vec<String> = c.emails.into_iter().map(|e| e.email).collect();
    let phones: Vec<String> = c.phones.into_iter().map(|p| p.phone).collect();
    let subtitle = [c.job_title.clone(), company.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let subtitle = if subtitle.is_empty() {
        emails.first().cloned().unwrap_or_default()
    } else {
        subtitle
    };
    let mut texts = vec![c.first_name, c.last_name];
    texts.extend(c.job_title.clone());
    texts.extend(company.clone());
    texts.extend(emails.iter().cloned());
    texts.extend(c.source);
    if let Some(a) = c.address {
        texts.extend([a.city, a.region, a.country].into_iter().flatten());
    }
    let mut snippets = emails;
    snippets.extend(phones.iter().cloned());
    snippets.extend(c.job_title);
    snippets.extend(company);
    SearchDoc {
        kind: "contact",
        id: c.id,
        title: c.name,
        subtitle,
        texts,
        phones,
        snippets,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    /// Page size, 1–200 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// name, created or updated; prefix - for descending (default name).
    pub sort: Option<String>,
    /// Prefix of the first name, last name, full name or an email address.
    pub q: Option<String>,
    /// Company id.
    pub company: Option<String>,
    /// Owner's user id.
    pub owner: Option<String>,
    pub stage: Option<Stage>,
    /// Only contacts changed at or after this RFC 3339 time.
    pub updated_since: Option<String>,
}

impl ContactFilter {
    fn to_filter(&self) -> AppResult<Filter> {
        let mut f = Filter::new();
        f.prefix(
            self.q.clone(),
            "t.sort_name >= {lo} AND t.sort_name < {hi}
             OR t.last_key >= {lo} AND t.last_key < {hi}
             OR t.id IN (SELECT contact_id FROM contact_emails WHERE email >= {lo} AND email < {hi})",
        );
        f.eq("company_id", self.company.clone());
        f.eq("owner_id", self.owner.clone());
        f.eq("stage", self.stage.map(|s| s.as_str().to_string()));
        f.updated_since(self.updated_since.clone())?;
        Ok(f)
    }
}

pub async fn list_page(access: &OrgAccess, filter: ContactFilter) -> AppResult<Page<Contact>> {
    let sort = Sort::parse(filter.sort.as_deref())?;
    let limit = list::limit(filter.limit)?;
    let f = filter.to_filter()?;
    access
        .tenant
        .db
        .read(move |c| {
            f.page(
                c,
                (COLUMNS, FROM),
                SELECT_COLUMNS,
                sort,
                filter.cursor.as_deref(),
                limit,
                from_row,
            )
        })
        .await
}

/// List contacts, keyset-paged, sorted and filtered.
#[utoipa::path(get, path = "/contacts", tag = "contacts",
    params(("org" = String, Path, description = "organization slug"), ContactFilter),
    responses((status = 200, body = Page<Contact>), (status = 422, body = ErrorBody)))]
async fn list_contacts(
    access: OrgAccess,
    Query(filter): Query<ContactFilter>,
) -> AppResult<Json<Page<Contact>>> {
    Ok(Json(list_page(&access, filter).await?))
}

/// How many contacts match the same filters as the list.
#[utoipa::path(get, path = "/contacts/count", tag = "contacts",
    params(("org" = String, Path, description = "organization slug"), ContactFilter),
    responses((status = 200, body = Count), (status = 422, body = ErrorBody)))]
async fn count_contacts(
    access: OrgAccess,
    Query(filter): Query<ContactFilter>,
) -> AppResult<Json<Count>> {
    let f = filter.to_filter()?;
    let count = access
        .tenant
        .db
        .read(move |c| f.count(c, "contacts"))
        .await?;
    Ok(Json(Count { count }))
}

/// Create a contact (member+).
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = ContactInput,
    params(("org" = String, Path, description = "organization slug")),
    responses((status = 201, body = Contact), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    access: OrgAccess,
    Json(input): Json<ContactInput>,
) -> AppResult<(StatusCode, Json<Contact>)> {
    access.require(Role::Member)?;
    let region = access.org.default_country.clone();
    let clean = crate::db::off_runtime(move || input.validate(&region)).await?;
    crate::crm::check_owner(&state, &access.org.id, clean.owner_id.as_deref()).await?;
    let actor = access.actor().stamp();
    let contact = access
        .tenant
        .write(move |tx| {
            let id = clock::new_id();
            save(tx, &id, &clean, &actor, false, &clock::now_stamp())?;
            get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(contact)))
}

/// One contact.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody)))]
async fn get_contact(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<Json<Contact>> {
    let id = path.id;
    let contact = access.tenant.db.read(move |c| get(c, &id)).await?;
    contact.map(Json).ok_or(AppError::NotFound)
}

/// Change some fields of a contact (member+): fields sent replace, null clears.
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", request_body = ContactInput,
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Contact), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_contact(
    State(state): State<AppState>,
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
    Json(patch): Json<serde_json::Value>,
) -> AppResult<Json<Contact>> {
    access.require(Role::Member)?;
    let contact = crate::crm::patch::apply::<Contact>(&state, &access, path.id, patch).await?;
    Ok(Json(contact))
}

impl crate::crm::patch::Patchable for Contact {
    type Input = ContactInput;
    type Clean = Clean;
    const READ_ONLY: &'static [&'static str] = READ_ONLY;

    fn load(conn: &Connection, id: &str) -> AppResult<Option<Self>> {
        get(conn, id)
    }
    fn to_input(&self) -> ContactInput {
        self.as_input()
    }
    fn version(&self) -> &str {
        &self.updated_at
    }
    fn owner(&self) -> Option<&str> {
        self.owner_id.as_deref()
    }
    fn validate(input: ContactInput, region: &str) -> AppResult<Clean> {
        input.validate(region)
    }
    fn clean_owner(clean: &Clean) -> Option<&str> {
        clean.owner_id.as_deref()
    }
    fn save(conn: &Connection, id: &str, clean: &Clean, actor: &str, now: &str) -> AppResult<()> {
        save(conn, id, clean, actor, true, now)
    }
}

/// Move a contact to the trash (member+); restorable for 30 days.
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_contact(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<StatusCode> {
    let id = path.id;
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    access
        .tenant
        .write(move |tx| crate::crm::trash(tx, "contacts", &id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a contact back from the trash (member+).
#[utoipa::path(post, path = "/contacts/{id}/restore", tag = "contacts",
    params(("org" = String, Path, description = "organization slug"), ("id" = String, Path)),
    responses((status = 200, body = Contact), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn restore_contact(
    access: OrgAccess,
    Path(path): Path<crate::paths::IdPath>,
) -> AppResult<Json<Contact>> {
    let id = path.id;
    access.require(Role::Member)?;
    let actor = access.actor().stamp();
    let contact = access
        .tenant
        .write(move |tx| {
            crate::crm::restore(tx, "contacts", &id, &actor)?;
            get(tx, &id)?.ok_or(AppError::NotFound)
        })
        .await?;
    Ok(Json(contact))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(count_contacts))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(restore_contact))
}
